"""A 20,000-file job through the operator: streamed manifest, XCom under 10 KB."""

from __future__ import annotations

from datetime import datetime

import pytest
from airflow.sdk import DAG

from airflow_provider_mathpix.manifests import read_manifest
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from tests.system.support import run_dag, task_states, xcom, xcom_json_size

N_FILES = 20_000
N_MISSING = 25


@pytest.mark.slow
def test_twenty_thousand_file_job(airflow_db, emulator, pdf_server, tmp_path):
    emulator.configure(time_per_file=0.0, time_per_page=0.0, format_lag=0.0)
    # Item dicts sharing one source (the emulator fetches it once): the scale under test is
    # the operator's (chunked submission, polling, streamed manifest, XCom), not fetching.
    files = [
        {"source_uri": pdf_server.doc("one-page.pdf"), "custom_id": f"doc-{i:05d}"}
        for i in range(N_FILES - N_MISSING)
    ]
    files += [
        {"source_uri": pdf_server.missing(f"{i}.pdf"), "custom_id": f"gone-{i}"} for i in range(N_MISSING)
    ]
    with DAG("mathpix_scale", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
        MathpixSubmitJobOperator(
            task_id="big_job",
            files=files,
            max_error_ratio=0.01,
            max_items_per_request=5_000,
            deferrable=True,
            poll_interval=1,
            manifest_path=f"{tmp_path}/",
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {"big_job": "success"}
    result = xcom(dag_run, "big_job")
    assert (result["file_count"], result["files_completed"], result["files_errored"]) == (
        N_FILES,
        N_FILES - N_MISSING,
        N_MISSING,
    )
    assert len(result["errors_sample"]) == 10
    assert xcom_json_size(dag_run, "big_job") < 10_000
    statuses = {"completed": 0, "error": 0}
    ids = set()
    for record in read_manifest(result["manifest_uri"]):
        statuses[record["status"]] += 1
        ids.add(record["file_id"])
    assert statuses == {"completed": N_FILES - N_MISSING, "error": N_MISSING}
    assert len(ids) == N_FILES
