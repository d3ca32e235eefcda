"""Each wait event, from a real trigger run and from an in-process wait, reads back the same.

Async: the trigger is rebuilt from ``serialize()`` through Airflow's serde and run, and its
payload goes through Airflow's own serializer (as the triggerer stores the event) before
``from_payload``. Sync: the operators' in-process wait against the same emulator.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.serialization.serialized_objects import BaseSerialization

from airflow_provider_mathpix.common.waiting import check_file, check_job, wait_in_process
from airflow_provider_mathpix.contract.events import (
    ApiError,
    BatchFinished,
    FileFailed,
    FileFinished,
    JobCompleted,
    JobFinished,
    RequestError,
    SetupError,
    TimedOut,
    WaitEvent,
    from_payload,
)
from airflow_provider_mathpix.contract.status import batch_event
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers.events import MathpixJobCompletedTrigger
from airflow_provider_mathpix.triggers.mathpix import (
    MathpixFileTrigger,
    MathpixImageBatchTrigger,
    MathpixJobTrigger,
)
from tests.operators.test_triggers import events_of, submit_job

LOG = logging.getLogger("test_wait_event_paths")


async def async_event(trigger: Any) -> WaitEvent:
    [payload] = await events_of(trigger)
    stored = json.dumps(BaseSerialization.serialize(payload))
    return from_payload(BaseSerialization.deserialize(json.loads(stored)))


def sync_event(check: Any, ids: dict[str, Any], seconds: float = 30) -> WaitEvent:
    return wait_in_process(check, ids=ids, poll_interval=0.05, end_time=time.time() + seconds, log=LOG)


async def test_job_finished_both_ways(emulator, pdf_server):
    submit_job(pdf_server, "paths-job", [pdf_server.doc("one-page.pdf"), pdf_server.missing("x")])
    trigger = MathpixJobTrigger("paths-job", "mathpix_default", poll_interval=0.05, end_time=time.time() + 30)
    from_trigger = await async_event(trigger)
    in_process = sync_event(lambda: check_job(MathpixHook(), "paths-job", LOG), {"job_id": "paths-job"})
    assert isinstance(from_trigger, JobFinished)
    assert from_trigger == in_process
    assert (from_trigger.job_status, from_trigger.counters.files_errored) == ("completed", 1)


async def test_file_finished_and_file_failed_both_ways(emulator, pdf_server):
    hook = MathpixHook()
    for source, kind in (
        (pdf_server.doc("one-page.pdf"), FileFinished),
        (pdf_server.missing("gone"), FileFailed),
    ):
        file_id = hook.submit_file(source)
        trigger = MathpixFileTrigger(
            file_id, "mathpix_default", poll_interval=0.05, end_time=time.time() + 30
        )
        from_trigger = await async_event(trigger)
        in_process = sync_event(lambda f=file_id: check_file(hook, f, None, LOG), {"file_id": file_id})
        assert isinstance(from_trigger, kind)
        assert from_trigger == in_process


async def test_batch_finished_both_ways(emulator, pdf_server):
    hook = MathpixHook()
    batch_id = hook.submit_image_batch({"a": pdf_server.doc("equation.png")}, formats=["latex_simplified"])
    trigger = MathpixImageBatchTrigger(
        batch_id, "mathpix_default", poll_interval=0.05, end_time=time.time() + 30
    )
    from_trigger = await async_event(trigger)
    in_process = sync_event(
        lambda: batch_event(batch_id, hook.get_image_batch(batch_id)), {"batch_id": batch_id}
    )
    assert isinstance(from_trigger, BatchFinished)
    assert from_trigger == in_process


async def test_api_error_both_ways(emulator):
    trigger = MathpixJobTrigger(
        "no-such-job", "mathpix_default", poll_interval=0.05, end_time=time.time() + 30
    )
    from_trigger = await async_event(trigger)
    in_process = sync_event(lambda: check_job(MathpixHook(), "no-such-job", LOG), {"job_id": "no-such-job"})
    assert isinstance(from_trigger, ApiError)
    assert from_trigger == in_process
    assert (from_trigger.code, from_trigger.http_status, from_trigger.on.job_id) == (
        "not_found",
        404,
        "no-such-job",
    )


async def test_timed_out_both_ways(emulator, pdf_server):
    emulator.configure(time_per_file=30)
    hook = MathpixHook()
    file_id = hook.submit_file(pdf_server.doc("one-page.pdf"))
    trigger = MathpixFileTrigger(file_id, "mathpix_default", poll_interval=0.05, end_time=time.time() + 0.3)
    from_trigger = await async_event(trigger)
    in_process = sync_event(lambda: check_file(hook, file_id, None, LOG), {"file_id": file_id}, seconds=0.3)
    assert isinstance(from_trigger, TimedOut)
    assert from_trigger == in_process


async def test_request_error_both_ways(emulator, monkeypatch):
    """A poll that fails on our side (no answer from Mathpix): its own kind, not a class name as code."""

    def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    async def aboom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(MathpixHook, "get_job", boom)
    monkeypatch.setattr(MathpixHook, "aget_job", aboom)
    trigger = MathpixJobTrigger("j", "mathpix_default", poll_interval=0.05, end_time=time.time() + 30)
    from_trigger = await async_event(trigger)
    in_process = sync_event(lambda: check_job(MathpixHook(), "j", LOG), {"job_id": "j"})
    assert isinstance(from_trigger, RequestError)
    assert from_trigger == in_process
    assert from_trigger.code == "request_error" and "RuntimeError: boom" in from_trigger.message


async def test_setup_error_both_ways():
    trigger = MathpixFileTrigger("f-1", "no_such_connection", poll_interval=0.05, end_time=time.time() + 5)
    from_trigger = await async_event(trigger)
    in_process = sync_event(
        lambda: check_file(MathpixHook(mathpix_conn_id="no_such_connection"), "f-1", None, LOG),
        {"file_id": "f-1"},
    )
    for event in (from_trigger, in_process):
        assert isinstance(event, SetupError)
        assert (event.code, event.on.file_id) == ("connection_not_found", "f-1")


@pytest.mark.timeout(60)
async def test_job_completed_round_trips_from_the_event_trigger(emulator, pdf_server, tmp_path: Path):
    submit_job(pdf_server, "watched-job", [pdf_server.doc("one-page.pdf")])
    trigger = MathpixJobCompletedTrigger(job_id="watched-job", state_path=str(tmp_path), poll_interval=0.05)
    run = trigger.run()
    payload = (await run.__anext__()).payload
    await run.aclose()  # type: ignore[attr-defined]
    stored = json.dumps(BaseSerialization.serialize(payload))
    event = from_payload(BaseSerialization.deserialize(json.loads(stored)))
    assert isinstance(event, JobCompleted)
    assert event.job_id == "watched-job" and event.counters.files_completed == 1
    assert payload["status"] == "completed"
