"""One connection read per process on the async path, and every way a cached read is renewed.

The first half drives ``SettingsCache`` directly with a counting ``read`` (the rules:
single flight, TTL, a changed ``AIRFLOW_CONN_<ID>``, a refused key, failures never
kept); the second runs real hooks against the emulator.
"""

from __future__ import annotations

import asyncio
import copy
import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks._connection import ClientSettings
from airflow_provider_mathpix.hooks._settings_cache import SHARED_SETTINGS, SettingsCache
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import APP_KEY, set_connection

CONN = "mathpix_cache_test"


def settings(key: str = APP_KEY, conn_id: str = CONN) -> ClientSettings:
    return ClientSettings(conn_id=conn_id, base_url="https://api.mathpix.com", app_key=key, app_id=None)


class Reads:
    """A ``read`` for the cache that counts its calls (and can be slow or fail)."""

    def __init__(self, delay: float = 0.0, fail: int = 0) -> None:
        self.calls = 0
        self.delay = delay
        self.fail = fail

    async def __call__(self) -> ClientSettings:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.calls <= self.fail:
            raise LookupError("the connection store is down")
        return settings()


@pytest.fixture(autouse=True)
def _fresh_shared_cache() -> Iterator[None]:
    SHARED_SETTINGS.clear()
    yield
    SHARED_SETTINGS.clear()


async def test_concurrent_readers_share_one_read() -> None:
    cache, read = SettingsCache(), Reads(delay=0.05)
    got = await asyncio.gather(*(cache.get(CONN, read) for _ in range(50)))
    assert read.calls == 1
    assert all(s is got[0] for s in got)
    assert await cache.get(CONN, read) is got[0] and read.calls == 1


async def test_an_entry_serves_for_its_ttl_only() -> None:
    now = [100.0]
    cache, read = SettingsCache(ttl=60, clock=lambda: now[0]), Reads()
    await cache.get(CONN, read)
    now[0] += 59.9
    await cache.get(CONN, read)
    assert read.calls == 1
    now[0] += 0.2
    await cache.get(CONN, read)
    assert read.calls == 2


async def test_a_changed_environment_definition_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    cache, read = SettingsCache(), Reads()
    var = f"AIRFLOW_CONN_{CONN.upper()}"
    monkeypatch.delenv(var, raising=False)
    await cache.get(CONN, read)
    monkeypatch.setenv(var, '{"conn_type": "mathpix", "password": "k1"}')
    await cache.get(CONN, read)
    await cache.get(CONN, read)
    assert read.calls == 2  # set: read again, then served
    monkeypatch.setenv(var, '{"conn_type": "mathpix", "password": "k2"}')
    await cache.get(CONN, read)
    monkeypatch.delenv(var)
    await cache.get(CONN, read)
    assert read.calls == 4  # edited, then removed: read again each time


async def test_a_failed_read_is_not_kept_and_its_waiters_read_for_themselves() -> None:
    cache, read = SettingsCache(), Reads(delay=0.05, fail=1)
    outcomes = await asyncio.gather(*(cache.get(CONN, read) for _ in range(3)), return_exceptions=True)
    assert isinstance(outcomes[0], LookupError)  # the shared read failed...
    assert [type(o) for o in outcomes[1:]] == [ClientSettings, ClientSettings]  # ...its waiters read again
    assert read.calls == 3
    await cache.get(CONN, read)
    await cache.get(CONN, read)
    assert read.calls == 4  # the failure was not kept: the next reader read, and that read is kept


async def test_a_cancelled_waiter_does_not_cancel_the_shared_read() -> None:
    cache, read = SettingsCache(), Reads(delay=0.1)
    leader = asyncio.ensure_future(cache.get(CONN, read))
    await asyncio.sleep(0.01)
    waiter = asyncio.ensure_future(cache.get(CONN, read))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert isinstance(await leader, ClientSettings)
    assert read.calls == 1


async def test_a_cancelled_read_lets_its_waiters_read_for_themselves() -> None:
    cache, read = SettingsCache(), Reads(delay=0.1)
    leader = asyncio.ensure_future(cache.get(CONN, read))
    await asyncio.sleep(0.01)
    waiter = asyncio.ensure_future(cache.get(CONN, read))
    await asyncio.sleep(0.01)
    leader.cancel()
    assert isinstance(await waiter, ClientSettings)
    assert read.calls == 2


async def test_forget_drops_the_refused_settings_only() -> None:
    cache, read = SettingsCache(), Reads()
    first = await cache.get(CONN, read)
    cache.forget(settings())  # equal, but not the object read: a newer read is never dropped
    assert await cache.get(CONN, read) is first and read.calls == 1
    cache.forget(first)
    assert await cache.get(CONN, read) is not first and read.calls == 2


async def test_the_cache_never_shows_or_serializes_the_key() -> None:
    cache = SettingsCache()
    await cache.get(CONN, Reads())
    entry = cache._entries[CONN]
    for obj in (cache, entry):
        assert APP_KEY not in repr(obj) and APP_KEY not in str(obj)
        for serialize in (pickle.dumps, copy.copy, copy.deepcopy):
            with pytest.raises(TypeError, match="app_key"):
                serialize(obj)


# --------------------------------------------------------------------------- real hooks


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every connection read the hooks make (the real read still runs)."""
    reads: list[str] = []
    real = MathpixHook._aread_settings

    async def counted(self: MathpixHook) -> ClientSettings:
        reads.append(self.mathpix_conn_id)
        return await real(self)

    monkeypatch.setattr(MathpixHook, "_aread_settings", counted)
    return reads


async def test_hooks_starting_together_read_the_connection_once(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(monkeypatch)

    async def one() -> dict[str, Any]:
        async with MathpixHook() as hook:
            return await hook.aget_onboarding_identities()

    answers = await asyncio.gather(*(one() for _ in range(20)))
    assert len(answers) == 20 and reads == ["mathpix_default"]


async def test_an_edited_connection_is_used_by_the_next_wait(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = mathpix_emulator_factory(), mathpix_emulator_factory()
    set_connection(monkeypatch, first.url)
    await MathpixHook().aget_onboarding_identities()
    set_connection(monkeypatch, second.url)
    await MathpixHook().aget_onboarding_identities()
    assert (first.stats()["requests"], second.stats()["requests"]) == (1, 1)


async def test_a_refused_key_is_read_again_by_the_next_wait(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = mathpix_emulator_factory(app_keys=["the-right-key"])
    set_connection(monkeypatch, emu.url)
    reads = count_reads(monkeypatch)
    for _ in range(2):
        with pytest.raises(MathpixAPIError) as info:
            await MathpixHook().aget_onboarding_identities()
        assert info.value.http_status == 401
    assert len(reads) == 2  # the 401 dropped the cached read: the second hook read again
    set_connection(monkeypatch, emu.url, password="the-right-key")
    await MathpixHook().aget_onboarding_identities()
    await MathpixHook().aget_onboarding_identities()
    assert len(reads) == 3  # a key that works is read once and kept
