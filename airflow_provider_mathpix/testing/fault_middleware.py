"""Request counting and fault injection, as an ASGI middleware (the outermost layer).

Every request outside ``/_emulator/`` is counted on arrival, before auth or
validation, so a test can prove that no request was sent. Then the
:class:`~.faults.FaultInjector` picks the rule, if any, that answers instead of the app.

``drop`` starts a response and aborts mid-body, so the client sees a protocol
error (incomplete read / closed connection), like a proxy dying. ``drop_after`` does
the same *after* the request was fully processed: the submission exists but its
answer is lost, the case idempotent retries are for.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import dumps, envelope, v3_envelope
from .faults import FaultInjector
from .stats import Stats

_STATUS_CODES = {
    "500": (500, "internal_error", "internal server error (injected)"),
    "502": (502, "bad_gateway", "bad gateway (injected)"),
    "503": (503, "unavailable", "service unavailable (injected)"),
    "504": (504, "gateway_timeout", "gateway timeout (injected)"),
    "storage_throttled": (
        503,
        "storage_throttled",
        "upstream storage is throttling; retry with backoff (injected)",
    ),
    "quota_exceeded": (429, "quota_exceeded", "monthly page quota reached (injected)"),
    "429": (429, "rate_limited", "too many requests (injected)"),
    "429_retry_after": (429, "rate_limited", "too many requests (injected)"),
}


class FaultMiddleware:
    """Counts requests, then injects the fault chosen by the :class:`FaultInjector`."""

    def __init__(self, app: ASGIApp, *, injector: FaultInjector, stats: Stats) -> None:
        self.app = app
        self.injector = injector
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator/"):
            await self.app(scope, receive, send)
            return
        self.stats.incr("requests")
        self.stats.arrive(scope["method"], scope["path"])
        rule = self.injector.pick(scope["method"], scope["path"])
        if rule is None:
            await self._serve(scope, receive, send)
            return
        self.stats.fault(rule.kind)
        if rule.kind == "latency":
            await asyncio.sleep(rule.latency)
            await self._serve(scope, receive, send)
            return
        if rule.kind == "drop":
            await _drop(send)
            return
        if rule.kind == "drop_after":
            await self._serve_then_drop(scope, receive, send)
            return
        if rule.kind == "html_502":
            body = (
                b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
            )
            await _answer(send, 502, body, "text/html", {})
            return
        status, code, message = _STATUS_CODES[rule.kind]
        headers = {}
        if rule.kind == "429_retry_after":
            headers["retry-after"] = _fmt(rule.retry_after)
        if scope["path"].startswith("/v3/"):
            v3code = "http_max_requests" if status == 429 else "sys_exception"
            await _answer(send, status, dumps(v3_envelope(v3code, message)), "application/json", headers)
            return
        await _answer(send, status, dumps(envelope(code, message)), "application/json", headers)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, then count the request under its route template (``GET /files/v1/{name}``)."""
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            self.stats.route(f"{scope['method']} {getattr(route, 'path', '(no route)')}")

    async def _serve_then_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Process the request for real, then send half of its answer and cut the connection."""
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await self._serve(scope, receive, capture)
        start = next(m for m in captured if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(max(len(body), 2)).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        raise DroppedConnection("response dropped after processing (injected fault)")


def _fmt(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


async def _answer(send: Send, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
    raw = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class DroppedConnection(Exception):
    """Raised inside the ASGI app so the server aborts the half-sent response."""


async def _drop(send: Send) -> None:
    start: Message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
    }
    await send(start)
    await send({"type": "http.response.body", "body": b'{"file_id": "', "more_body": True})
    raise DroppedConnection("connection dropped (injected fault)")


class HideInjectedDrops(logging.Filter):
    """uvicorn logs an app exception for every injected ``drop``; those are expected, not errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)
