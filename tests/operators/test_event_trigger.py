"""The AssetWatcher event trigger: once per completed job, and still once after a restart.

Jobs are submitted to the emulator through the hook (as another DAG or a script would);
the trigger runs its real poll loop against it. A "restart" is what a triggerer does: a
new trigger object built from ``serialize()`` of the old one, the old one gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixError, MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers.events import MathpixJobCompletedTrigger, require_event_triggers


def submit(pdf_server: Any, job_id: str) -> None:
    MathpixHook().submit_job(
        [{"source_uri": pdf_server.doc("one-page.pdf"), "custom_id": "doc"}], job_id=job_id
    )


async def collect(trigger: MathpixJobCompletedTrigger, want: int, seconds: float) -> list[dict[str, Any]]:
    """Events the trigger yields within ``seconds`` (stopping early once ``want`` arrived)."""
    events: list[dict[str, Any]] = []
    run: AsyncIterator[Any] = trigger.run()

    async def consume() -> None:
        async for event in run:
            events.append(event.payload)
            if len(events) >= want:
                return

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(consume(), timeout=seconds)
    await run.aclose()  # type: ignore[attr-defined]
    return events


def rebuilt(trigger: MathpixJobCompletedTrigger) -> MathpixJobCompletedTrigger:
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_mathpix.triggers.events.MathpixJobCompletedTrigger"
    json.dumps(kwargs)  # only plain values: the triggerer stores them in the metadata DB
    return MathpixJobCompletedTrigger(**kwargs)


async def test_prefix_trigger_fires_once_per_completed_job_across_restarts(
    emulator: Any, pdf_server: Any, tmp_path: Path
) -> None:
    submit(pdf_server, "etl:2026-05-01")
    submit(pdf_server, "etl:2026-05-02")
    submit(pdf_server, "other:2026-05-01")
    trigger = MathpixJobCompletedTrigger(
        job_id_prefix="etl:", state_path=str(tmp_path / "fired"), poll_interval=0.1
    )
    first = await collect(trigger, want=2, seconds=30)
    assert sorted(e["job_id"] for e in first) == ["etl:2026-05-01", "etl:2026-05-02"]
    assert all(e["status"] == "completed" and e["files_completed"] == 1 for e in first)

    # The triggerer restarts: a new object from the serialized kwargs fires nothing old...
    restarted = rebuilt(trigger)
    assert await collect(restarted, want=1, seconds=1.5) == []
    # ...and exactly the job that completes afterwards.
    submit(pdf_server, "etl:2026-05-03")
    again = rebuilt(restarted)
    later = await collect(again, want=2, seconds=5)
    assert [e["job_id"] for e in later] == ["etl:2026-05-03"]
    assert "demo-app-key" not in json.dumps(trigger.serialize()[1])


async def test_job_id_trigger_waits_for_the_job(emulator: Any, pdf_server: Any, tmp_path: Path) -> None:
    trigger = MathpixJobCompletedTrigger(job_id="late-job", state_path=str(tmp_path), poll_interval=0.1)
    assert await collect(trigger, want=1, seconds=1.0) == []  # not submitted yet: nothing, no crash
    submit(pdf_server, "late-job")
    events = await collect(rebuilt(trigger), want=2, seconds=5)
    assert [e["job_id"] for e in events] == ["late-job"]
    assert (tmp_path / "late-job.fired").exists()


def test_bad_arguments_and_missing_event_triggers() -> None:
    with pytest.raises(MathpixValidationError, match="exactly one of job_id or job_id_prefix"):
        MathpixJobCompletedTrigger(state_path="/tmp/x")
    with pytest.raises(MathpixValidationError, match="state_path"):
        MathpixJobCompletedTrigger(job_id="j", state_path="")
    with pytest.raises(MathpixError, match=r"needs Airflow >= 3\.0"):
        require_event_triggers(available=False)


def test_asset_watcher_accepts_it() -> None:
    from airflow.sdk import Asset, AssetWatcher

    trigger = MathpixJobCompletedTrigger(job_id_prefix="etl:", state_path="/tmp/fired")
    asset = Asset("mathpix_jobs", watchers=[AssetWatcher(name="mathpix_jobs_watcher", trigger=trigger)])
    assert asset.watchers[0].trigger is trigger
