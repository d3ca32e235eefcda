"""Pure readings of Mathpix status records: is it done, did it fail, how far along is it.

Why separate: the deferrable triggers (async, in the triggerer), the in-process waits
of the operators and the sensors' pokes (sync, in a worker) must agree on what
"finished" means. Keeping the rules here as pure functions of the JSON record means
they are written once and tested without any I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from airflow_provider_mathpix._compat import is_connection_not_found
from airflow_provider_mathpix.contract.formats import conversion_format_of
from airflow_provider_mathpix.contract.retry import WAITABLE_CODES, is_retryable
from airflow_provider_mathpix.exceptions import MathpixAPIError

#: Outputs that exist as soon as the file is completed (never listed under ``formats``).
ALWAYS_READY = frozenset({"mmd", "lines.json", "lines.mmd.json"})

FileState = Literal["pending", "success", "error"]


def format_status_key(ext: str) -> str:
    """The key of a downloadable output's status in ``formats``: the ``conversion_formats`` key as
    requested (``tex.zip`` is ``tex.zip``; the ``latex`` format downloads as ``tex``)."""
    return conversion_format_of(ext)


def is_transient(exc: BaseException) -> bool:
    """Whether a failed poll is worth repeating later rather than ending the wait.

    The hook already retried with backoff; an error still transient after that (a long
    rate-limit window, a 503 burst, a dropped connection) is ridden out until the
    deadline, while anything the caller must fix (401, 404, a monthly quota) ends it.
    """
    if isinstance(exc, MathpixAPIError):
        # The retry rules are the hook's (models.is_retryable), written once; a format
        # still converting is a state to wait on, not a failure.
        return exc.code in WAITABLE_CODES or is_retryable(exc.http_status, exc.code)
    return isinstance(exc, (httpx.TransportError, TimeoutError, ConnectionError))


@dataclass(frozen=True)
class FileOutcome:
    """A file's state as far as a waiter cares: still pending, done, or failed (with why)."""

    state: FileState
    code: str | None = None
    message: str | None = None


def file_outcome(record: Mapping[str, Any], formats: Iterable[str] | None = None) -> FileOutcome:
    """Read ``GET /files/v1/{file_id}``: done when the file AND every requested format are.

    Formats can finish after the file itself, and a format not started yet is absent
    from ``formats``, so absence means "pending", never "done".
    """
    status = record.get("status")
    if status == "error":
        return FileOutcome("error", *_record_error(record, default_code="file_error"))
    if status != "completed":
        return FileOutcome("pending")
    format_states = record.get("formats") or {}
    for ext in formats or ():
        if ext in ALWAYS_READY:
            continue
        state = format_states.get(format_status_key(ext))
        if state == "error":
            return FileOutcome(
                "error", "conversion_error", f"conversion to {ext!r} failed for file {record.get('file_id')}"
            )
        if state != "completed":
            return FileOutcome("pending")
    return FileOutcome("success")


def _record_error(record: Mapping[str, Any], default_code: str) -> tuple[str, str]:
    info = record.get("error_info") or {}
    code = (info.get("id") if isinstance(info, Mapping) else None) or default_code
    message = (info.get("message") if isinstance(info, Mapping) else None) or record.get("error") or code
    return str(code), str(message)


def record_error_text(record: Mapping[str, Any]) -> str:
    """``"<code>: <message>"`` of an errored file record, for manifests and messages."""
    code, message = _record_error(record, default_code="error")
    return message if message.startswith(code) else f"{code}: {message}"


@dataclass(frozen=True)
class JobProgress:
    """The counters of ``GET /files/v1/jobs/{job_id}``."""

    status: str
    file_count: int
    files_completed: int
    files_errored: int

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> JobProgress:
        return cls(
            status=str(record.get("status") or "processing"),
            file_count=int(record.get("file_count") or 0),
            files_completed=int(record.get("files_completed") or 0),
            files_errored=int(record.get("files_errored") or 0),
        )

    @property
    def done(self) -> bool:
        """A job is complete when every file is terminal, errored files included."""
        return self.status == "completed"

    @property
    def terminal_files(self) -> int:
        return self.files_completed + self.files_errored

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "file_count": self.file_count,
            "files_completed": self.files_completed,
            "files_errored": self.files_errored,
        }


class EtaEstimator:
    """Estimate time left from the rate at which files became terminal since the first poll.

    Stateless across triggerer restarts by design (a restarted trigger simply starts a
    new estimate): the trigger must serialize only ids, conn_id, interval and deadline.
    """

    def __init__(self) -> None:
        self._first: tuple[float, int] | None = None

    def update(self, now: float, done: int, total: int) -> float | None:
        """Seconds left, or None while there is no rate to extrapolate from."""
        if self._first is None:
            self._first = (now, done)
            return None
        t0, d0 = self._first
        elapsed, progressed = now - t0, done - d0
        if elapsed <= 0 or progressed <= 0:
            return None
        return max(0.0, (total - done) * elapsed / progressed)


def format_duration(seconds: float) -> str:
    """``~45 s``, ``~4 min``, ``~2.5 h``: rough on purpose."""
    if seconds < 90:
        return f"~{max(1, math.ceil(seconds))} s"
    if seconds < 90 * 60:
        return f"~{round(seconds / 60)} min"
    return f"~{seconds / 3600:.1f} h"


def progress_line(progress: JobProgress, eta_seconds: float | None) -> str:
    """``12,040/200,000 completed, 17 errored, ~4 min left``."""
    line = (
        f"{progress.files_completed:,}/{progress.file_count:,} completed, {progress.files_errored:,} errored"
    )
    if eta_seconds is not None and not progress.done:
        line += f", {format_duration(eta_seconds)} left"
    return line


def job_event_payload(progress: JobProgress) -> dict[str, Any] | None:
    """The ``success`` payload once a job is complete, else None (keep waiting).

    Shared by the trigger and the in-worker waits so both produce identical events and
    one ``execute_complete`` handles either.
    """
    if not progress.done:
        return None
    return {**progress.as_dict(), "status": "success", "job_status": progress.status}


def file_event_payload(record: Mapping[str, Any], formats: Iterable[str] | None) -> dict[str, Any] | None:
    """The ``success``/``error`` payload once a file (and its formats) settled, else None."""
    outcome = file_outcome(record, formats)
    if outcome.state == "success":
        return {
            "status": "success",
            "file_status": record.get("status"),
            "num_pages": record.get("num_pages"),
        }
    if outcome.state == "error":
        return {"status": "error", "code": outcome.code, "http_status": None, "message": outcome.message}
    return None


def setup_error_payload(exc: BaseException, conn_id: str | None) -> dict[str, Any]:
    """An ``error`` payload for a wait that never reached Mathpix (``stage: setup``).

    ``connection_not_found`` when the connection id is defined nowhere Airflow looks;
    ``trigger_setup_error`` for anything else that stopped the client being built (a
    connection the hook refuses, an import that fails on this Airflow). Either way the
    message names the cause, so it is never mistaken for a file or job that failed.
    """
    if is_connection_not_found(exc):
        code = "connection_not_found"
        where = f"AIRFLOW_CONN_{conn_id.upper()}" if conn_id else "AIRFLOW_CONN_<ID>"
        message = (
            f"the Airflow connection is not defined where this process looks for it "
            f"(metadata DB, {where}, secrets backend): {exc}"
        )
    else:
        code = "trigger_setup_error"
        message = (
            f"could not start waiting on Mathpix with connection {conn_id!r}: {type(exc).__name__}: {exc}"
        )
    return {"status": "error", "code": code, "http_status": None, "message": message, "stage": "setup"}


def error_event_payload(exc: BaseException) -> dict[str, Any]:
    """An ``error`` payload from an exception: the API's code and sentence, never headers."""
    if is_connection_not_found(exc):
        return setup_error_payload(exc, None)
    if isinstance(exc, MathpixAPIError):
        return {"status": "error", "code": exc.code, "http_status": exc.http_status, "message": exc.message}
    return {
        "status": "error",
        "code": type(exc).__name__,
        "http_status": None,
        "message": str(exc),
        "stage": "request",
    }


def batch_event_payload(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """``/v3/batch``: done once every key has a result (results fill in progressively).

    The payload carries counts only; the results themselves can be large and are read
    again by the operator, never stored in the trigger event.
    """
    keys = list(record.get("keys") or ())
    results = record.get("results") or {}
    if not keys or any(key not in results for key in keys):
        return None
    errored = sum(1 for key in keys if isinstance(results[key], Mapping) and results[key].get("error"))
    return {"status": "success", "key_count": len(keys), "keys_errored": errored}
