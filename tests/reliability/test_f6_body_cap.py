"""Finding 6: a JSON or error body is never read whole (300 MB ``200`` and ``500`` answers).

The client (a sync call, then an async one) runs in a subprocess so its peak resident memory (``VmHWM`` of
``/proc/<pid>/status``, which, unlike ``ru_maxrss``, is the process's own) can be read
after the call. The baseline is the same process making the same call to a server
that answers a tiny body.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from .conftest import SECRET
from .hostile import HostileServer, Request, answer_json, stream_body

HUGE = 300 * 1024 * 1024

CLIENT = textwrap.dedent(
    """
    import json, sys
    from airflow_provider_mathpix.exceptions import MathpixAPIError
    from airflow_provider_mathpix.hooks.mathpix import MathpixHook
    import asyncio
    outcome = {}
    try:
        with MathpixHook() as hook:
            outcome["result"] = str(hook.get_job("job-1"))[:100]
    except MathpixAPIError as exc:
        outcome.update(code=exc.code, message=exc.message)
    try:  # the async path too (a triggerer's): VmHWM is the peak of both
        outcome["async_result"] = str(asyncio.run(MathpixHook().aget_job("job-1")))[:100]
    except MathpixAPIError as exc:
        outcome.update(async_code=exc.code, async_message=exc.message)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                outcome["vmhwm_kb"] = int(line.split()[1])
    print(json.dumps(outcome))
    """
)


def _client(url: str) -> dict[str, Any]:
    conn = {
        "conn_type": "mathpix",
        "host": url,
        "password": SECRET,
        "extra": {"max_retries": 2, "retry_max_wait": 0.01, "timeout": 30},
    }
    env = {**os.environ, "AIRFLOW_CONN_MATHPIX_DEFAULT": json.dumps(conn)}
    out = subprocess.run(
        [sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _huge(status: int, announce: bool) -> Any:
    def behave(req: Request, sock: socket.socket) -> None:
        stream_body(sock, status, HUGE, announce=announce)

    return behave


def _small(req: Request, sock: socket.socket) -> None:
    answer_json(sock, 200, {"job_id": "job-1", "status": "completed"})


@pytest.mark.timeout(600)
@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "until-close"])
@pytest.mark.parametrize("status", [200, 500])
def test_huge_bodies_are_capped(status: int, announce: bool) -> None:
    with HostileServer(_small) as server:
        baseline = _client(server.url)
    with HostileServer(_huge(status, announce)) as server:
        outcome = _client(server.url)
        attempts = len(server.requests)
    peak, base = outcome["vmhwm_kb"] // 1024, baseline["vmhwm_kb"] // 1024
    kind = "announced" if announce else "unannounced"
    print(f"HTTP {status} ({kind}): peak RSS {peak} MB, baseline {base} MB")
    assert outcome.get("code") == ("invalid_response" if status == 200 else "internal_error") or (
        status == 500 and outcome.get("code") == "http_500"
    ), outcome
    assert outcome.get("async_code") == outcome.get("code")
    if status == 200:
        assert ("314,572,800 bytes announced" if announce else "more than 33,554,432 bytes") in outcome[
            "message"
        ]
        assert attempts == 2  # a too-large answer is not retried (one sync call, one async)
    else:
        assert attempts == 6  # still retried (a 500 is transient), each body cut short
    assert outcome["vmhwm_kb"] - baseline["vmhwm_kb"] < 64 * 1024, (outcome, baseline)
