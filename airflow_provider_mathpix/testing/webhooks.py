"""Signed webhook deliveries, off the request path.

A single thread owns a heap of due deliveries; each delivery builds its body at
send time (so it mirrors what polling would show then) and POSTs it with
``Mathpix-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``.
One attempt per event (delivery is not guaranteed, as with the real service);
outcomes are counted in the stats.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from .stats import Stats

Builder = Callable[[], "tuple[str, dict[str, Any]] | None"]


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Mathpix-Signature`` header value for ``body`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None, tolerance: int = 300) -> bool:
    """Check a ``Mathpix-Signature`` the way a receiver should (constant-time, ±300 s)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        ts = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, ts), header)


class Deliverer:
    """Sends one POST; shared by the scheduled deliveries and ``webhook-config/test``."""

    def __init__(self, secret: str, stats: Stats, timeout: float) -> None:
        self.secret = secret
        self.stats = stats
        self._http = httpx.Client(timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def post(
        self,
        url: str,
        headers: tuple[tuple[str, str], ...],
        event: str,
        body: dict[str, Any],
        *,
        signed: bool = True,
    ) -> tuple[bool, int | None, str]:
        """POST ``body``; returns (delivered, response status, detail)."""
        raw = json.dumps(body, separators=(",", ":")).encode()
        hdrs = dict(headers)
        hdrs["Content-Type"] = "application/json"
        hdrs["User-Agent"] = "Mathpix-Emulator-Webhooks/1"
        if signed:
            hdrs["Mathpix-Signature"] = sign(self.secret, raw, int(time.time()))
            hdrs["Mathpix-Event"] = event
        try:
            resp = self._http.post(url, content=raw, headers=hdrs)
        except httpx.HTTPError as exc:
            self.stats.incr("webhooks_failed")
            return False, None, f"{type(exc).__name__}: {exc}"
        ok = 200 <= resp.status_code < 300
        self.stats.incr("webhooks_delivered" if ok else "webhooks_failed")
        return ok, resp.status_code, f"HTTP {resp.status_code}"


class WebhookScheduler:
    """A heap of (due time, builder) run by one daemon thread."""

    def __init__(self, deliverer: Deliverer) -> None:
        self.deliverer = deliverer
        self._heap: list[tuple[float, int, str, tuple[tuple[str, str], ...], Builder, bool]] = []
        self._tie = itertools.count()
        self._cond = threading.Condition()
        self._stop = False
        self._generation = 0
        self._thread = threading.Thread(target=self._run, name="mathpix-emulator-webhooks", daemon=True)
        self._thread.start()

    def schedule(
        self,
        due: float,
        url: str,
        headers: tuple[tuple[str, str], ...],
        build: Builder,
        *,
        signed: bool = True,
    ) -> None:
        """Deliver what ``build()`` returns (``(event, body)``, or None to skip) at ``due`` (time.time())."""
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._tie), url, headers, build, signed))
            self._cond.notify()

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()
            self._generation += 1

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)
        self.deliverer.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0][0] > time.time()):
                    wait = None if not self._heap else max(0.0, self._heap[0][0] - time.time())
                    self._cond.wait(timeout=wait)
                if self._stop:
                    return
                _, _, url, headers, build, signed = heapq.heappop(self._heap)
                generation = self._generation
            try:
                built = build()
            except Exception:  # a body that cannot be built (state reset meanwhile) is skipped
                built = None
            if built is not None and generation == self._generation:
                event, body = built
                self.deliverer.post(url, headers, event, body, signed=signed)
