"""Finding 7: the app_key never leaves the provider, whatever the server echoes or the key holds."""

from __future__ import annotations

import json
import logging
import pickle
import socket
import time
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers.mathpix import MathpixJobTrigger

from .conftest import SECRET, connect
from .hostile import HostileServer, Request, answer

#: A key with characters that change under escaping (repr doubles ``\\``, JSON escapes ``"``).
TRICKY = 'mpx-k3y\\with"quote'


def _forms(key: str) -> list[str]:
    return [key, repr(key)[1:-1], json.dumps(key)[1:-1], repr(key.encode())[2:-1]]


def _echoing(key: str, status: int) -> Any:
    def behave(req: Request, sock: socket.socket) -> None:
        echoed = req.headers.get("app_key", "")
        body = json.dumps(
            {"error": "unauthorized", "error_info": {"id": "unauthorized", "message": f"bad key {echoed}"}}
        ).encode()
        answer(sock, status, body + f" raw={echoed} repr={echoed!r}".encode())

    return behave


def _leaks(text: str, key: str) -> list[str]:
    return [form for form in _forms(key) if form in text]


@pytest.mark.parametrize("key", [SECRET, TRICKY])
@pytest.mark.parametrize("status", [401, 500])
def test_an_echoed_key_is_redacted_everywhere(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, key: str, status: int
) -> None:
    caplog.set_level(logging.DEBUG)
    with HostileServer(_echoing(key, status)) as server:
        connect(monkeypatch, server.url, password=key)
        with MathpixHook() as hook, pytest.raises(MathpixAPIError) as info:
            hook.get_job("job-1")
        ok, message = MathpixHook().test_connection()
    exc = info.value
    assert len(server.requests) >= 1 and server.requests[0].headers["app_key"] == key
    texts = {
        "str": str(exc),
        "repr": repr(exc),
        "args": repr(exc.args),
        "message": exc.message,
        "pickle": repr(pickle.loads(pickle.dumps(exc)).__dict__) + str(pickle.loads(pickle.dumps(exc))),
        "test_connection": message,
        "logs": caplog.text,
    }
    assert not ok
    leaks = {where: _leaks(text, key) for where, text in texts.items() if _leaks(text, key)}
    assert leaks == {}
    assert "***" in str(exc)


async def test_trigger_error_event_redacts_an_echoed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with HostileServer(_echoing(SECRET, 401)) as server:
        connect(monkeypatch, server.url)
        trigger = MathpixJobTrigger("job-1", "mathpix_default", poll_interval=1, end_time=time.time() + 30)
        events = [event async for event in trigger.run()]
    assert events[0].payload["status"] == "error"
    assert _leaks(json.dumps(events[0].payload), SECRET) == []


@pytest.mark.parametrize(
    "key", ["k9Qw\r\nX-Evil: 1", "k9Qw\nZx7v", "k9Qw\x00Zx7v", "k9Qw\tZx7v", "k9Qw-clé-Zx7v"]
)
def test_a_key_with_control_or_non_ascii_characters_is_refused_unprinted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, key: str
) -> None:
    caplog.set_level(logging.DEBUG)
    with HostileServer(_echoing(key, 401)) as server:
        connect(monkeypatch, server.url, password=key)
        with MathpixHook() as hook, pytest.raises(MathpixValidationError) as info:
            hook.get_job("job-1")
        ok, message = MathpixHook().test_connection()
    assert server.requests == []  # refused before any request (and so never retried 5 times)
    assert "password" in str(info.value)
    for text in (str(info.value), repr(info.value), message, caplog.text):
        for part in ("k9Qw", "Zx7v", "X-Evil"):
            assert part not in text, text
    assert not ok
