"""The flagship DAG on a real Airflow 3 deployment, one OS process per component.

PostgreSQL metadata DB + CeleryExecutor/Redis where those services answer (CI), else
LocalExecutor + SQLite: scheduler, dag-processor, triggerer, api-server (and a Celery
worker) run as separate processes with the provider installed and the example DAGs in
their dags folder. The test triggers the flagship DAG through the REST API and checks
what only a real deployment proves: the job task deferred, its trigger ran in the
triggerer process, the trigger row in the metadata DB never held the app key, and the
pipeline's outputs and table rows exist. Every process is stopped at the end.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from e2e_deployment import AirflowDeployment, Backend

from airflow_provider_mathpix.demo.environment import EMULATOR_APP_KEY, emulated_services
from airflow_provider_mathpix.demo.titles import title_from_markdown

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_mathpix_flagship"
PRODUCER_DAG_ID = "example_mathpix_assets_producer"
CONSUMER_DAG_ID = "example_mathpix_assets_consumer"
JOB_TASK = "convert"
TRIGGER_CLASS = "airflow_provider_mathpix.triggers.mathpix.MathpixJobTrigger"
#: Slow enough that the job task is observably deferred for several seconds.
EMULATOR_TIMING = {"time_per_file": 3.0, "time_per_page": 0.5}


class DeferralWatch:
    """Called on every poll of the run: records the job task's states and its trigger rows."""

    def __init__(self, deployment: AirflowDeployment) -> None:
        self.deployment = deployment
        self.states: list[str | None] = []
        self.triggers: dict[int, dict[str, Any]] = {}

    def __call__(self, states: dict[str, str | None]) -> None:
        state = states.get(JOB_TASK)
        if not self.states or self.states[-1] != state:
            self.states.append(state)
        if state != "deferred":
            return
        rows = self.deployment.query(
            "SELECT t.id, t.classpath, t.kwargs, t.triggerer_id FROM trigger t "
            "JOIN task_instance ti ON ti.trigger_id = t.id "
            "WHERE ti.dag_id = :dag AND ti.task_id = :task",
            dag=DAG_ID,
            task=JOB_TASK,
        )
        for trigger_id, classpath, kwargs, triggerer_id in rows:
            seen = self.triggers.setdefault(trigger_id, {"classpath": classpath, "raw": kwargs})
            if triggerer_id is not None:
                seen["triggerer_id"] = triggerer_id


@pytest.mark.e2e
@pytest.mark.timeout(900, method="signal")  # signal: the finally block still stops every process
def test_flagship_dag_on_a_real_deployment(airflow_backend: Backend, tmp_path: Path) -> None:
    home = tmp_path / "airflow-home"
    dags = tmp_path / "dags"
    shutil.copytree(REPO / "example_dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    with emulated_services(tmp_path, poll_interval=0.5, emulator_settings=EMULATOR_TIMING) as setup:
        deployment = AirflowDeployment(home, dags, airflow_backend, setup.env)
        watch = DeferralWatch(deployment)
        try:
            deployment.start()
            deployment.wait_until_healthy()
            assert "airflow-provider-mathpix" in deployment.providers()  # found via its entry point
            deployment.wait_for_dag(DAG_ID)
            deployment.wait_for_dag(CONSUMER_DAG_ID)
            deployment.unpause(CONSUMER_DAG_ID)  # a paused DAG gets no asset-triggered runs
            # The flagship is @daily: unpaused, the scheduler creates the latest interval's run.
            deployment.unpause(DAG_ID)
            run_id = deployment.wait_for_run_id(DAG_ID, timeout=120, run_type="scheduled")
            producer_run_id = deployment.trigger(PRODUCER_DAG_ID)  # runs alongside the flagship
            state = deployment.wait_for_run(DAG_ID, run_id, timeout=240, on_poll=watch)
            states = deployment.task_states(DAG_ID, run_id)
            assert state == "success", f"{states}\n{deployment.all_logs_tail()}"
            job_log = deployment.task_log(DAG_ID, run_id, JOB_TASK)
            task_instances = deployment.task_instances(DAG_ID, run_id)  # rendered fields included
            xcoms = deployment.xcom_entries(DAG_ID, run_id)
            producer_state = deployment.wait_for_run(PRODUCER_DAG_ID, producer_run_id, timeout=180)
            assert producer_state == "success", deployment.task_states(PRODUCER_DAG_ID, producer_run_id)
            # The scheduler itself creates the consumer's run from the producer's asset event.
            consumer_run = deployment.wait_for_dag_run(
                CONSUMER_DAG_ID, timeout=120, run_type="asset_triggered"
            )
            consumer_result = deployment.xcom(CONSUMER_DAG_ID, consumer_run["dag_run_id"], "index_library")
            triggerer_log = deployment.log_tail("triggerer", limit=200_000)
            # A manual run afterwards finds every document in the ledger: nothing is re-submitted.
            again_id = deployment.trigger(DAG_ID)
            again_state = deployment.wait_for_run(DAG_ID, again_id, timeout=180)
            again = deployment.xcom(DAG_ID, again_id, "convert")
        finally:
            leftovers = deployment.stop()
        assert leftovers == [], f"process groups still running: {leftovers}"

        # The job task really deferred, to our trigger, and a triggerer picked the trigger up.
        assert "deferred" in watch.states, f"{watch.states}\n{job_log[-4000:]}"
        assert "running" in watch.states[watch.states.index("deferred") :], "never resumed after deferral"
        assert watch.states[-1] == "success"
        assert watch.triggers, "no trigger row was seen while the task was deferred"
        for trigger in watch.triggers.values():
            assert trigger["classpath"] == TRIGGER_CLASS
            assert trigger.get("triggerer_id") is not None, "the trigger was never assigned to a triggerer"
            raw = trigger["raw"]
            decrypted = deployment.decrypt(raw)
            assert EMULATOR_APP_KEY not in raw and EMULATOR_APP_KEY not in decrypted
            kwargs = json.loads(decrypted)
            assert "job_id" in json.dumps(kwargs)
        # ...the trigger polled Mathpix in the triggerer process (its lines are shipped into the
        # task's log) and its event resumed the task, which then finished the job.
        assert "Trigger fired event" in job_log, job_log[-3000:]
        done = rf"Mathpix job \S+: {len(setup.documents)}/{len(setup.documents)} completed, 0 errored"
        assert re.search(done, job_log), job_log[-3000:]
        assert "Wrote the manifest of job" in job_log
        assert EMULATOR_APP_KEY not in triggerer_log
        assert EMULATOR_APP_KEY not in job_log
        assert EMULATOR_APP_KEY not in json.dumps(task_instances)
        assert {x["task_id"] for x in xcoms} >= {"convert", "load_warehouse"}
        assert EMULATOR_APP_KEY not in json.dumps(xcoms, default=str)
        assert all(s == "success" for s in states.values()), states
        if airflow_backend.executor == "CeleryExecutor":
            # Every task went through the broker to the Celery worker serving our private queue.
            queue = airflow_backend.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
            assert {ti["queue"] for ti in task_instances} == {queue}
            assert all(ti["hostname"] for ti in task_instances)

        # The pipeline's products: Markdown in s3://…/processed/ (written by Mathpix) and one
        # table row per document, loaded by MathpixResultsToSqlOperator.
        markdown = [key for key in setup.list_keys("processed/") if key.endswith(".md")]
        assert len(markdown) == len(setup.documents), markdown
        with sqlite3.connect(setup.warehouse) as conn:
            rows = conn.execute(
                "SELECT document_id, pages, markdown FROM documents ORDER BY document_id"
            ).fetchall()
        assert len(rows) == len(setup.documents)
        titles = {title_from_markdown(row[2]) for row in rows}
        assert titles == {doc.title for doc in setup.documents}
        expected_pages = sum(len(doc.pages) for doc in setup.documents)
        assert sum(row[1] for row in rows) == expected_pages
        assert all(row[2].strip() for row in rows)
        assert again_state == "success", again
        assert (again["file_count"], again["files_skipped"]) == (0, len(setup.documents)), again
        # The flagship's and the producer's: the manual rerun submitted nothing.
        assert setup.emulator.stats()["jobs_created"] == 2

        # Data-aware scheduling: the producer's download emitted an asset event, and the
        # consumer DAG scheduled on that Asset ran on it.
        assert consumer_run["state"] == "success", consumer_run
        assert consumer_run["triggered_by"] == "asset", consumer_run
        assert consumer_result["events"] == 1
        assert consumer_result["published"][0]["files"] == len(setup.documents)
        assert len(consumer_result["documents"]) == len(setup.documents)
