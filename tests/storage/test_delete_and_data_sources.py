"""Retention (MathpixDeleteFilesOperator) and data-source operators, in real DAG runs against the emulator."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.operators.data_sources import (
    MathpixCreateDataSourceOperator,
    MathpixDeleteDataSourceOperator,
    MathpixTestDataSourceOperator,
)
from airflow_provider_mathpix.operators.outputs import MathpixDeleteFilesOperator
from airflow_provider_mathpix.prefix_walk import iter_source_items
from airflow_provider_mathpix.testing.storage_servers import StorageServer, put_objects

from .support import data_source_args, one_task_dag, register, submit_and_wait


def _run(dag_id: str, factory: Callable[[], Any]) -> Any:
    from tests.system.support import run_dag

    return run_dag(one_task_dag(dag_id, factory))


# ---------------------------------------------------------------------- delete


def test_delete_a_jobs_files(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    sample_pdf: bytes,
    airflow_db: None,
) -> None:
    from tests.system.support import task_states, xcom

    src = make_bucket(s3_server, "del")
    put_objects(s3_server, src, {f"in/{i}.pdf": sample_pdf for i in range(3)})
    register(s3_server, src)
    job = submit_and_wait(s3_server.uri(src, "in"), job_id=f"del-{uuid.uuid4().hex[:8]}")
    file_ids = [f["file_id"] for f in MathpixHook().iter_job_files(job["job_id"])]

    run = _run("delete_job", lambda: MathpixDeleteFilesOperator(task_id="delete", job_id=job["job_id"]))
    assert task_states(run) == {"delete": "success"}
    assert xcom(run, "delete") == {
        "requested": 3,
        "deleted": 3,
        "conflicts": 0,
        "conflict_sample": [],
        "failed": 0,
        "errors_sample": [],
    }
    # Gone from Mathpix storage: the outputs can no longer be downloaded; the source bucket is untouched.
    for file_id in file_ids:
        with pytest.raises(MathpixAPIError):
            MathpixHook().download_output(file_id, "mmd")
    assert bucket_emulator.stats()["files_deleted"] == 3
    # Deleting again is a success (idempotent retention step).
    again = _run("delete_again", lambda: MathpixDeleteFilesOperator(task_id="delete", file_ids=file_ids))
    assert xcom(again, "delete")["deleted"] == 3


def test_still_processing_files_are_reported_not_fatal(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    mathpix_emulator_factory: Callable[..., Any],
    sample_pdf: bytes,
    airflow_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_mathpix.testing.storage_servers import merged_bucket_store_config
    from tests.system.support import connection_uri_env, task_states, xcom

    slow = mathpix_emulator_factory(storage=merged_bucket_store_config({"s3": s3_server}), time_per_file=600)
    for key, value in connection_uri_env(slow.url).items():
        monkeypatch.setenv(key, value)
    src = make_bucket(s3_server, "busy")
    put_objects(s3_server, src, {f"in/{i}.pdf": sample_pdf for i in range(2)})
    register(s3_server, src)
    items = iter_source_items(s3_server.uri(src, "in"))
    job_id = MathpixHook().submit_job(items, job_id="busy-job")["job_id"]

    lenient = _run("delete_busy", lambda: MathpixDeleteFilesOperator(task_id="delete", job_id=job_id))
    assert task_states(lenient) == {"delete": "success"}
    result = xcom(lenient, "delete")
    assert (result["deleted"], result["conflicts"], len(result["conflict_sample"])) == (0, 2, 2)

    strict = _run(
        "delete_busy_strict",
        lambda: MathpixDeleteFilesOperator(task_id="delete", job_id=job_id, fail_on_conflict=True),
    )
    assert task_states(strict) == {"delete": "failed"}


def test_delete_needs_exactly_one_selection() -> None:
    with pytest.raises(MathpixValidationError, match="exactly one of job_id or file_ids"):
        MathpixDeleteFilesOperator(task_id="d")


# ---------------------------------------------------------------------- data sources


def test_create_is_idempotent_then_test_then_delete(
    storage_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
) -> None:
    from tests.system.support import task_states, xcom

    bucket = make_bucket(storage_server, "ds")
    args = data_source_args(storage_server, bucket)
    kind = storage_server.kind

    def create() -> Any:
        return MathpixCreateDataSourceOperator(task_id="create", **args)

    first = xcom(_run(f"ds_create_{kind}", create), "create")
    second = xcom(_run(f"ds_create_{kind}", create), "create")
    assert first["created"] is True and second["created"] is False
    assert first["data_source_id"] == second["data_source_id"]
    assert len(MathpixHook().list_data_sources()) == 1

    probe = _run(
        f"ds_test_{kind}",
        lambda: MathpixTestDataSourceOperator(task_id="test", provider=args["provider"], bucket=bucket),
    )
    assert task_states(probe) == {"test": "success"}
    assert xcom(probe, "test")["result"] == "ok"

    removed = _run(
        f"ds_delete_{kind}",
        lambda: MathpixDeleteDataSourceOperator(task_id="delete", data_source_id=first["data_source_id"]),
    )
    assert xcom(removed, "delete")["status"] == "deleted"
    assert MathpixHook().list_data_sources() == []
    again = _run(
        f"ds_delete_again_{kind}",
        lambda: MathpixDeleteDataSourceOperator(task_id="delete", provider=args["provider"], bucket=bucket),
    )
    assert xcom(again, "delete") == {"data_source_id": None, "status": "absent"}


def test_failed_probe_fails_the_task_with_the_api_message(
    s3_server: StorageServer, bucket_emulator: Any, airflow_db: None
) -> None:
    from tests.system.support import task_states

    missing = f"never-created-{uuid.uuid4().hex[:8]}"  # registered, but no such bucket exists
    (ds_id,) = register(s3_server, missing)
    expected = MathpixHook().test_data_source(ds_id)
    assert expected["result"] == "failed"

    run = _run("ds_probe_fails", lambda: MathpixTestDataSourceOperator(task_id="test", data_source_id=ds_id))
    assert task_states(run) == {"test": "failed"}
    # The message the task failed with is the API's own: check it via the operator directly too.
    op = MathpixTestDataSourceOperator(task_id="t", data_source_id=ds_id)
    with pytest.raises(Exception, match="could not use data source") as err:
        op.execute({})  # type: ignore[arg-type]
    assert expected["message"] in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "either data_source_id, or provider and bucket"),
        ({"data_source_id": "x", "provider": "aws", "bucket": "b"}, "either data_source_id"),
        ({"provider": "aws"}, "together"),
        ({"provider": "dropbox", "bucket": "b"}, "provider must be one of"),
    ],
)
def test_data_source_target_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(MathpixValidationError, match=match):
        MathpixTestDataSourceOperator(task_id="t", **kwargs)


def test_create_validation() -> None:
    with pytest.raises(MathpixValidationError, match="provider"):
        MathpixCreateDataSourceOperator(task_id="c", provider="s3", bucket="b", auth_method="iam_role")


def test_access_key_secret_is_sent_but_never_shown(
    bucket_emulator: Any, airflow_db: None, capsys: Any
) -> None:
    """The legacy aws/access_key grant: the secret reaches Mathpix, and nowhere else (like the app_key)."""
    from tests.system.support import task_states, xcom

    secret = "wJalrXUtnFEMI-SECRET-" + uuid.uuid4().hex
    bucket = f"keyed-{uuid.uuid4().hex[:8]}"

    def create() -> Any:
        return MathpixCreateDataSourceOperator(
            task_id="create",
            provider="aws",
            bucket=bucket,
            auth_method="access_key",
            provider_specific_details={"aws_access_key_id": "AKIAEXAMPLEKEYID"},
            region="us-east-1",
            secret=secret,
        )

    assert "secret" not in MathpixCreateDataSourceOperator.template_fields  # never rendered in the UI
    dag_run = _run("ds_access_key_secret", create)
    logs = capsys.readouterr()
    assert task_states(dag_run) == {"create": "success"}
    result = xcom(dag_run, "create")
    assert result["created"] is True and result["auth_method"] == "access_key"
    assert secret not in repr(result) and secret not in logs.out + logs.err
    listed = MathpixHook().list_data_sources()
    assert [d["bucket"] for d in listed] == [bucket] and secret not in repr(listed)


def test_create_refuses_a_secret_on_a_keyless_grant_before_any_request(bucket_emulator: Any) -> None:
    details = {"iam_role_arn": "arn:aws:iam::123456789012:role/r", "aws_external_id": "x"}
    with pytest.raises(MathpixValidationError, match="secret is only for aws/access_key"):
        MathpixHook().create_data_source(
            "aws", "b", "iam_role", provider_specific_details=details, secret="s"
        )
    assert bucket_emulator.stats()["requests"] == 0
