"""MathpixSubmitJobOperator in real DAG runs (``dag.test()``) against the emulator."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from airflow.sdk import DAG, task

from airflow_provider_mathpix.contract.ids import custom_id_from_key, custom_id_from_uri
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.manifests import read_manifest
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from tests.system.support import APP_KEY, run_dag, task_states, xcom


def _dag(dag_id: str, **kwargs) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False, **kwargs)


def test_partial_success_policy_at_none_some_and_all_errored(
    airflow_db, emulator, pdf_server, tmp_path, capsys
):
    one, two = pdf_server.doc("one-page.pdf"), pdf_server.doc("two-pages.pdf")
    gone = [pdf_server.missing(f"{i}.pdf") for i in range(3)]
    common = {"poll_interval": 0.1, "manifest_path": f"{tmp_path}/"}
    with _dag("mathpix_partial_success") as dag:
        MathpixSubmitJobOperator(task_id="none_errored", files=[one, two], **common)
        MathpixSubmitJobOperator(task_id="some_errored_strict", files=[one, two, gone[0]], **common)
        MathpixSubmitJobOperator(
            task_id="some_errored_tolerated",
            files=[one, two, gone[0]],
            max_error_ratio=0.5,
            deferrable=True,
            **common,
        )
        MathpixSubmitJobOperator(
            task_id="all_errored", files=gone, max_error_ratio=0.5, deferrable=True, **common
        )
        MathpixSubmitJobOperator(
            task_id="all_errored_warn_only", files=gone[1:], fail_on_file_errors=False, **common
        )

    dag_run = run_dag(dag)
    logs = capsys.readouterr().out

    assert task_states(dag_run) == {
        "none_errored": "success",
        "some_errored_strict": "failed",
        "some_errored_tolerated": "success",
        "all_errored": "failed",
        "all_errored_warn_only": "success",
    }
    clean = xcom(dag_run, "none_errored")
    assert clean["status"] == "completed"
    assert (clean["file_count"], clean["files_completed"], clean["files_errored"]) == (2, 2, 0)
    assert clean["errors_sample"] == []

    tolerated = xcom(dag_run, "some_errored_tolerated")
    assert (tolerated["file_count"], tolerated["files_completed"], tolerated["files_errored"]) == (3, 2, 1)
    [sample] = tolerated["errors_sample"]
    assert sample["custom_id"] == custom_id_from_uri(gone[0])
    assert sample["error"].startswith("not_found")
    records = list(read_manifest(tolerated["manifest_uri"]))
    assert sorted(r["status"] for r in records) == ["completed", "completed", "error"]
    assert {r["custom_id"] for r in records} == {custom_id_from_uri(u) for u in (one, two, gone[0])}
    assert all(
        r["outputs"]["mmd"].endswith(f"{r['file_id']}.mmd") for r in records if r["status"] == "completed"
    )

    # A failed task still tells what it submitted: the job_id was pushed before waiting.
    strict_job = xcom(dag_run, "some_errored_strict", key="job_id")
    assert strict_job and xcom(dag_run, "some_errored_strict") is None
    assert f"Mathpix job {strict_job}: 1 of 3 files errored" in logs
    assert custom_id_from_uri(gone[0]) in logs
    assert "3 of 3 files errored" in logs and "more than max_error_ratio=0.5" in logs
    assert xcom(dag_run, "all_errored_warn_only")["files_errored"] == 2
    assert APP_KEY not in logs


@pytest.mark.parametrize(
    ("max_files_per_job", "deferrable", "jobs"),
    [(None, False, 1), (2, True, 2)],
    ids=["one_job", "split_deferred"],
)
def test_retried_task_resubmits_the_same_ids_without_new_files(
    airflow_db, emulator, pdf_server, tmp_path, max_files_per_job, deferrable, jobs
):
    """Try 1 submits, then dies (a non-retryable API error while checking the job); try 2
    re-submits the very same job_id(s) and custom_ids: the emulator creates no new file.
    Split into parts (``max_files_per_job``), each item goes back to its own part."""
    sources = [
        pdf_server.doc("one-page.pdf"),
        pdf_server.doc("two-pages.pdf"),
        pdf_server.doc("three-pages.pdf"),
    ]
    # The first status check after submitting fails hard (quota_exceeded is never retried).
    emulator.set_faults([{"method": "GET", "path": "/files/v1/jobs/*", "kind": "quota_exceeded", "count": 1}])
    dag_id = "mathpix_retry_idempotent" if max_files_per_job is None else "mathpix_retry_idempotent_split"
    with _dag(dag_id) as dag:
        MathpixSubmitJobOperator(
            task_id="submit",
            files=sources,
            max_files_per_job=max_files_per_job,
            deferrable=deferrable,
            poll_interval=0.1,
            manifest_path=f"{tmp_path}/",
            retries=1,
            retry_delay=timedelta(seconds=0),
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {"submit": "success"}
    [ti] = dag_run.get_task_instances()
    assert ti.try_number == 2
    stats = emulator.stats()
    assert stats["faults_injected"] == 1
    assert stats["jobs_created"] == jobs
    assert stats["files_created"] == 3  # try 2 created nothing new...
    assert stats["duplicates_absorbed"] == 3  # ...Mathpix handed back the files of try 1
    result = xcom(dag_run, "submit")
    assert result["file_count"] == 3 and result["files_completed"] == 3
    assert result["job_id"].startswith(f"airflow:{dag_id}:submit:")
    assert result.get("job_count", 1) == jobs


def test_source_prefix_to_destination_prefix_on_s3(airflow_db, s3_emulator, pdf_server, capsys):
    """A bucket prefix in, outputs and the manifest out, through real (moto) S3.

    The prefix is walked by the storage layer and streamed into the job; Mathpix (the
    emulator) writes ``<prefix>/<custom_id>/<custom_id>.<ext>``; the manifest goes to
    ``s3://`` through ObjectStoragePath. A second task names an unregistered bucket and
    fails before submitting anything.
    """
    from airflow_provider_mathpix.hooks.mathpix import MathpixHook
    from airflow_provider_mathpix.testing.grants import keyless_grant
    from airflow_provider_mathpix.testing.storage_servers import create_bucket, list_keys, put_objects

    emulator, s3 = s3_emulator
    for bucket in ("src", "out", "unregistered"):
        create_bucket(s3, bucket)
    put_objects(
        s3,
        "src",
        {
            "in/a.pdf": pdf_server.docs["one-page.pdf"],
            "in/deep/b c.pdf": pdf_server.docs["two-pages.pdf"],
            "in/notes.txt": b"not a document",
            "other/z.pdf": pdf_server.docs["one-page.pdf"],
        },
    )
    hook = MathpixHook()
    identities = hook.get_onboarding_identities()
    for bucket in ("src", "out"):
        hook.create_data_source(**keyless_grant("aws", bucket, identities))
    with _dag("mathpix_s3_prefix") as dag:
        MathpixSubmitJobOperator(
            task_id="convert_prefix",
            source_prefix="s3://src/in",
            suffixes=[".pdf"],
            destination_prefix="s3://out/results",
            conversion_formats=["md"],
            check_data_sources=True,
            manifest_path="s3://out/manifests/",
            deferrable=True,
            poll_interval=0.1,
        )
        MathpixSubmitJobOperator(
            task_id="unregistered_destination",
            source_prefix="s3://src/in",
            destination_prefix="s3://unregistered/results",
            check_data_sources=True,
        )
        MathpixSubmitJobOperator(task_id="empty_allowed", source_prefix="s3://src/nothing/", allow_empty=True)
        MathpixSubmitJobOperator(task_id="empty_refused", source_prefix="s3://src/nothing/")
        MathpixSubmitJobOperator(
            task_id="split",
            source_prefix="s3://src/",
            suffixes=[".pdf"],
            max_files_per_job=2,
            poll_interval=0.1,
        )

    dag_run = run_dag(dag)
    logs = capsys.readouterr().out

    assert task_states(dag_run) == {
        "convert_prefix": "success",
        "unregistered_destination": "failed",
        "empty_allowed": "success",
        "empty_refused": "failed",
        "split": "success",
    }, logs[-5000:]
    assert "'unregistered' (aws) is not registered as a Mathpix data source" in logs
    assert "matched no object" in logs
    assert xcom(dag_run, "empty_allowed")["status"] == "empty"
    # convert_prefix made one job; split walked three PDFs into two jobs (2 + 1 files).
    assert emulator.stats()["jobs_created"] == 3
    split = xcom(dag_run, "split")
    assert (split["job_count"], split["file_count"], split["files_completed"]) == (2, 3, 3)
    assert split["job_ids"] == [f"{split['job_id']}.p0001", f"{split['job_id']}.p0002"]
    result = xcom(dag_run, "convert_prefix")
    assert (result["file_count"], result["files_completed"], result["files_errored"]) == (2, 2, 0)
    assert result["manifest_uri"].endswith("out/manifests/" + result["job_id"] + ".jsonl")
    records = list(read_manifest(result["manifest_uri"]))
    assert sorted(r["custom_id"] for r in records) == sorted(
        [custom_id_from_key("a.pdf"), custom_id_from_key("deep/b c.pdf")]
    )
    keys = set(list_keys(s3, "out", "results/"))
    for record in records:
        cid = record["custom_id"]
        assert record["outputs"] == {
            "mmd": f"s3://out/results/{cid}/{cid}.mmd",
            "md": f"s3://out/results/{cid}/{cid}.md",
        }
        assert {f"results/{cid}/{cid}.mmd", f"results/{cid}/{cid}.md"} <= keys


def test_xcom_arg_files_and_no_wait(airflow_db, emulator, pdf_server, tmp_path):
    """``files`` from an upstream task; ``wait_for_completion=False`` returns at once."""
    with _dag("mathpix_xcomarg_files") as dag:

        @task
        def list_sources() -> list[str]:
            return [pdf_server.doc("one-page.pdf"), pdf_server.doc("two-pages.pdf")]

        MathpixSubmitJobOperator(task_id="submit", files=list_sources(), wait_for_completion=False)

    dag_run = run_dag(dag)
    result = xcom(dag_run, "submit")
    assert result["status"] == "submitted"
    assert result["file_count"] == 2
    assert result["manifest_uri"] is None
    assert xcom(dag_run, "submit", key="job_id") == result["job_id"]


def test_finished_job_needs_no_trigger(airflow_db, emulator, pdf_server, tmp_path, caplog):
    """A deferrable sensor checks once before deferring: a completed job finishes in place."""
    from airflow_provider_mathpix.sensors.mathpix import MathpixJobSensor

    with _dag("mathpix_check_before_defer") as dag:
        submit = MathpixSubmitJobOperator(
            task_id="submit",
            files=[pdf_server.doc("one-page.pdf")],
            poll_interval=0.1,
            manifest_path=f"{tmp_path}/",
        )
        submit >> MathpixJobSensor(
            task_id="wait", job_id=submit.output["job_id"], deferrable=True, manifest_path=f"{tmp_path}/"
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {"submit": "success", "wait": "success"}
    assert xcom(dag_run, "wait")["files_completed"] == 1
    assert "running trigger in line" not in caplog.text


def test_a_try_with_changed_options_makes_a_new_job_not_the_old_files(
    airflow_db, emulator, pdf_server, tmp_path
):
    """Mathpix deduplicates ``(job_id, custom_id)`` whatever the options: if the default job_id did
    not change with them, try 2 (which asks for docx) would re-attach to try 1's md/html files and
    fail on ``unsupported_format``. The options fingerprint in the default job_id makes a new job."""
    sources = [pdf_server.doc("one-page.pdf"), pdf_server.doc("two-pages.pdf")]
    emulator.set_faults([{"method": "GET", "path": "/files/v1/jobs/*", "kind": "quota_exceeded", "count": 1}])
    with _dag("mathpix_changed_options") as dag:
        MathpixSubmitJobOperator(
            task_id="submit",
            files=sources,
            # the task's options change between tries, as when a user edits the DAG and clears the task
            conversion_formats=["md", "{{ 'docx' if ti.try_number > 1 else 'html' }}"],
            poll_interval=0.1,
            manifest_path=f"{tmp_path}/",
            retries=1,
            retry_delay=timedelta(seconds=0),
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {"submit": "success"}
    assert dag_run.get_task_instances()[0].try_number == 2
    stats = emulator.stats()
    assert stats["jobs_created"] == 2 and stats["files_created"] == 4 and stats["duplicates_absorbed"] == 0
    result = xcom(dag_run, "submit")
    assert result["files_completed"] == 2 and result["job_id"].startswith(
        "airflow:mathpix_changed_options:submit:"
    )
    hook = MathpixHook()
    for record in read_manifest(result["manifest_uri"]):
        deadline = time.monotonic() + 30  # formats may finish after the file (and the job)
        while hook.get_file(record["file_id"])["formats"].get("docx") != "completed":
            assert time.monotonic() < deadline, "docx never completed"
            time.sleep(0.05)
        assert hook.download_output(record["file_id"], "docx")


@pytest.mark.parametrize("deferrable", [False, True], ids=["in-process", "deferrable"])
def test_files_from_a_mapped_upstream_are_read_once(airflow_db, emulator, pdf_server, capsys, deferrable):
    """``files=<mapped task>.output`` is a lazy sequence of XComs: read once, no "XCom not found" noise."""
    names = ["one-page.pdf", "two-pages.pdf"]
    with _dag("mathpix_job_files_from_mapped") as dag:

        @task
        def locate(name: str) -> str:
            return pdf_server.doc(name)

        MathpixSubmitJobOperator(
            task_id="job", files=locate.expand(name=names), poll_interval=0.1, deferrable=deferrable
        )

    run = run_dag(dag)
    logs = capsys.readouterr().out
    assert task_states(run)["job"] == "success"
    assert xcom(run, "job")["file_count"] == 2
    assert "XCom not found" not in logs
