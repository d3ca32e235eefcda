"""Bodiless GETs built once per async client and sent again as they are (a trigger's polls).

What must still hold: a cookie the server sets goes back on the next request (httpx
puts cookies in at build time), nothing one client built is sent by the next, and the
built requests (their headers carry the app_key) never show or serialize the key.
"""

from __future__ import annotations

import copy
import pickle
import socket
from typing import Any

import httpx
import pytest

from airflow_provider_mathpix.hooks._send import Prepared
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from tests.reliability.hostile import HostileServer, Request, answer_json

from .conftest import APP_KEY, set_connection


def count_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URL of every request httpx builds (the real build still runs)."""
    built: list[str] = []
    real = httpx.AsyncClient.build_request

    def counted(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> httpx.Request:
        request = real(self, *args, **kwargs)
        built.append(request.url.path)
        return request

    monkeypatch.setattr(httpx.AsyncClient, "build_request", counted)
    return built


async def test_a_repeated_get_is_built_once_and_sent_again(
    hook: MathpixHook, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = count_builds(monkeypatch)
    before = emulator.stats()["requests"]
    async with hook:
        for _ in range(3):
            assert "aws" in await hook.aget_onboarding_identities()
        await hook.aget_webhook_config()
        jobs = [job async for job in hook.aiter_jobs(page_size=1)]
        assert len(hook._aprepared) == 2  # the two GETs; a listing page has a query and is never kept
    assert emulator.stats()["requests"] - before == 4 + max(1, len(jobs))  # every call went out
    assert built.count("/files/v1/onboarding/identities") == 1
    assert built.count("/files/v1/webhook-config") == 1


async def test_nothing_a_closed_client_built_is_sent_by_the_next(hook: MathpixHook, emulator: Any) -> None:
    async with hook:
        await hook.aget_onboarding_identities()
        first = hook._aprepared
        assert len(first) == 1
    assert len(hook._aprepared) == 0 and hook._aprepared is not first
    async with hook:
        await hook.aget_onboarding_identities()
        assert len(hook._aprepared) == 1


def _setting_a_cookie(req: Request, sock: socket.socket) -> None:
    headers = {"Set-Cookie": "lb=node-7; Path=/"} if "cookie" not in req.headers else {}
    answer_json(sock, 200, {"job_id": "j", "status": "processing"}, headers)


async def test_a_cookie_the_server_sets_goes_back_on_the_next_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    with HostileServer(_setting_a_cookie) as server:
        set_connection(monkeypatch, server.url)
        async with MathpixHook() as hook:
            for _ in range(3):
                await hook.aget_job("j")
    assert [r.headers.get("cookie") for r in server.requests] == [None, "lb=node-7", "lb=node-7"]
    assert all(r.headers["app_key"] == APP_KEY for r in server.requests)


async def test_prepared_requests_never_show_or_serialize_the_key(hook: MathpixHook) -> None:
    async with hook:
        await hook.aget_onboarding_identities()
        prepared = hook._aprepared
        assert isinstance(prepared, Prepared) and len(prepared) == 1
        assert APP_KEY not in repr(prepared) and APP_KEY not in str(prepared)
        for serialize in (pickle.dumps, copy.copy, copy.deepcopy):
            with pytest.raises(TypeError, match="app_key"):
                serialize(prepared)
