"""A keep-alive connection the server closed while it sat idle is dropped, never sent on.

httpcore asks each idle connection "is it readable?" before reusing it (a closed peer
reads as EOF); the hook's async streams answer that from a socket they look up once.
With no retries allowed, a request sent on the dead connection would fail the call.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import connect
from .hostile import HostileServer, Request, answer_json


def _answer_then_close(req: Request, sock: socket.socket) -> None:
    answer_json(sock, 200, {"signing_secret": "s"})  # keep-alive by HTTP/1.1 default...
    sock.shutdown(socket.SHUT_RDWR)  # ...but the server drops the connection right after
    sock.close()


@pytest.fixture
def closing_server(monkeypatch: pytest.MonkeyPatch) -> Any:
    with HostileServer(_answer_then_close) as server:
        connect(monkeypatch, server.url, max_retries=0)
        yield server


def test_async_calls_after_the_server_closed_the_idle_connection(closing_server: HostileServer) -> None:
    async def run() -> list[Any]:
        hook = MathpixHook()
        async with hook:  # one client, so the second call would reuse the first's connection
            answers = []
            for _ in range(3):
                answers.append(await hook.aget_webhook_config())
                await asyncio.sleep(0.2)  # the server's close has arrived
            return answers

    assert asyncio.run(run()) == [{"signing_secret": "s"}] * 3
    assert len(closing_server.requests) == 3


def test_sync_calls_after_the_server_closed_the_idle_connection(closing_server: HostileServer) -> None:
    with MathpixHook() as hook:
        answers = []
        for _ in range(3):
            answers.append(hook.get_webhook_config())
            time.sleep(0.2)
    assert answers == [{"signing_secret": "s"}] * 3
    assert len(closing_server.requests) == 3
