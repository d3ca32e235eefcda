"""The one way benchmarks start the Mathpix emulator: its CLI in a process of its own.

A separate process keeps the emulator's CPU and memory out of the figures of the
client being measured.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import NamedTuple


class RunningEmulator(NamedTuple):
    url: str
    pid: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def emulator_process(*cli_args: str, start_timeout: float = 60.0) -> Iterator[RunningEmulator]:
    """Run ``python -m airflow_provider_mathpix.testing`` with ``cli_args`` until the block ends."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_mathpix.testing", "--port", str(port), *cli_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the emulator did not start")
            time.sleep(0.2)
        yield RunningEmulator(url, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def request_rate(url: str, path: str, headers: dict[str, str], concurrency: int, seconds: float) -> float:
    """The emulator's own rate (requests/s) of ``GET path`` from ``concurrency`` bare httpx coroutines.

    The limit any client of that endpoint can reach on this machine: nothing but the
    request and reading the body.
    """
    import asyncio

    import httpx

    async def run() -> float:
        done = 0
        async with httpx.AsyncClient(base_url=url, headers=headers) as client:
            await client.get(path)
            end = time.perf_counter() + seconds
            began = time.perf_counter()

            async def worker() -> None:
                nonlocal done
                while time.perf_counter() < end:
                    (await client.get(path)).raise_for_status()
                    done += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return done / (time.perf_counter() - began)

    return asyncio.run(run())
