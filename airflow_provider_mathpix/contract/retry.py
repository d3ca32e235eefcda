"""Retry rules: which failures are worth repeating, and how long ``Retry-After`` asks to wait.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import datetime
import email.utils

#: Codes worth retrying whatever their status (v3 answers them under HTTP 200; a proxy may
#: rewrite a status): the contract's ``unavailable`` (503), ``internal_error`` (500) and
#: ``storage_throttled`` (503), and v3's own.
RETRYABLE_CODES = frozenset(
    {
        "unavailable",
        "internal_error",
        "storage_throttled",
        "http_max_requests",
        "sys_exception",
        "connection_closed",
    }
)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Not a failure of the call: a state the caller waits on (retrying the call at
#: transport speed would only burn the retry budget before the conversion ends).
WAITABLE_CODES = frozenset({"format_not_ready"})


def is_retryable(status: int | None, code: str | None) -> bool:
    """Whether a failed call should be repeated by the retry policy.

    ``status`` None means no answer at all (connection error, timeout, dropped
    connection). ``quota_exceeded`` is a 429 that will not clear for weeks.
    """
    if status is None:
        return True
    if code == "quota_exceeded" or code in WAITABLE_CODES:
        return False
    return code in RETRYABLE_CODES or status in RETRYABLE_STATUSES


def parse_retry_after(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        seconds = (when - now).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)
