"""The typed wait events: every kind survives the triggerer's serialization unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.serialization.serialized_objects import BaseSerialization

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.events import (
    ApiError,
    BatchFinished,
    FileFailed,
    FileFinished,
    JobCompleted,
    JobCounters,
    JobFinished,
    RequestError,
    SetupError,
    TimedOut,
    WaitEvent,
    WaitOn,
    from_payload,
)

EVERY_KIND: list[WaitEvent] = [
    JobFinished("job-1", "completed", JobCounters(3, 2, 1)),
    FileFinished("f-1", "completed", 7),
    FileFinished("f-2", "completed", None),
    BatchFinished(42, 5, 1),
    BatchFinished("b-7", 1, 0),
    JobCompleted("etl:2026-05-01", JobCounters(1, 1, 0)),
    FileFailed("f-1", "conversion_error", "conversion to 'docx' failed for file f-1"),
    ApiError(WaitOn(job_id="job-1"), "not_found", 404, "no such job"),
    ApiError(WaitOn(batch_id=3), "quota_exceeded", 429, "monthly quota"),
    RequestError(WaitOn(file_id="f-1"), "request_error", "RuntimeError: boom"),
    SetupError(WaitOn(file_id="f-1"), "connection_not_found", "the Airflow connection is not defined"),
    TimedOut(WaitOn(file_id="f-1")),
    TimedOut(WaitOn(job_id="job-1"), "deadline passed with job job-1 at 1/3", JobCounters(3, 1, 0)),
]


def through_the_triggerer(payload: dict[str, Any]) -> Any:
    """A payload as the triggerer stores it and hands it back (Airflow's serializer, JSON between)."""
    stored = json.dumps(BaseSerialization.serialize(payload))
    return BaseSerialization.deserialize(json.loads(stored))


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: f"{e.kind}")
def test_every_event_kind_round_trips_through_airflow_serialization(event: WaitEvent) -> None:
    payload = event.to_payload()
    assert payload["kind"] == event.kind
    back = through_the_triggerer(payload)
    assert back == payload
    assert from_payload(back) == event


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: f"{e.kind}")
def test_payload_keeps_the_verdict_and_the_id_waited_on(event: WaitEvent) -> None:
    payload = event.to_payload()
    verdict = {
        "job_finished": "success",
        "file_finished": "success",
        "batch_finished": "success",
        "job_completed": "completed",
        "timed_out": "timeout",
    }.get(event.kind, "error")
    assert payload["status"] == verdict
    assert {"job_id", "file_id", "batch_id"} & set(payload)
    if verdict == "error":
        assert {"code", "http_status", "message"} <= set(payload)


def test_a_job_status_keeps_one_name_from_trigger_to_report() -> None:
    payload = JobFinished("j", "completed", JobCounters(1, 1, 0)).to_payload()
    assert payload["job_status"] == "completed" and payload["status"] == "success"
    assert from_payload(payload).job_status == "completed"  # type: ignore[union-attr]
    record = {"job_id": "j", "status": "completed", "file_count": 1}
    assert JobFinished.from_record(record).job_status == "completed"


def test_setup_and_request_errors_say_where_they_stopped() -> None:
    assert SetupError(WaitOn(job_id="j"), "c", "m").to_payload()["stage"] == "setup"
    assert RequestError(WaitOn(job_id="j"), "request_error", "m").to_payload()["stage"] == "request"
    assert "stage" not in ApiError(WaitOn(job_id="j"), "c", 500, "m").to_payload()
    assert "stage" not in FileFailed("f", "c", "m").to_payload()


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "success", "job_id": "j"},  # no kind: never guessed from the keys
        {"kind": "exploded", "status": "error"},
        {"kind": "job_finished", "status": "success"},  # no job_id
        ["not", "a", "mapping"],
    ],
)
def test_anything_else_is_refused(payload: Any) -> None:
    with pytest.raises(InvalidInput):
        from_payload(payload)
