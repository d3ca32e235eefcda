"""Buckets in, buckets out, for each cloud: source prefix -> one job -> outputs in the destination bucket."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from airflow_provider_mathpix.testing.storage_servers import StorageServer, list_keys, put_objects

from .support import register


def test_prefix_to_outputs(
    storage_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
    sample_pdf: bytes,
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
    from airflow_provider_mathpix.operators.outputs import MathpixDownloadOutputsOperator
    from tests.system.support import run_dag, task_states, xcom

    src = make_bucket(storage_server, "src")
    out = make_bucket(storage_server, "out")
    put_objects(storage_server, src, {f"contracts/c-{i}.pdf": sample_pdf for i in range(3)})
    put_objects(storage_server, src, {"contracts/readme.txt": b"not a pdf"})
    register(storage_server, src, out)

    with DAG(f"bucket_pipeline_{storage_server.kind}", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        submit = MathpixSubmitJobOperator(
            task_id="submit",
            source_prefix=storage_server.uri(src, "contracts"),
            suffixes=[".pdf"],
            destination_prefix=storage_server.uri(out, "processed/2026-05"),
            conversion_formats={"md": True},
            check_data_sources=True,
            poll_interval=0.2,
            timeout=120,
        )
        download = MathpixDownloadOutputsOperator(
            task_id="download",
            job_id="{{ ti.xcom_pull(task_ids='submit')['job_id'] }}",
            formats=["md", "mmd"],
            destination=storage_server.uri(out, "copies"),
            format_poll_interval=0.1,
        )
        submit >> download
    run = run_dag(dag)

    assert task_states(run) == {"submit": "success", "download": "success"}
    job = xcom(run, "submit")
    assert job["file_count"] == 3 and job["files_completed"] == 3
    keys = set(list_keys(storage_server, out))
    for i in range(3):
        cid = f"c-{i}.pdf"
        # Mathpix wrote <destination_prefix>/<custom_id>/<basename>.<ext> into the bucket.
        assert any(k.startswith(f"processed/2026-05/{cid}/") and k.endswith(".md") for k in keys), keys
        assert any(k.startswith(f"processed/2026-05/{cid}/") and k.endswith(".mmd") for k in keys), keys
        assert f"copies/{cid}.md" in keys and f"copies/{cid}.mmd" in keys
    result = xcom(run, "download")
    assert result["files"] == 3 and result["outputs_written"] == 6 and result["outputs_failed"] == 0


def test_unregistered_bucket_fails_before_submitting(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
    sample_pdf: bytes,
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
    from tests.system.support import run_dag, task_states

    src = make_bucket(s3_server, "unreg")
    put_objects(s3_server, src, {"in/a.pdf": sample_pdf})
    with DAG("bucket_unregistered", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        MathpixSubmitJobOperator(
            task_id="submit",
            source_prefix=s3_server.uri(src, "in"),
            check_data_sources=True,
            poll_interval=0.2,
        )
    run = run_dag(dag)

    assert task_states(run) == {"submit": "failed"}
    stats = bucket_emulator.stats()
    assert stats["jobs_created"] == 0 and stats["files_created"] == 0


def test_to_object_storage_path_forms(
    storage_env: Callable[[StorageServer], None], s3_server: StorageServer
) -> None:
    from airflow_provider_mathpix.storage import to_object_storage_path

    storage_env(s3_server)
    s3 = to_object_storage_path("s3://b/out/")
    assert (s3.protocol, s3.bucket, s3.key, s3.conn_id) == ("s3", "b", "out", "aws_default")
    named = to_object_storage_path("s3://b/out", conn_id="other")
    assert named.conn_id == "other"
    azure = to_object_storage_path("https://acct.blob.core.windows.net/cont/x/y")
    assert (azure.protocol, azure.bucket, azure.key, azure.conn_id) == ("abfs", "cont", "x/y", "wasb_default")
    local = to_object_storage_path("/tmp/somewhere")
    assert local.protocol in ("", "file", "local")
