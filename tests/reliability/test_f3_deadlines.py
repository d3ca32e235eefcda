"""Finding 3: a server trickling 1 byte/s must not hold a call (sync, async, trigger) past its bound.

``timeout`` bounds each network read; ``request_timeout`` bounds one whole request and
``retry_deadline`` every attempt of one call together. A trigger's ``end_time`` holds
even while a poll is in flight. Bounded by pytest-timeout: before the fix these calls
ran for hours (the trickled answer is 100,000 bytes long).
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers.mathpix import MathpixJobTrigger

from .conftest import connect
from .hostile import HostileServer, Request, trickle

LONG_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"{" * 100_000


def _trickler(server_stop: list[HostileServer]) -> Any:
    def behave(req: Request, sock: socket.socket) -> None:
        trickle(sock, LONG_ANSWER, per_byte=0.5, stop=server_stop[0].stop)

    return behave


@pytest.fixture
def trickling(monkeypatch: pytest.MonkeyPatch) -> Any:
    holder: list[HostileServer] = []
    server = HostileServer(_trickler(holder))
    holder.append(server)
    with server:
        connect(monkeypatch, server.url, timeout=5, request_timeout=1.5, max_retries=5, retry_deadline=4)
        yield server


@pytest.mark.timeout(60)
def test_sync_call_gives_up_on_a_trickling_server(trickling: HostileServer) -> None:
    with MathpixHook() as hook, pytest.raises(MathpixAPIError) as info:
        hook.get_job("job-slow")
    assert info.value.code == "timeout"
    assert "request_timeout" in info.value.message
    assert 1 <= len(trickling.requests) <= 4  # retried, but only within retry_deadline


@pytest.mark.timeout(60)
async def test_async_call_gives_up_on_a_trickling_server(trickling: HostileServer) -> None:
    with pytest.raises(MathpixAPIError) as info:
        await MathpixHook().aget_job("job-slow")
    assert info.value.code == "timeout"
    assert 1 <= len(trickling.requests) <= 4


@pytest.mark.timeout(60)
async def test_trigger_end_time_holds_while_a_poll_is_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder: list[HostileServer] = []
    server = HostileServer(_trickler(holder))
    holder.append(server)
    with server:
        # Generous per-call bounds: only the trigger's own deadline can end this wait.
        connect(monkeypatch, server.url, timeout=30, request_timeout=600, retry_deadline=3600)
        trigger = MathpixJobTrigger("job-slow", "mathpix_default", poll_interval=1, end_time=time.time() + 2)
        events = [event async for event in trigger.run()]
    assert len(events) == 1
    assert events[0].payload["status"] == "timeout"
    assert events[0].payload["job_id"] == "job-slow"
    assert len(server.requests) == 1
