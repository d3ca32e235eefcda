"""The batch-job example DAG (submit, sensor, manifest reader) run with ``dag.test()``."""

from __future__ import annotations

import pytest

from tests.system.support import load_example_dag, run_dag, task_states, xcom


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable-sensor", "poke-sensor"])
def test_batch_job_example(airflow_db, emulator, pdf_server, deferrable):
    dag = load_example_dag("example_mathpix_batch_job")
    sensor = dag.get_task("wait_for_job")
    sensor.deferrable = deferrable
    sensor.poke_interval = 0.2
    files = [
        pdf_server.doc("one-page.pdf"),
        pdf_server.doc("two-pages.pdf"),
        pdf_server.doc("three-pages.pdf"),
    ]

    dag_run = run_dag(dag, run_conf={"files": files})

    assert task_states(dag_run) == {
        "submit_job": "success",
        "wait_for_job": "success",
        "summarize": "success",
    }
    submitted = xcom(dag_run, "submit_job")
    assert submitted["status"] == "submitted" and submitted["file_count"] == 3
    job = xcom(dag_run, "wait_for_job")
    assert job["job_id"] == submitted["job_id"]
    assert (job["file_count"], job["files_completed"], job["files_errored"]) == (3, 3, 0)
    assert xcom(dag_run, "summarize") == {"completed": 3}
    assert emulator.stats()["jobs_created"] == 1
