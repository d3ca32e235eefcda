"""Finding 8: many clients told to come back at once must not come back in lockstep.

Measured on the emulator's side: the arrival time of every request
(``MathpixEmulator.arrivals()``), counted per 100 ms window. No timing of our code.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers.mathpix import MathpixJobTrigger

from .conftest import connect

WINDOW = 0.1


def busiest_window(times: list[float]) -> int:
    """The most arrivals within any WINDOW seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > WINDOW:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.timeout(120)
async def test_retries_after_retry_after_are_spread(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = mathpix_emulator_factory(
        faults=[{"kind": "429_retry_after", "path": "/files/v1/jobs/*", "retry_after": 2, "count": 100}]
    )
    connect(monkeypatch, emu.url, max_retries=2, retry_max_wait=10)
    hook = MathpixHook()
    async with hook:
        outcomes = await asyncio.gather(
            *(hook.aget_job(f"job-{i}") for i in range(100)), return_exceptions=True
        )
    assert all(
        isinstance(o, MathpixAPIError) and o.code != "rate_limited" for o in outcomes
    )  # all got past it
    arrivals = [t for t, method, path in emu.arrivals() if path.startswith("/files/v1/jobs/")]
    assert len(arrivals) == 200
    retries = sorted(arrivals)[100:]
    busiest = busiest_window(retries)
    print(f"retries after Retry-After: 2 -- busiest 100 ms window holds {busiest} of 100")
    assert busiest <= 30  # was 90 of 100


@pytest.mark.timeout(300)
async def test_a_thousand_triggers_do_not_poll_in_waves(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, pdf_server: Any
) -> None:
    emu = mathpix_emulator_factory(time_per_file=3600)
    connect(monkeypatch, emu.url)
    with MathpixHook() as hook:
        hook.submit_job([{"source_uri": pdf_server.doc("one-page.pdf"), "custom_id": "x"}], job_id="job-slow")
    start = time.time()
    triggers = [
        MathpixJobTrigger("job-slow", "mathpix_default", poll_interval=2, end_time=start + 5)
        for _ in range(1000)
    ]

    async def run(trigger: MathpixJobTrigger) -> Any:
        return [event async for event in trigger.run()]

    results = await asyncio.gather(*(run(t) for t in triggers))
    assert all(r[0].payload["status"] == "timeout" for r in results)
    polls = [t for t, method, path in emu.arrivals() if path == "/files/v1/jobs/job-slow" and t >= start]
    busiest = busiest_window(polls)
    print(f"1,000 triggers: {len(polls)} polls, busiest 100 ms window holds {busiest}")
    assert len(polls) >= 1000
    assert busiest <= 150  # 15 % of one round; in lockstep one window held them all
