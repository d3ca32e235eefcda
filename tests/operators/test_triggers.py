"""MathpixJobTrigger / MathpixFileTrigger run against the emulator over real HTTP.

The triggers run exactly as the triggerer runs them: rebuilt from ``serialize()``,
``run()`` iterated in an asyncio loop, every poll a real request to the emulator.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from airflow.sdk._shared.module_loading import import_string
from airflow.sdk.serde import deserialize, serialize

from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers.mathpix import MathpixFileTrigger, MathpixJobTrigger
from tests.system.support import APP_KEY

FAST_CONN = "mathpix_fast_retries"


@pytest.fixture
def fast_conn(emulator, monkeypatch):
    """A connection whose hook gives up after one retry, so faults reach the trigger's own loop."""
    extra = {"max_retries": 1, "retry_max_wait": 0.01, "retry_deadline": 5}
    value = json.dumps({"conn_type": "mathpix", "host": emulator.url, "password": APP_KEY, "extra": extra})
    monkeypatch.setenv(f"AIRFLOW_CONN_{FAST_CONN.upper()}", value)
    return FAST_CONN


def rebuilt(trigger: Any) -> Any:
    """Round-trip through serialize() and Airflow's serde, as the triggerer does."""
    classpath, kwargs = trigger.serialize()
    return import_string(classpath)(**deserialize(serialize(kwargs)))


async def events_of(trigger: Any) -> list[dict[str, Any]]:
    return [event.payload async for event in rebuilt(trigger).run()]


def submit_job(pdf_server: Any, job_id: str, sources: list[str]) -> None:
    items = [{"source_uri": uri, "custom_id": f"doc-{i}"} for i, uri in enumerate(sources)]
    MathpixHook().submit_job(items, job_id=job_id)


# --------------------------------------------------------------------------- serialization


def test_job_trigger_serializes_only_ids_conn_interval_and_deadline():
    trigger = MathpixJobTrigger(job_id="job-1", conn_id="mathpix_default", poll_interval=5, end_time=1e9)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_mathpix.triggers.mathpix.MathpixJobTrigger"
    assert kwargs == {"job_id": "job-1", "conn_id": "mathpix_default", "poll_interval": 5.0, "end_time": 1e9}
    again = rebuilt(trigger)
    assert isinstance(again, MathpixJobTrigger)
    assert again.serialize() == trigger.serialize()


def test_file_trigger_serializes_formats_too():
    trigger = MathpixFileTrigger(
        file_id="f-1", conn_id="c", poll_interval=1.5, end_time=123.0, formats=["docx", "tex.zip"]
    )
    _, kwargs = trigger.serialize()
    assert kwargs == {
        "file_id": "f-1",
        "conn_id": "c",
        "poll_interval": 1.5,
        "end_time": 123.0,
        "formats": ["docx", "tex.zip"],
    }
    assert rebuilt(trigger).serialize() == trigger.serialize()


# --------------------------------------------------------------------------- job trigger events


async def test_job_trigger_success_event_with_counters(emulator, pdf_server, capsys):
    submit_job(pdf_server, "job-ok", [pdf_server.doc("one-page.pdf"), pdf_server.missing("x")])
    trigger = MathpixJobTrigger("job-ok", "mathpix_default", poll_interval=0.1, end_time=time.time() + 30)

    events = await events_of(trigger)

    assert events == [
        {
            "kind": "job_finished",
            "job_id": "job-ok",
            "status": "success",
            "job_status": "completed",
            "file_count": 2,
            "files_completed": 1,
            "files_errored": 1,
        }
    ]
    logs = capsys.readouterr().out
    assert "Mathpix job job-ok: 1/2 completed, 1 errored" in logs
    assert APP_KEY not in logs


async def test_job_trigger_error_event_carries_api_code(emulator):
    trigger = MathpixJobTrigger(
        "no-such-job", "mathpix_default", poll_interval=0.1, end_time=time.time() + 30
    )
    events = await events_of(trigger)
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert events[0]["code"] == "not_found"
    assert events[0]["http_status"] == 404
    assert events[0]["job_id"] == "no-such-job"
    assert events[0]["message"]


async def test_job_trigger_unauthorized_is_an_error_not_a_retry(monkeypatch, pdf_server):
    from airflow_provider_mathpix.testing import MathpixEmulator

    with MathpixEmulator(app_keys=["the-right-key"]) as emu:
        conn = json.dumps({"conn_type": "mathpix", "host": emu.url, "password": APP_KEY})
        monkeypatch.setenv("AIRFLOW_CONN_MATHPIX_DEFAULT", conn)
        trigger = MathpixJobTrigger("any", "mathpix_default", poll_interval=0.1, end_time=time.time() + 30)
        events = await events_of(trigger)
        assert [e["status"] for e in events] == ["error"]
        assert events[0]["code"] == "unauthorized"
        assert emu.stats()["requests"] == 1
    assert APP_KEY not in json.dumps(events)


async def test_job_trigger_times_out_at_its_deadline(emulator, pdf_server):
    emulator.configure(time_per_file=30)
    submit_job(pdf_server, "job-slow", [pdf_server.doc("one-page.pdf")])
    started = time.time()
    trigger = MathpixJobTrigger("job-slow", "mathpix_default", poll_interval=0.1, end_time=started + 0.6)

    events = await events_of(trigger)

    assert len(events) == 1
    event = events[0]
    assert event["status"] == "timeout"
    assert event["job_id"] == "job-slow"
    assert event["file_count"] == 1 and event["files_completed"] == 0
    assert "0/1 completed" in event["message"]
    assert time.time() >= started + 0.6


async def test_job_trigger_deadline_already_passed_still_polls_once(emulator, pdf_server):
    """A trigger resumed after its deadline reports the truth if the job is done, else timeout."""
    submit_job(pdf_server, "job-done", [pdf_server.doc("one-page.pdf")])
    MathpixHook().get_job("job-done")
    trigger = MathpixJobTrigger("job-done", "mathpix_default", poll_interval=0.1, end_time=time.time() + 20)
    assert (await events_of(trigger))[0]["status"] == "success"
    late = MathpixJobTrigger("job-done", "mathpix_default", poll_interval=0.1, end_time=time.time() - 1)
    assert (await events_of(late))[0]["status"] == "success"


@pytest.mark.parametrize("kind", ["503", "429", "html_502", "drop"])
async def test_job_trigger_rides_out_transient_faults_mid_poll(emulator, pdf_server, fast_conn, kind, capsys):
    """More consecutive faults than the hook retries: the trigger itself keeps polling."""
    submit_job(pdf_server, "job-faults", [pdf_server.doc("two-pages.pdf")])
    emulator.set_faults([{"method": "GET", "path": "/files/v1/jobs/job-faults", "kind": kind, "count": 6}])
    trigger = MathpixJobTrigger("job-faults", fast_conn, poll_interval=0.05, end_time=time.time() + 60)

    events = await events_of(trigger)

    assert [e["status"] for e in events] == ["success"]
    assert emulator.stats()["faults_injected"] == 6
    assert "Transient error while polling Mathpix" in capsys.readouterr().out


async def test_job_trigger_quota_exceeded_is_not_ridden_out(emulator, fast_conn):
    emulator.set_faults([{"method": "GET", "path": "/files/v1/jobs/*", "kind": "quota_exceeded"}])
    trigger = MathpixJobTrigger("job-q", fast_conn, poll_interval=0.05, end_time=time.time() + 60)
    events = await events_of(trigger)
    assert [(e["status"], e["code"]) for e in events] == [("error", "quota_exceeded")]


async def test_job_trigger_uses_one_client_for_all_polls(emulator, pdf_server, monkeypatch):
    """``async with hook`` opens one AsyncClient; polls reuse it."""
    import httpx

    opened: list[Any] = []
    real_init = httpx.AsyncClient.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        opened.append(str(kwargs.get("base_url")))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)
    emulator.configure(time_per_file=0.5)
    submit_job(pdf_server, "job-one-client", [pdf_server.doc("one-page.pdf")])
    before = emulator.stats()["requests"]
    trigger = MathpixJobTrigger(
        "job-one-client", "mathpix_default", poll_interval=0.05, end_time=time.time() + 30
    )

    events = await events_of(trigger)

    assert events[0]["status"] == "success"
    assert emulator.stats()["requests"] - before >= 3  # several polls...
    assert opened.count(emulator.url) == 1  # ...over one client


# --------------------------------------------------------------------------- file trigger events


async def test_file_trigger_waits_for_lagging_formats(emulator, pdf_server):
    emulator.configure(format_lag=0.6)
    file_id = MathpixHook().submit_file(pdf_server.doc("two-pages.pdf"), conversion_formats={"docx": True})
    trigger = MathpixFileTrigger(
        file_id, "mathpix_default", poll_interval=0.05, end_time=time.time() + 30, formats=["docx"]
    )

    events = await events_of(trigger)

    assert events == [
        {
            "kind": "file_finished",
            "file_id": file_id,
            "status": "success",
            "file_status": "completed",
            "num_pages": 2,
        }
    ]
    assert MathpixHook().get_file(file_id)["formats"]["docx"] == "completed"


@pytest.mark.parametrize(
    ("fmt", "ext"), [("tex.zip", "tex.zip"), ("latex", "tex"), ("jpg", "jpg"), ("png", "png")]
)
async def test_file_trigger_waits_for_every_listed_format(emulator, pdf_server, fmt, ext):
    """tex.zip is keyed tex.zip in ``formats``; latex (one .tex file) is keyed latex: the waits end."""
    emulator.configure(format_lag=0.3)  # the heaviest formats finish ~1 s after the file
    hook = MathpixHook()
    file_id = hook.submit_file(pdf_server.doc("two-pages.pdf"), conversion_formats={fmt: True})
    trigger = MathpixFileTrigger(
        file_id, "mathpix_default", poll_interval=0.05, end_time=time.time() + 30, formats=[ext]
    )

    events = await events_of(trigger)

    assert [e["status"] for e in events] == ["success"]
    assert hook.get_file(file_id)["formats"] == {fmt: "completed"}
    assert hook.download_output(file_id, ext)  # ready the moment the wait ends


async def test_file_trigger_without_formats_fires_on_file_status(emulator, pdf_server):
    emulator.configure(format_lag=30)
    file_id = MathpixHook().submit_file(pdf_server.doc("one-page.pdf"), conversion_formats={"docx": True})
    trigger = MathpixFileTrigger(file_id, "mathpix_default", poll_interval=0.05, end_time=time.time() + 30)
    events = await events_of(trigger)
    assert [e["status"] for e in events] == ["success"]
    assert MathpixHook().get_file(file_id)["formats"].get("docx") != "completed"


async def test_file_trigger_error_event_for_a_file_that_failed(emulator, pdf_server):
    file_id = MathpixHook().submit_file(pdf_server.missing("gone.pdf"))
    trigger = MathpixFileTrigger(file_id, "mathpix_default", poll_interval=0.05, end_time=time.time() + 30)
    events = await events_of(trigger)
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert events[0]["code"] == "not_found"
    assert "404" in events[0]["message"]


async def test_file_trigger_timeout(emulator, pdf_server):
    emulator.configure(time_per_file=30)
    file_id = MathpixHook().submit_file(pdf_server.doc("one-page.pdf"))
    trigger = MathpixFileTrigger(file_id, "mathpix_default", poll_interval=0.05, end_time=time.time() + 0.3)
    events = await events_of(trigger)
    assert [e["status"] for e in events] == ["timeout"]
    assert events[0]["file_id"] == file_id


async def test_missing_connection_is_one_error_event(monkeypatch):
    trigger = MathpixJobTrigger("j", "no_such_connection", poll_interval=0.05, end_time=time.time() + 5)
    events = await events_of(trigger)
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert "no_such_connection" in events[0]["message"]
    assert events[0]["code"] == "connection_not_found"
    assert events[0]["stage"] == "setup"


async def test_file_trigger_missing_connection_is_not_reported_as_a_failed_file():
    """The trigger never reached Mathpix: the event names the cause, and the operator says so."""
    from airflow_provider_mathpix.common.failures import raise_for_wait_failure
    from airflow_provider_mathpix.exceptions import MathpixFileFailed, MathpixSetupError

    trigger = MathpixFileTrigger("f-1", "no_such_connection", poll_interval=0.05, end_time=time.time() + 5)
    [event] = await events_of(trigger)
    assert event["code"] == "connection_not_found"
    with pytest.raises(MathpixSetupError) as caught:
        raise_for_wait_failure(event)
    assert not isinstance(caught.value, MathpixFileFailed)
    assert caught.value.code == "connection_not_found"
    assert "no_such_connection" in str(caught.value)
    assert "Mathpix file" not in str(caught.value)


async def test_trigger_that_cannot_build_its_client_yields_trigger_setup_error(monkeypatch):
    """A connection Airflow finds but the hook refuses (a bad base URL): a setup error, not a failed file."""
    value = json.dumps({"conn_type": "mathpix", "host": "ftp://example.invalid", "password": APP_KEY})
    monkeypatch.setenv("AIRFLOW_CONN_MATHPIX_BAD_HOST", value)
    trigger = MathpixFileTrigger("f-1", "mathpix_bad_host", poll_interval=0.05, end_time=time.time() + 5)
    [event] = await events_of(trigger)
    assert event["status"] == "error"
    assert event["code"] == "trigger_setup_error"
    assert event["stage"] == "setup"
    assert "ftp" in event["message"]
    assert APP_KEY not in json.dumps(event)
