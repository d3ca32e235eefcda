"""The event-driven example pair: convert without waiting, the watcher fires, the load DAG loads
(and records the job in the ledger, so the next convert run submits nothing again).

The scheduler's part (turning the trigger's event into an asset event and a run of the
load DAG) is Airflow's; here the watcher's own trigger -- rebuilt from its serialized
form, as the triggerer does -- is run against the emulator, and the load DAG is then
run with the job id the event carried.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mathpix.testing.storage_servers import StorageServer, put_objects

from .support import register


def test_convert_fire_load(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
    sample_pdf: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from airflow.sdk import BaseHook

    from tests.operators.test_event_trigger import collect
    from tests.system.support import load_example_dag, run_dag, task_states, xcom

    bucket = make_bucket(s3_server, "events")
    register(s3_server, bucket)
    monkeypatch.setenv("MATHPIX_DEMO_BUCKET", bucket)
    monkeypatch.setenv("MATHPIX_DEMO_POLL_INTERVAL", "0.1")
    db = json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")})
    monkeypatch.setenv("AIRFLOW_CONN_MATHPIX_WAREHOUSE", db)
    put_objects(s3_server, bucket, {"incoming/a.pdf": sample_pdf, "incoming/b.pdf": sample_pdf})

    convert = load_example_dag("example_mathpix_job_events", "example_mathpix_job_events_convert")
    submitted = run_dag(convert)
    assert task_states(submitted) == {"convert": "success"}
    job_id = xcom(submitted, "convert")["job_id"]
    assert xcom(submitted, "convert")["status"] == "submitted"

    load = load_example_dag("example_mathpix_job_events", "example_mathpix_job_events_load")
    trigger = sys.modules["mathpix_example_example_mathpix_job_events"].JOBS_COMPLETED.watchers[0].trigger
    _, kwargs = trigger.serialize()
    rebuilt = type(trigger)(**kwargs)
    events = asyncio.run(collect(rebuilt, want=1, seconds=30))
    assert [event["job_id"] for event in events] == [job_id]

    loaded = run_dag(load, run_conf={"job_id": events[0]["job_id"]})
    assert task_states(loaded) == {
        "completed_jobs": "success",
        "report[0]": "success",
        "load_warehouse[0]": "success",
    }
    result = xcom(loaded, "load_warehouse", map_index=0)
    assert result["rows_loaded"] == 2 and result["cost_line"].startswith(
        f"Mathpix cost of job {job_id}: 2 pages"
    )
    rows = (
        BaseHook.get_connection("mathpix_warehouse")
        .get_hook()
        .get_records("SELECT document_id, status FROM mathpix_documents ORDER BY document_id")
    )
    assert [tuple(row) for row in rows] == [("a.pdf", "completed"), ("b.pdf", "completed")]

    # The load DAG's sensor recorded the job in the ledger: the next convert run skips both.
    again = xcom(run_dag(convert), "convert")
    assert (again["status"], again["files_skipped"]) == ("empty", 2)
    assert bucket_emulator.stats()["files_created"] == 2
