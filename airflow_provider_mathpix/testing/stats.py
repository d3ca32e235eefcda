"""Counters behind ``GET /_emulator/stats`` (so a test can prove "no duplicates were made")."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

BASE_COUNTERS = (
    "requests",
    "files_created",
    "duplicates_absorbed",
    "jobs_created",
    "faults_injected",
    "sources_fetched",
    "source_cache_hits",
    "outputs_written",
    "webhooks_delivered",
    "webhooks_failed",
    "batches_created",
    "files_deleted",
)

#: Arrival records kept (the most recent ones).
ARRIVALS_KEPT = 200_000


class Stats:
    """Thread-safe counters; ``requests_by_route`` keys are ``"METHOD /route/template"``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._routes: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        # Arrival times let a test see how load is spread over time (bounded: a soak stays flat).
        self._arrivals: deque[tuple[float, str, str]] = deque(maxlen=ARRIVALS_KEPT)

    def arrive(self, method: str, path: str) -> None:
        """Record one request's arrival (epoch seconds, method, path)."""
        with self._lock:
            self._arrivals.append((time.time(), method, path))

    def arrivals(self) -> list[tuple[float, str, str]]:
        with self._lock:
            return list(self._arrivals)

    def incr(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def route(self, key: str) -> None:
        with self._lock:
            self._routes[key] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._counts["faults_injected"] += 1
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {name: self._counts.get(name, 0) for name in BASE_COUNTERS}
            out.update({k: v for k, v in self._counts.items() if k not in out})
            out["requests_by_route"] = dict(self._routes)
            out["faults_by_kind"] = dict(self._faults)
            return out

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._routes.clear()
            self._faults.clear()
            self._arrivals.clear()
