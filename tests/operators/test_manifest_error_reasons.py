"""``manifest_error_reasons`` on the operator and the sensor: checked early, templated, honoured."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_mathpix.contract.ids import custom_id_from_uri
from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.manifests import read_manifest
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from airflow_provider_mathpix.sensors.mathpix import MathpixJobSensor
from tests.system.support import run_dag, task_states, xcom

REFUSED = r"manifest_error_reasons must be 'all' .* or 'sample' .*, got "


def _dag(dag_id: str, **params: Any) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False, params=params)


@pytest.mark.parametrize("bad", ["some", "Sample", "", None, 0, ["all"]])
def test_bad_values_fail_at_parse_time_naming_the_field(bad: Any) -> None:
    with pytest.raises(MathpixValidationError, match=REFUSED):
        MathpixSubmitJobOperator(task_id="j", files=["s3://b/a.pdf"], manifest_error_reasons=bad)
    with pytest.raises(MathpixValidationError, match=REFUSED):
        MathpixJobSensor(task_id="s", job_id="job-1", manifest_error_reasons=bad)


def test_a_bad_rendered_value_fails_before_any_request(airflow_db, emulator, tmp_path) -> None:
    with _dag("mathpix_error_reasons_bad", reasons="every") as dag:
        MathpixSubmitJobOperator(
            task_id="submit",
            files=["s3://unregistered/a.pdf"],
            manifest_error_reasons="{{ params.reasons }}",
            manifest_path=f"{tmp_path}/",
        )
        MathpixJobSensor(
            task_id="wait",
            job_id="job-1",
            manifest_error_reasons="{{ params.reasons }}",
            poke_interval=0.1,
            timeout=5,
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {"submit": "failed", "wait": "failed"}
    routes = emulator.stats()["requests_by_route"]
    assert not {route for route in routes if "/_emulator" not in route}, routes


def test_operator_and_sensor_write_listing_speed_manifests(airflow_db, emulator, tmp_path) -> None:
    missing = [f"s3://unregistered/doc-{i:02d}.pdf" for i in range(13)]
    with _dag("mathpix_error_reasons_sample", reasons="sample") as dag:
        MathpixSubmitJobOperator(
            task_id="submit_and_wait",
            files=missing,
            fail_on_file_errors=False,
            manifest_error_reasons="{{ params.reasons }}",
            manifest_path=f"{tmp_path}/op/",
            poll_interval=0.1,
        )
        submit = MathpixSubmitJobOperator(
            task_id="submit", files=missing[:12], job_id="sensed-job", wait_for_completion=False
        )
        submit >> MathpixJobSensor(
            task_id="wait",
            job_id=submit.output["job_id"],
            fail_on_file_errors=False,
            manifest_error_reasons="sample",
            manifest_path=f"{tmp_path}/sensor/",
            poke_interval=0.1,
            timeout=60,
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {"submit_and_wait": "success", "submit": "success", "wait": "success"}
    for task_id, count in (("submit_and_wait", 13), ("wait", 12)):
        summary = xcom(dag_run, task_id)
        records = list(read_manifest(summary["manifest_uri"]))
        assert [r["status"] for r in records] == ["error"] * count
        assert [r["error_fetched"] for r in records] == [True] * 10 + [False] * (count - 10)
        assert all("data_source_not_found" in r["error"] for r in records[:10])
        assert all(r["error"] is None for r in records[10:])
        assert sorted(r["custom_id"] for r in records) == sorted(map(custom_id_from_uri, missing[:count]))
        sample = summary["errors_sample"]
        assert [s["file_id"] for s in sample] == [r["file_id"] for r in records[:10]]
        assert all("data_source_not_found" in s["error"] for s in sample)
