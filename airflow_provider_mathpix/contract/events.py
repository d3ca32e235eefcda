"""The outcomes of a wait on Mathpix, one frozen dataclass per kind.

A trigger yields one of these (as ``to_payload()``, the JSON-safe dict a
``TriggerEvent`` carries); the in-process waits of operators and sensors produce the
same objects; whoever resumes reads the dict back with :func:`from_payload` and acts
on the class. Every payload names its ``kind`` explicitly, so no reader guesses what
happened from which keys are present.

Besides ``kind`` a payload keeps the keys DAG authors and the XCom contract already
read: ``status`` is the wait's verdict (``success``, ``error``, ``timeout``; the asset
event of a completed job says ``completed``), the id waited on (``job_id``,
``file_id`` or ``batch_id``), and per kind its counters or its ``code``,
``http_status`` and ``message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from airflow_provider_mathpix.contract.errors import InvalidInput


@dataclass(frozen=True)
class WaitOn:
    """What a wait is on: a job, a file or an image batch (one of the three ids)."""

    job_id: str | None = None
    file_id: str | None = None
    batch_id: int | str | None = None

    def ids(self) -> dict[str, Any]:
        """The id keys of a payload (only the one that is set)."""
        return {
            key: value
            for key, value in (
                ("job_id", self.job_id),
                ("file_id", self.file_id),
                ("batch_id", self.batch_id),
            )
            if value is not None
        }

    def describe(self) -> str:
        """``job j-1``, ``image batch 7`` or ``file f-1``, for messages."""
        if self.job_id is not None:
            return f"job {self.job_id}"
        if self.batch_id is not None:
            return f"image batch {self.batch_id}"
        return f"file {self.file_id}"

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> WaitOn:
        return cls(
            job_id=payload.get("job_id"), file_id=payload.get("file_id"), batch_id=payload.get("batch_id")
        )


@dataclass(frozen=True)
class JobCounters:
    """The counters of a job record (``GET /files/v1/jobs/{job_id}``)."""

    file_count: int = 0
    files_completed: int = 0
    files_errored: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "file_count": self.file_count,
            "files_completed": self.files_completed,
            "files_errored": self.files_errored,
        }

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> JobCounters:
        return cls(
            file_count=int(payload.get("file_count") or 0),
            files_completed=int(payload.get("files_completed") or 0),
            files_errored=int(payload.get("files_errored") or 0),
        )


# --------------------------------------------------------------------------- successes


@dataclass(frozen=True)
class JobFinished:
    """Every file of the job is terminal (completed or errored); ``job_status`` is the API's."""

    kind: ClassVar[str] = "job_finished"
    job_id: str
    job_status: str = "completed"
    counters: JobCounters = field(default_factory=JobCounters)

    def to_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": "success",
            "job_id": self.job_id,
            "job_status": self.job_status,
            **self.counters.as_dict(),
        }

    @classmethod
    def from_fields(cls, payload: Mapping[str, Any]) -> JobFinished:
        return cls(
            str(payload["job_id"]), str(payload.get("job_status") or "completed"), JobCounters.of(payload)
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any], job_id: str | None = None) -> JobFinished:
        """From a job record as the API answers it (its ``status`` is the job's)."""
        return cls(
            str(job_id if job_id is not None else record["job_id"]),
            str(record.get("status") or "completed"),
            JobCounters.of(record),
        )


@dataclass(frozen=True)
class FileFinished:
    """The file and every format waited for are completed."""

    kind: ClassVar[str] = "file_finished"
    file_id: str
    file_status: str | None = "completed"
    num_pages: int | None = None

    def to_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": "success",
            "file_id": self.file_id,
            "file_status": self.file_status,
            "num_pages": self.num_pages,
        }

    @classmethod
    def from_fields(cls, payload: Mapping[str, Any]) -> FileFinished:
        return cls(str(payload["file_id"]), payload.get("file_status"), payload.get("num_pages"))


@dataclass(frozen=True)
class BatchFinished:
    """Every image of a ``/v3/batch`` has its result (counts only: results can be large)."""

    kind: ClassVar[str] = "batch_finished"
    batch_id: int | str
    key_count: int = 0
    keys_errored: int = 0

    def to_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": "success",
            "batch_id": self.batch_id,
            "key_count": self.key_count,
            "keys_errored": self.keys_errored,
        }

    @classmethod
    def from_fields(cls, payload: Mapping[str, Any]) -> BatchFinished:
        return cls(
            payload["batch_id"], int(payload.get("key_count") or 0), int(payload.get("keys_errored") or 0)
        )


@dataclass(frozen=True)
class JobCompleted:
    """An asset watcher's event: a job reached ``completed`` (its payload is the asset event's extra)."""

    kind: ClassVar[str] = "job_completed"
    job_id: str
    counters: JobCounters = field(default_factory=JobCounters)

    def to_payload(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": "completed", "job_id": self.job_id, **self.counters.as_dict()}

    @classmethod
    def from_fields(cls, payload: Mapping[str, Any]) -> JobCompleted:
        return cls(str(payload["job_id"]), JobCounters.of(payload))


# --------------------------------------------------------------------------- failures


@dataclass(frozen=True)
class FileFailed:
    """Mathpix's own verdict: the file, or a format waited for, ended in ``error``."""

    kind: ClassVar[str] = "file_failed"
    file_id: str
    code: str
    message: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": "error",
            "file_id": self.file_id,
            "code": self.code,
            "http_status": None,
            "message": self.message,
        }

    @classmethod
    def from_fields(cls, payload: Mapping[str, Any]) -> FileFailed:
        return cls(str(payload["file_id"]), _text(payload, "code"), _text(payload, "message"))


@dataclass(frozen=True)
class ApiError:
    """A call to Mathpix failed for good: the API's code, HTTP status and sentence."""

    kind: ClassVar[str] = "api_error"
    on: WaitOn
    code: str
    http_status: int | None
    message: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": "error",
            **self.on.ids(),
            "code": self.code,
            "http_status": self.http_status,
            "message": self.message,
        }

    @classmethod
    def from_fields(cls, payload: Mapping[str, Any]) -> ApiError:
        return cls(
            WaitOn.of(payload), _text(payload, "code"), payload.get("http_status"), _text(payload, "message")
        )


@dataclass(frozen=True)
class _NoAnswer:
    """A wait that failed on our side, before or without an answer from Mathpix; ``stage`` says where."""

    kind: ClassVar[str]
    stage: ClassVar[str]
    on: WaitOn
    code: str
    message: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": "error",
            **self.on.ids(),
            "code": self.code,
            "http_status": None,
            "message": self.message,
            "stage": self.stage,
        }

    @classmethod
    def from_fields(cls, payload: Mapping[str, Any]) -> Any:
        return cls(WaitOn.of(payload), _text(payload, "code"), _text(payload, "message"))


@dataclass(frozen=True)
class RequestError(_NoAnswer):
    """A poll failed on our side without an answer from Mathpix (``stage: request``)."""

    kind: ClassVar[str] = "request_error"
    stage: ClassVar[str] = "request"


@dataclass(frozen=True)
class SetupError(_NoAnswer):
    """The wait never reached Mathpix (no connection, a client that could not be built)."""

    kind: ClassVar[str] = "setup_error"
    stage: ClassVar[str] = "setup"


@dataclass(frozen=True)
class TimedOut:
    """The deadline passed first; a job's last counters come along when they were read."""

    kind: ClassVar[str] = "timed_out"
    on: WaitOn
    message: str = "the deadline passed before Mathpix finished"
    counters: JobCounters | None = None

    def to_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": "timeout",
            **self.on.ids(),
            "message": self.message,
            **(self.counters.as_dict() if self.counters is not None else {}),
        }

    @classmethod
    def from_fields(cls, payload: Mapping[str, Any]) -> TimedOut:
        counted = any(key in payload for key in ("file_count", "files_completed", "files_errored"))
        return cls(
            WaitOn.of(payload), _text(payload, "message"), JobCounters.of(payload) if counted else None
        )


WaitEvent = (
    JobFinished
    | FileFinished
    | BatchFinished
    | JobCompleted
    | FileFailed
    | ApiError
    | RequestError
    | SetupError
    | TimedOut
)
#: The wait is over and Mathpix did the work (the job may still hold errored files).
FINISHED = (JobFinished, FileFinished, BatchFinished, JobCompleted)
#: The wait ended without the work done.
FAILED = (FileFailed, ApiError, RequestError, SetupError)

_KINDS: dict[str, type[Any]] = {
    cls.kind: cls
    for cls in (
        JobFinished,
        FileFinished,
        BatchFinished,
        JobCompleted,
        FileFailed,
        ApiError,
        RequestError,
        SetupError,
        TimedOut,
    )
}


def from_payload(payload: Mapping[str, Any]) -> WaitEvent:
    """The event a payload holds, read by its ``kind``; :class:`InvalidInput` for anything else."""
    if not isinstance(payload, Mapping):
        raise InvalidInput(f"a wait event must be a mapping, got {type(payload).__name__}")
    cls = _KINDS.get(str(payload.get("kind")))
    if cls is None:
        raise InvalidInput(f"unexpected wait event (no known kind) {dict(payload)!r}")
    try:
        event: WaitEvent = cls.from_fields(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"malformed {cls.kind} event ({exc}): {dict(payload)!r}") from None
    return event


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return "" if value is None else str(value)
