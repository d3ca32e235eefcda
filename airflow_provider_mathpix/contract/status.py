"""Pure readings of Mathpix status records: is it done, did it fail, how far along is it.

The deferrable triggers (async, in the triggerer), the in-process waits of the
operators and the sensors' pokes (sync, in a worker) must agree on what "finished"
means, so the rules are functions of the JSON record here, each giving the typed
event of :mod:`~airflow_provider_mathpix.contract.events` once the wait is over.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airflow_provider_mathpix.contract.answers import envelope_error
from airflow_provider_mathpix.contract.events import (
    BatchFinished,
    FileFailed,
    FileFinished,
    JobCounters,
    JobFinished,
)
from airflow_provider_mathpix.contract.formats import conversion_format_of

#: Outputs that exist as soon as the file is completed (never listed under ``formats``).
ALWAYS_READY = frozenset({"mmd", "lines.json", "lines.mmd.json"})

FileState = Literal["pending", "success", "error"]


def format_status_key(ext: str) -> str:
    """The key of a downloadable output's status in ``formats``: the ``conversion_formats`` key as
    requested (``tex.zip`` is ``tex.zip``; the ``latex`` format downloads as ``tex``)."""
    return conversion_format_of(ext)


# --------------------------------------------------------------------------- files


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
        return FileOutcome("error", *record_error(record, default_code="file_error"))
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


def file_event(
    file_id: str, record: Mapping[str, Any], formats: Iterable[str] | None
) -> FileFinished | FileFailed | None:
    """The event once a file (and the formats waited for) settled, else None (keep waiting)."""
    outcome = file_outcome(record, formats)
    if outcome.state == "success":
        return FileFinished(file_id, record.get("status"), record.get("num_pages"))
    if outcome.state == "error":
        return FileFailed(file_id, str(outcome.code), str(outcome.message))
    return None


def record_error(record: Mapping[str, Any], default_code: str) -> tuple[str, str]:
    """``(code, message)`` of an errored record, read as the API's error envelope.

    A record without a machine code (no ``error_info.id``, ``error`` a sentence) gets
    ``default_code``; the message falls back to the code.
    """
    info = envelope_error(record)
    if info is None:
        return default_code, default_code
    code = default_code if info.code == "unknown_error" else info.code
    message = info.message if info.message != "unknown_error" else code
    return code, message


def record_error_text(record: Mapping[str, Any]) -> str:
    """``"<code>: <message>"`` of an errored file record, for manifests and messages."""
    code, message = record_error(record, default_code="error")
    return message if message.startswith(code) else f"{code}: {message}"


# --------------------------------------------------------------------------- jobs and batches


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

    @property
    def counters(self) -> JobCounters:
        return JobCounters(self.file_count, self.files_completed, self.files_errored)

    def finished(self, job_id: str) -> JobFinished:
        """This progress as the event of a finished wait (also for a job already known complete)."""
        return JobFinished(job_id, self.status, self.counters)


def job_event(job_id: str, progress: JobProgress) -> JobFinished | None:
    """The event once a job is complete, else None (keep waiting)."""
    return progress.finished(job_id) if progress.done else None


def batch_event(batch_id: int | str, record: Mapping[str, Any]) -> BatchFinished | None:
    """``/v3/batch``: done once every key has a result (results fill in progressively).

    The event carries counts only; the results themselves can be large and are read
    again by the operator, never stored in the trigger event.
    """
    keys = list(record.get("keys") or ())
    results = record.get("results") or {}
    if not keys or any(key not in results for key in keys):
        return None
    errored = sum(1 for key in keys if isinstance(results[key], Mapping) and results[key].get("error"))
    return BatchFinished(batch_id, len(keys), errored)


# --------------------------------------------------------------------------- progress lines


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
