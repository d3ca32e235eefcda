"""Finding 8: many clients told to come back at once must not come back in lockstep.

Measured on the emulator's side: the arrival time of every request
(``MathpixEmulator.arrivals()``), counted per 100 ms window. No timing of our code.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

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


#: A triggerer of its own: 1,000 job triggers in one event loop, in a subprocess (as in a
#: deployment), so the emulator's clock is not the client's CPU. Arguments: how many
#: triggers, the poll interval, and how long they wait once the process is ready.
TRIGGERER = textwrap.dedent(
    """
    import asyncio, sys, time
    from airflow_provider_mathpix.triggers.mathpix import MathpixJobTrigger

    async def main(n, interval, seconds):
        # The deadline counts from here, after the imports: on a loaded machine importing
        # Airflow can take longer than the whole window, and every trigger would time out
        # before its first poll.
        end_time = time.time() + seconds
        async def run(trigger):
            return [event async for event in trigger.run()]
        triggers = [MathpixJobTrigger("job-slow", "mathpix_default", interval, end_time) for _ in range(n)]
        results = await asyncio.gather(*(run(t) for t in triggers))
        print(sum(r[0].payload["status"] == "timeout" for r in results))

    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])))
    """
)


@pytest.mark.timeout(300)
def test_a_thousand_triggers_do_not_poll_in_waves(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, pdf_server: Any
) -> None:
    emu = mathpix_emulator_factory(time_per_file=3600)
    connect(monkeypatch, emu.url)
    with MathpixHook() as hook:
        hook.submit_job([{"source_uri": pdf_server.doc("one-page.pdf"), "custom_id": "x"}], job_id="job-slow")
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", TRIGGERER, "1000", "5", "20"],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
        env=dict(os.environ),
    )
    assert out.stdout.strip().splitlines()[-1] == "1000"  # every trigger ended with its timeout event
    polls = [t for t, method, path in emu.arrivals() if path == "/files/v1/jobs/job-slow" and t >= start]
    busiest = busiest_window(polls)
    print(f"1,000 triggers: {len(polls)} polls, busiest 100 ms window holds {busiest}")
    import collections

    print(sorted(collections.Counter(int((t - start) * 2) / 2 for t in polls).items()))
    assert len(polls) >= 1000
    assert busiest <= 100  # 10 % of one round of polls (in lockstep, one window held ~all)
