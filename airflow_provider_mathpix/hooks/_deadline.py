"""A deadline for one whole request, enforced at every network read, write and connect.

httpx's ``timeout`` bounds each network operation, not the request: a server sending
one byte per second never trips a 30 s read timeout, and a call (or a trigger's poll)
hangs for as long as the server likes. These network backends are httpcore's own,
wrapped so that each operation gets the smaller of its own timeout and the time left
before the deadline of the request in flight (a context variable, so concurrent async
requests and threads each see their own), and fails as a timeout once it has passed.

The rule is written once, in :func:`_bounded` (the time an operation may take) and
:func:`_named` (a timeout caused by the deadline says so); the sync and async stream and
backend classes are the I/O edge httpcore requires, each method one forwarding line.
"""

from __future__ import annotations

import contextlib
import contextvars
import select
import socket
import ssl
import time
import typing
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("mathpix_deadline", default=None)

#: Connection pool settings, httpx's own defaults (they are lost when the pool is replaced).
POOL_LIMITS: dict[str, Any] = {
    "max_connections": 100,
    "max_keepalive_connections": 20,
    "keepalive_expiry": 5.0,
}


def start_deadline(seconds: float) -> contextvars.Token[float | None]:
    """Every network operation from now until :func:`end_deadline` ends by ``seconds`` from now.

    A pair of calls rather than a ``with`` block: one request is sent per poll of each
    of thousands of triggers, and a context manager costs more than the rule it applies.
    """
    return _DEADLINE.set(time.monotonic() + seconds)


def end_deadline(token: contextvars.Token[float | None]) -> None:
    _DEADLINE.reset(token)


@contextlib.contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Every network operation inside the block ends by ``seconds`` from now (monotonic)."""
    token = start_deadline(seconds)
    try:
        yield
    finally:
        end_deadline(token)


PASSED = "the whole-request deadline (request_timeout) passed"


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error(PASSED)
    return left if timeout is None else min(timeout, left)


def _named(exc: Exception) -> Exception:
    """A timeout that happened because the deadline came says so (not just "timed out").

    Called in an ``except`` clause (not a context manager around every read and write):
    returns ``exc`` itself, or the same kind of timeout naming the deadline.
    """
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() >= deadline and PASSED not in str(exc):
        named = type(exc)(PASSED)
        named.__cause__ = exc
        return named
    return exc


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))
        except httpcore.ReadTimeout as exc:
            raise _named(exc)  # noqa: B904 - _named chains the cause when it renames

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))
        except httpcore.WriteTimeout as exc:
            raise _named(exc)  # noqa: B904 - _named chains the cause when it renames

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: Any = _UNREAD

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return await self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))
        except httpcore.ReadTimeout as exc:
            raise _named(exc)  # noqa: B904 - _named chains the cause when it renames

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            await self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))
        except httpcore.WriteTimeout as exc:
            raise _named(exc)  # noqa: B904 - _named chains the cause when it renames

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            # httpcore's pool asks this of every idle connection each time it places a
            # request, and anyio answers by building the stream's whole attribute map
            # (getpeername included) per ask: at 16 connections that was a fifth of a
            # download's CPU. A stream's socket never changes, so it is looked up once.
            if self._socket is _UNREAD:
                self._socket = self._inner.get_extra_info("socket")
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


_UNREAD = object()


def _readable(sock: socket.socket | None) -> bool:
    """httpcore's own test: an idle connection with something to read was closed by the server."""
    if sock is None or sock.fileno() < 0:
        return True
    if not hasattr(select, "poll"):  # Windows
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class AsyncDeadlineBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def transport(ssl_context: ssl.SSLContext, *, asynchronous: bool, proxy: httpx.Proxy | None = None) -> Any:
    """An httpx transport whose connection pool uses the deadline backends, direct or through ``proxy``.

    httpx offers no argument for a network backend, so the pool of a default
    transport is replaced by one built the same way with ours (through httpcore's
    public ``network_backend`` argument), as ``httpx.HTTPTransport(proxy=...)`` builds it:
    an http(s) proxy forwards ``http://`` requests and tunnels ``https://`` ones with
    ``CONNECT``; socks5 needs the ``socksio`` package. Every hop (the proxy's own TLS,
    the tunnel's TLS) goes through the deadline backends, with the same TLS context.
    """
    if asynchronous:
        atransport = httpx.AsyncHTTPTransport(verify=ssl_context)
        atransport._pool = _pool(ssl_context, proxy, AsyncDeadlineBackend(), asynchronous=True)
        return atransport
    stransport = httpx.HTTPTransport(verify=ssl_context)
    stransport._pool = _pool(ssl_context, proxy, DeadlineBackend(), asynchronous=False)
    return stransport


def _pool(ssl_context: ssl.SSLContext, proxy: httpx.Proxy | None, backend: Any, *, asynchronous: bool) -> Any:
    if proxy is None:
        direct = httpcore.AsyncConnectionPool if asynchronous else httpcore.ConnectionPool
        return direct(ssl_context=ssl_context, network_backend=backend, **POOL_LIMITS)
    url = httpcore.URL(
        scheme=proxy.url.raw_scheme, host=proxy.url.raw_host, port=proxy.url.port, target=proxy.url.raw_path
    )
    if proxy.url.scheme in ("socks5", "socks5h"):
        socks = httpcore.AsyncSOCKSProxy if asynchronous else httpcore.SOCKSProxy
        return socks(
            proxy_url=url,
            proxy_auth=proxy.raw_auth,
            ssl_context=ssl_context,
            network_backend=backend,
            **POOL_LIMITS,
        )
    forward = httpcore.AsyncHTTPProxy if asynchronous else httpcore.HTTPProxy
    return forward(
        proxy_url=url,
        proxy_auth=proxy.raw_auth,
        proxy_headers=proxy.headers.raw,
        ssl_context=ssl_context,
        proxy_ssl_context=ssl_context if proxy.url.scheme == "https" else None,
        network_backend=backend,
        **POOL_LIMITS,
    )
