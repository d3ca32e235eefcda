"""Fault rules: which request meets which injected fault.

The rules are tried in order; the first that matches (method, path glob, remaining
``count``, and a seeded coin flip against ``rate``) decides. The coin comes from one
``random.Random(seed)`` per rule, so the same sequence of requests meets the same
faults on every run. :mod:`.fault_middleware` turns the chosen rule into an answer.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass
from typing import Any

from .errors import ApiError

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
