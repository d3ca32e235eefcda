"""MathpixJobSensor / MathpixFileSensor in poke, reschedule and deferrable modes (real DAG runs)."""

from __future__ import annotations

from datetime import datetime

import pytest
from airflow.sdk import DAG

from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.manifests import read_manifest
from airflow_provider_mathpix.operators.files import MathpixSubmitFileOperator
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from airflow_provider_mathpix.sensors.mathpix import MathpixFileSensor, MathpixJobSensor
from tests.system.support import run_dag, task_states, xcom

MODES = {
    "poke": {"mode": "poke"},
    "reschedule": {"mode": "reschedule"},
    "deferrable": {"deferrable": True},
}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False)


def test_job_sensor_in_every_mode_with_partial_success(airflow_db, emulator, pdf_server, tmp_path, capsys):
    with _dag("mathpix_job_sensor_modes") as dag:
        submit = MathpixSubmitJobOperator(
            task_id="submit",
            files=[pdf_server.doc("one-page.pdf"), pdf_server.missing("lost.pdf")],
            wait_for_completion=False,
        )
        for name, mode in MODES.items():
            submit >> MathpixJobSensor(
                task_id=f"wait_{name}",
                job_id=submit.output["job_id"],
                max_error_ratio=0.5,
                manifest_path=f"{tmp_path}/{name}/",
                poke_interval=0.2,
                timeout=60,
                **mode,
            )
        submit >> MathpixJobSensor(
            task_id="wait_strict", job_id=submit.output["job_id"], poke_interval=0.2, deferrable=True
        )
        submit >> MathpixJobSensor(
            task_id="wait_strict_soft_fail",
            job_id=submit.output["job_id"],
            poke_interval=0.2,
            soft_fail=True,
            write_manifest=False,
        )

    dag_run = run_dag(dag)
    logs = capsys.readouterr().out

    assert task_states(dag_run) == {
        "submit": "success",
        "wait_poke": "success",
        "wait_reschedule": "success",
        "wait_deferrable": "success",
        "wait_strict": "failed",
        "wait_strict_soft_fail": "skipped",
    }, logs[-4000:]
    job_id = xcom(dag_run, "submit")["job_id"]
    for name in MODES:
        result = xcom(dag_run, f"wait_{name}")
        assert result["job_id"] == job_id
        assert (result["file_count"], result["files_completed"], result["files_errored"]) == (2, 1, 1)
        assert [e["error"].split(":")[0] for e in result["errors_sample"]] == ["not_found"]
        assert result["manifest_uri"] == f"file://{tmp_path}/{name}/{job_id}.jsonl"
        assert len(list(read_manifest(result["manifest_uri"]))) == 2
    assert "1 of 2 files errored (50.00%), more than max_error_ratio=0" in logs


def test_sensor_timeout_in_every_mode_and_soft_fail(airflow_db, emulator, pdf_server, capsys):
    emulator.configure(time_per_file=120)  # nothing finishes during this test
    with _dag("mathpix_job_sensor_timeouts") as dag:
        submit = MathpixSubmitJobOperator(
            task_id="submit", files=[pdf_server.doc("one-page.pdf")], wait_for_completion=False
        )
        for name, mode in MODES.items():
            for soft_fail in (False, True):
                submit >> MathpixJobSensor(
                    task_id=f"{name}{'_soft' if soft_fail else ''}",
                    job_id=submit.output["job_id"],
                    poke_interval=0.2,
                    timeout=1,
                    soft_fail=soft_fail,
                    **mode,
                )

    dag_run = run_dag(dag)
    logs = capsys.readouterr().out

    assert task_states(dag_run) == {
        "submit": "success",
        "poke": "failed",
        "poke_soft": "skipped",
        "reschedule": "failed",
        "reschedule_soft": "skipped",
        "deferrable": "failed",
        "deferrable_soft": "skipped",
    }, logs[-4000:]
    assert logs.count("AirflowSensorTimeout") >= 3
    # the deferred one timed out in its trigger and failed as a sensor timeout, not a task error
    assert "AirflowSensorTimeout: Sensor has timed out waiting for Mathpix" in logs


def test_file_sensor_modes_formats_and_failed_file(airflow_db, emulator, pdf_server, capsys):
    emulator.configure(format_lag=0.5)
    with _dag("mathpix_file_sensor") as dag:
        good = MathpixSubmitFileOperator(
            task_id="submit_good",
            source_uri=pdf_server.doc("two-pages.pdf"),
            conversion_formats=["docx"],
            wait_for_completion=False,
        )
        bad = MathpixSubmitFileOperator(
            task_id="submit_bad", source_uri=pdf_server.missing("nope.pdf"), wait_for_completion=False
        )
        for name, mode in MODES.items():
            good >> MathpixFileSensor(
                task_id=f"wait_{name}",
                file_id=good.output["file_id"],
                formats=["docx"],
                poke_interval=0.2,
                timeout=60,
                **mode,
            )
        bad >> MathpixFileSensor(
            task_id="wait_bad", file_id=bad.output["file_id"], poke_interval=0.2, deferrable=True
        )
        bad >> MathpixFileSensor(
            task_id="wait_bad_soft", file_id=bad.output["file_id"], poke_interval=0.2, soft_fail=True
        )

    dag_run = run_dag(dag)
    logs = capsys.readouterr().out

    assert task_states(dag_run) == {
        "submit_good": "success",
        "submit_bad": "success",
        "wait_poke": "success",
        "wait_reschedule": "success",
        "wait_deferrable": "success",
        "wait_bad": "failed",
        "wait_bad_soft": "skipped",
    }, logs[-4000:]
    file_id = xcom(dag_run, "submit_good")["file_id"]
    for name in MODES:
        result = xcom(dag_run, f"wait_{name}")
        assert result["file_id"] == file_id
        assert result["status"] == "completed" and result["num_pages"] == 2
        assert set(result["outputs"]) == {"mmd", "docx"}
    assert "MathpixFileFailed" in logs and "(not_found)" in logs


def test_sensors_reject_missing_ids_at_parse_time():
    with pytest.raises(MathpixValidationError, match="job_id is required"):
        MathpixJobSensor(task_id="s", job_id="")
    with pytest.raises(MathpixValidationError, match="formats key 'docx x' must be a format name"):
        MathpixFileSensor(task_id="s", file_id="f", formats=["docx x"])
    MathpixFileSensor(task_id="s", file_id="f", formats=["mmd", "docx"])  # mmd is always there: fine
    with pytest.raises(MathpixValidationError, match="max_error_ratio must be between 0 and 1"):
        MathpixJobSensor(task_id="s", job_id="j", max_error_ratio=2)
