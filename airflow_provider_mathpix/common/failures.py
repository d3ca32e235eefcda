"""From a wait's event to the verdict: the finished event, or the exception of its kind.

Every path of every operator and sensor ends here, whether the event was produced in
the worker or read back from a trigger's payload, so the same outcome always raises
the same exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.events import (
    FINISHED,
    ApiError,
    BatchFinished,
    FileFailed,
    FileFinished,
    JobCompleted,
    JobFinished,
    SetupError,
    TimedOut,
    WaitEvent,
    from_payload,
)
from airflow_provider_mathpix.exceptions import (
    MathpixAPIError,
    MathpixFileFailed,
    MathpixSetupError,
    MathpixWaitTimeout,
)

Finished = JobFinished | FileFinished | BatchFinished | JobCompleted


def read_event(event: WaitEvent | Mapping[str, Any]) -> WaitEvent:
    """The typed event of a wait: as produced in-process, or read back from a trigger's payload."""
    if isinstance(event, Mapping):
        try:
            return from_payload(event)
        except InvalidInput:
            raise MathpixAPIError(
                "unexpected_event", None, f"unexpected trigger event {dict(event)!r}"
            ) from None
    return event


def raise_for_wait_failure(event: WaitEvent | Mapping[str, Any]) -> Finished:
    """The finished wait's event; a failure or timeout raises the exception of its kind."""
    typed = read_event(event)
    if isinstance(typed, FINISHED):
        return typed
    if isinstance(typed, TimedOut):
        raise MathpixWaitTimeout(
            f"Timed out waiting for Mathpix {typed.on.describe()}: {typed.message}",
            job_id=typed.on.job_id,
            file_id=typed.on.file_id,
        )
    if isinstance(typed, SetupError):
        raise MathpixSetupError(typed.code or "error", typed.message)
    # Only Mathpix's own verdict on the file is a failed file; an exception on our side is not.
    if isinstance(typed, FileFailed):
        raise MathpixFileFailed(typed.file_id, typed.code or "error", typed.message)
    if isinstance(typed, ApiError):
        raise MathpixAPIError(typed.code or "error", typed.http_status, typed.message)
    raise MathpixAPIError(typed.code or "error", None, typed.message)


F = TypeVar("F", JobFinished, FileFinished, BatchFinished)


def finished_as(event: WaitEvent | Mapping[str, Any], kind: type[F]) -> F:
    """The finished event of a wait on one kind of thing; a failure raises (see above)."""
    finished = raise_for_wait_failure(event)
    if not isinstance(finished, kind):
        raise MathpixAPIError(
            "unexpected_event", None, f"expected a {kind.kind} event, got a {finished.kind} event"
        )
    return finished
