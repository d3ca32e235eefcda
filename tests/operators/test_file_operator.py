"""MathpixSubmitFileOperator in real DAG runs against the emulator."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_mathpix.contract.ids import custom_id_from_uri
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.operators.files import MathpixSubmitFileOperator
from tests.system.support import APP_KEY, run_dag, task_states, xcom


def _dag(dag_id: str, **kwargs) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False, **kwargs)


def test_upload_local_path_and_object_storage_path(airflow_db, emulator, pdf_server, tmp_path):
    local = tmp_path / "report one.pdf"
    local.write_bytes(pdf_server.docs["three-pages.pdf"])
    with _dag("mathpix_upload") as dag:
        MathpixSubmitFileOperator(
            task_id="upload_path", source_path=str(local), conversion_formats=["md"], poll_interval=0.1
        )
        MathpixSubmitFileOperator(
            task_id="upload_object_storage_path",
            source_path=ObjectStoragePath(f"file://{local}"),
            deferrable=True,
            poll_interval=0.1,
        )

        MathpixSubmitFileOperator(
            task_id="filed_under_a_job",
            source_uri=pdf_server.doc("one-page.pdf"),
            job_id="my-job",
            poll_interval=0.1,
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {
        "upload_path": "success",
        "upload_object_storage_path": "success",
        "filed_under_a_job": "success",
    }
    in_job = xcom(dag_run, "filed_under_a_job")
    custom_id = custom_id_from_uri(pdf_server.doc("one-page.pdf"))
    assert MathpixHook().get_job_file("my-job", custom_id)["file_id"] == in_job["file_id"]
    for task_id in ("upload_path", "upload_object_storage_path"):
        result = xcom(dag_run, task_id)
        assert result["status"] == "completed"
        assert result["num_pages"] == 3
    assert set(xcom(dag_run, "upload_path")["outputs"]) == {"mmd", "md"}
    assert emulator.stats()["files_created"] == 3


def test_retried_single_file_reuses_its_idempotency_key(airflow_db, emulator, pdf_server):
    """Try 1 submits then fails while checking; try 2 sends the same Idempotency-Key."""
    emulator.set_faults([{"method": "GET", "path": "/files/v1/*", "kind": "quota_exceeded", "count": 1}])
    with _dag("mathpix_file_retry") as dag:
        MathpixSubmitFileOperator(
            task_id="convert",
            source_uri=pdf_server.doc("one-page.pdf"),
            poll_interval=0.1,
            retries=1,
            retry_delay=timedelta(seconds=0),
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {"convert": "success"}
    assert dag_run.get_task_instances()[0].try_number == 2
    stats = emulator.stats()
    assert (stats["faults_injected"], stats["files_created"], stats["duplicates_absorbed"]) == (1, 1, 1)


def test_failed_file_fails_the_task_with_the_api_code(airflow_db, emulator, pdf_server, capsys):
    with _dag("mathpix_file_fails") as dag:
        MathpixSubmitFileOperator(
            task_id="convert_missing", source_uri=pdf_server.missing("gone.pdf"), poll_interval=0.1
        )
        MathpixSubmitFileOperator(
            task_id="convert_missing_deferred",
            source_uri=pdf_server.missing("gone-too.pdf"),
            poll_interval=0.1,
            deferrable=True,
        )
        MathpixSubmitFileOperator(
            task_id="too_slow", source_uri=pdf_server.doc("one-page.pdf"), poll_interval=0.1, timeout=0.5
        )

    emulator.configure(time_per_page=60)  # the one real document never finishes in time
    dag_run = run_dag(dag)
    logs = capsys.readouterr().out

    assert task_states(dag_run) == {
        "convert_missing": "failed",
        "convert_missing_deferred": "failed",
        "too_slow": "failed",
    }
    assert logs.count("MathpixFileFailed: Mathpix file") >= 2
    assert "(not_found): the source answered HTTP 404" in logs
    assert "MathpixWaitTimeout: Timed out waiting for Mathpix file" in logs
    # ids were pushed before waiting, so the failed tasks still name their files
    assert xcom(dag_run, "convert_missing", key="file_id")
    assert xcom(dag_run, "too_slow", key="file_id")
    assert APP_KEY not in logs


def test_bad_rendered_input_fails_before_any_request(airflow_db, emulator):
    """Templated values are checked after rendering, still before the first request."""
    with _dag("mathpix_bad_rendered", params={"uri": "ftp://example.com/a.pdf"}) as dag:
        MathpixSubmitFileOperator(task_id="bad_uri", source_uri="{{ params.uri }}")
        MathpixSubmitFileOperator(
            task_id="bad_format", source_uri="https://example.com/a.pdf", conversion_formats="{{ ['docxx'] }}"
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {"bad_uri": "failed", "bad_format": "failed"}
    assert emulator.stats()["requests"] == 0


def test_mapped_instances_get_their_own_ids_and_keep_them_on_retry(airflow_db, emulator, pdf_server):
    """map_index is part of every derived id; a retried mapped instance re-uses its own."""
    sources = [
        pdf_server.doc("one-page.pdf"),
        pdf_server.doc("two-pages.pdf"),
        pdf_server.doc("three-pages.pdf"),
    ]
    emulator.set_faults([{"method": "GET", "path": "/files/v1/*", "kind": "quota_exceeded", "count": 1}])
    with _dag("mathpix_mapped_files") as dag:
        MathpixSubmitFileOperator.partial(
            task_id="convert", poll_interval=0.1, retries=1, retry_delay=timedelta(seconds=0)
        ).expand(source_uri=sources)

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {"convert[0]": "success", "convert[1]": "success", "convert[2]": "success"}
    results = [xcom(dag_run, "convert", map_index=i) for i in range(3)]
    assert [r["num_pages"] for r in results] == [1, 2, 3]
    assert len({r["file_id"] for r in results}) == 3
    stats = emulator.stats()
    assert (stats["files_created"], stats["duplicates_absorbed"], stats["faults_injected"]) == (3, 1, 1)


def test_a_try_with_changed_options_makes_a_new_file(airflow_db, emulator, pdf_server):
    """The default Idempotency-Key folds in the output-changing options: same options re-attach
    (see the retry test above), changed ones make a new file that has the new format."""
    emulator.set_faults([{"method": "GET", "path": "/files/v1/*", "kind": "quota_exceeded", "count": 1}])
    with _dag("mathpix_file_changed_options") as dag:
        MathpixSubmitFileOperator(
            task_id="convert",
            source_uri=pdf_server.doc("one-page.pdf"),
            conversion_formats=["{{ 'docx' if ti.try_number > 1 else 'md' }}"],
            poll_interval=0.1,
            retries=1,
            retry_delay=timedelta(seconds=0),
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {"convert": "success"}
    stats = emulator.stats()
    assert (stats["faults_injected"], stats["files_created"], stats["duplicates_absorbed"]) == (1, 2, 0)
    file_id = xcom(dag_run, "convert")["file_id"]
    assert MathpixHook().get_file(file_id)["formats"] == {"docx": "completed"}  # the operator waited for it
    assert MathpixHook().download_output(file_id, "docx")
