"""A connection's settings, read once for all the hooks of a process on the async path.

A triggerer that picks up 1,000 of our triggers would otherwise read the same connection
1,000 times at once: a worker-thread hop each and, on Airflow 3, a round trip to the API
server, most of what a trigger costs before its first poll. Here the triggers share one
read per connection id, under rules that keep a changed connection from going unnoticed:

- one read at a time per connection id: readers arriving while it is in flight wait for
  it (a failed read is never shared nor kept: each of them then reads for itself);
- an entry serves for at most :data:`SETTINGS_TTL` seconds, then the connection is read again;
- an entry is read again at once when ``AIRFLOW_CONN_<ID>``, the environment's definition
  of the connection, was set, changed or removed since it was read;
- an entry whose key the API refused (HTTP 401) is dropped (:meth:`SettingsCache.forget`),
  so the next wait reads the connection again instead of failing on the old key.

A trigger that is already waiting keeps the settings it started with (its client holds
them), as it always did. Entries hold the app_key: their ``repr`` never shows it and
pickling them is refused.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import NoReturn

from airflow_provider_mathpix.hooks._connection import ClientSettings

#: Seconds a connection read serves later readers: new waits notice an edited
#: connection (a rotated key) within this time, or at once after a 401.
SETTINGS_TTL = 60.0


class _ReadFailed(Exception):
    """The shared read in flight failed: its waiters read for themselves."""


def _not_picklable(what: str) -> NoReturn:
    raise TypeError(f"{what} holds a Mathpix app_key and is not serializable")


def env_mark(conn_id: str) -> int | None:
    """A fingerprint of ``AIRFLOW_CONN_<ID>`` (its hash: the value holds the key), None when unset."""
    value = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    return None if value is None else hash(value)


class _Entry:
    __slots__ = ("expires", "mark", "settings")

    def __init__(self, settings: ClientSettings, mark: int | None, expires: float) -> None:
        self.settings = settings
        self.mark = mark
        self.expires = expires

    def __repr__(self) -> str:
        return f"_Entry(conn_id={self.settings.conn_id!r})"

    def __reduce__(self) -> NoReturn:
        _not_picklable("a cached Mathpix connection")


class SettingsCache:
    """Connection id -> settings, shared by the hooks of one process (see the module docstring)."""

    def __init__(self, ttl: float = SETTINGS_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._reading: dict[str, asyncio.Future[ClientSettings]] = {}

    def __repr__(self) -> str:
        return f"SettingsCache({len(self._entries)} connection(s), ttl={self.ttl:g} s)"

    def __reduce__(self) -> NoReturn:
        _not_picklable("the Mathpix connection cache")

    async def get(self, conn_id: str, read: Callable[[], Awaitable[ClientSettings]]) -> ClientSettings:
        """The settings of ``conn_id``: cached while valid, else from ``read()`` (one at a time)."""
        mark = env_mark(conn_id)
        entry = self._entries.get(conn_id)
        if entry is not None and entry.mark == mark and self._clock() < entry.expires:
            return entry.settings
        loop = asyncio.get_running_loop()
        pending = self._reading.get(conn_id)
        if pending is not None and pending.get_loop() is loop:
            try:
                # Shielded: a waiter being cancelled must not cancel the read others wait for.
                return await asyncio.shield(pending)
            except _ReadFailed:
                return await read()
        return await self._read(conn_id, mark, read, loop)

    async def _read(
        self,
        conn_id: str,
        mark: int | None,
        read: Callable[[], Awaitable[ClientSettings]],
        loop: asyncio.AbstractEventLoop,
    ) -> ClientSettings:
        shared: asyncio.Future[ClientSettings] = loop.create_future()
        self._reading[conn_id] = shared
        try:
            settings = await read()
        except BaseException:
            shared.set_exception(_ReadFailed())
            shared.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            if self._reading.get(conn_id) is shared:
                del self._reading[conn_id]
        self._entries[conn_id] = _Entry(settings, mark, self._clock() + self.ttl)
        shared.set_result(settings)
        return settings

    def forget(self, settings: ClientSettings) -> None:
        """Drop the entry holding ``settings`` (the API refused its key); a newer one stays."""
        entry = self._entries.get(settings.conn_id)
        if entry is not None and entry.settings is settings:
            del self._entries[settings.conn_id]

    def clear(self) -> None:
        self._entries.clear()


#: The process's cache (the triggerer's loop and any other async callers share it).
SHARED_SETTINGS = SettingsCache()
