"""Counters behind ``GET /_emulator/stats`` (so a test can prove "no duplicates were made")."""

from __future__ import annotations

import threading
from collections import Counter
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


class Stats:
    """Thread-safe counters; ``requests_by_route`` keys are ``"METHOD /route/template"``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._routes: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()

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
