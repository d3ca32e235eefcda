"""Fault injection and request counting, as an ASGI middleware (outermost layer).

Every request outside ``/_emulator/`` is counted on arrival, before auth or
validation, so a test can prove that no request was sent. Then the fault rules
are tried in order; the first that matches (method, path glob, remaining
``count``, and a seeded coin flip against ``rate``) decides the answer. The coin
comes from one ``random.Random(seed)`` per rule, so the same sequence of
requests meets the same faults on every run.

``drop`` starts a response and aborts mid-body, so the client sees a protocol
error (incomplete read / closed connection), like a proxy dying. ``drop_after`` does
the same *after* the request was fully processed: the submission exists but its
answer is lost, the case idempotent retries are for.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
import threading
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, dumps, envelope, v3_envelope
from .stats import Stats

KINDS = (
    "429",
    "429_retry_after",
    "quota_exceeded",
    "500",
    "502",
    "503",
    "504",
    "storage_throttled",
    "html_502",
    "drop",
    "drop_after",
    "latency",
)
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


@dataclass
class FaultRule:
    """``kind`` on ``method`` + ``path`` glob, with probability ``rate``, at most ``count`` times."""

    kind: str
    method: str = "*"
    path: str = "*"
    rate: float = 1.0
    count: int | None = None
    retry_after: float = 1
    latency: float = 0.5

    @classmethod
    def parse(cls, raw: Any) -> FaultRule:
        """Validate a rule dict (clear ``bad_request`` naming the field)."""
        if not isinstance(raw, dict):
            raise ApiError("bad_request", "a fault rule must be an object")
        unknown = set(raw) - {"kind", "method", "path", "rate", "count", "retry_after", "latency"}
        if unknown:
            raise ApiError("bad_request", f"fault rule: unknown field(s) {sorted(unknown)}")
        kind = str(raw.get("kind", ""))
        if kind not in KINDS:
            raise ApiError("bad_request", f"fault rule: kind must be one of {list(KINDS)}, got {kind!r}")
        rate = float(raw.get("rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise ApiError("bad_request", f"fault rule: rate must be within 0..1, got {rate}")
        count = raw.get("count")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ApiError("bad_request", "fault rule: count must be null or a non-negative integer")
        return cls(
            kind=kind,
            method=str(raw.get("method", "*")).upper(),
            path=str(raw.get("path", "*")),
            rate=rate,
            count=count,
            retry_after=float(raw.get("retry_after", 1)),
            latency=float(raw.get("latency", 0.5)),
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FaultInjector:
    """The active rules, their remaining counts and their seeded coins."""

    def __init__(self, rules: list[dict[str, Any]], seed: int) -> None:
        self._lock = threading.Lock()
        self.seed = seed
        self.set(rules)

    def set(self, rules: list[dict[str, Any]]) -> None:
        parsed = [FaultRule.parse(r) for r in rules]
        with self._lock:
            self.rules = parsed
            self._left = [r.count for r in parsed]
            self._rngs = [random.Random(f"{self.seed}:{i}") for i in range(len(parsed))]

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r.as_dict(), remaining=left) for r, left in zip(self.rules, self._left, strict=True)]

    def pick(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for i, rule in enumerate(self.rules):
                if rule.method not in ("*", method) or not fnmatch.fnmatchcase(path, rule.path):
                    continue
                left = self._left[i]
                if left is not None and left <= 0:
                    continue
                if rule.rate < 1.0 and self._rngs[i].random() >= rule.rate:
                    continue
                if left is not None:
                    self._left[i] = left - 1
                return rule
            return None


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
