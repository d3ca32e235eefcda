"""Checking and waiting from a worker, producing the same events the triggers yield.

Why mirror the triggers: an operator may wait in-process (``deferrable=False``), check
once before deferring, or a sensor may poke; whichever path ran, the result is an
event payload of the same shape as ``MathpixJobTrigger``/``MathpixFileTrigger`` yield,
so ONE ``execute_complete`` turns every outcome into success or a clear failure.
The rules (what "done" means, what is transient) live in ``triggers._status``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers._status import (
    JobProgress,
    error_event_payload,
    file_event_payload,
    is_transient,
    job_event_payload,
    progress_line,
)

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.triggers.base import BaseTrigger

Check = Callable[[], "dict[str, Any] | None"]

#: Seconds added to the trigger's own deadline for Airflow's deferral timeout, so the
#: trigger reports a clean ``timeout`` event before Airflow kills the deferral.
DEFER_GRACE = 60.0


def check_job(hook: MathpixHook, job_id: str, log: logging.Logger | Any) -> dict[str, Any] | None:
    """One poll of a job: the ``success`` payload when complete, else None."""
    progress = JobProgress.from_record(hook.get_job(job_id))
    log.info("Mathpix job %s: %s", job_id, progress_line(progress, None))
    payload = job_event_payload(progress)
    return {"job_id": job_id, **payload} if payload is not None else None


def job_counters(hook: MathpixHook, job_id: str) -> dict[str, Any]:
    """A job's counters as they are now, in the shape of a ``success`` payload.

    For a job already known to be complete (a part of a split job waited on earlier),
    whose counters a report sums.
    """
    progress = JobProgress.from_record(hook.get_job(job_id))
    return {"job_id": job_id, "job_status": progress.status, **progress.as_dict()}


def check_file(
    hook: MathpixHook, file_id: str, formats: Sequence[str] | None, log: logging.Logger | Any
) -> dict[str, Any] | None:
    """One poll of a file (and the formats that must be ready): a payload when settled."""
    record = hook.get_file(file_id)
    log.info("Mathpix file %s: %s", file_id, record.get("status"))
    payload = file_event_payload(record, formats)
    return {"file_id": file_id, **payload} if payload is not None else None


def check_once(check: Check, ids: dict[str, Any], log: logging.Logger | Any) -> dict[str, Any] | None:
    """One check where a transient error means "not known yet" and any other ends the wait."""
    try:
        return check()
    except Exception as exc:
        if is_transient(exc):
            log.warning("Transient error while checking Mathpix (will keep waiting): %s", exc)
            return None
        return {**ids, **error_event_payload(exc)}


def wait_in_process(
    check: Check,
    *,
    ids: dict[str, Any],
    poll_interval: float,
    end_time: float,
    log: logging.Logger | Any,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until an event payload, riding out transient errors; ``timeout`` past ``end_time``."""
    while True:
        payload = check_once(check, ids, log)
        if payload is not None:
            return payload
        left = end_time - time.time()
        if left <= 0:
            return {**ids, "status": "timeout", "message": "the deadline passed before Mathpix finished"}
        sleep(min(max(poll_interval, 0.05), left))


def kill_notice(submitted: dict[str, Any] | None) -> str:
    """What killing a task means for the work it already handed to Mathpix.

    The Files API has no cancel endpoint: whatever was submitted keeps converting and is
    billed. Only the wait stops. The ids are derived from the run (never the try), so
    clearing the task re-attaches to the same work instead of paying for it twice.
    """
    if not submitted:
        return (
            "Task killed before Mathpix acknowledged a submission: a request cut off mid-way may "
            "still have created work there; clearing the task reuses the same ids, so nothing is paid twice."
        )
    what = ", ".join(f"{key} {value}" for key, value in submitted.items())
    return (
        f"Task killed while waiting on Mathpix ({what}). Mathpix has no cancel endpoint: the "
        "work already submitted keeps converting and is billed. Clearing this task re-attaches "
        "to it (same ids, nothing submitted twice); MathpixDeleteFilesOperator removes the files "
        "from Mathpix once they finish."
    )


class ReportsWorkOnKill:
    """``on_kill`` for operators that submit work: say what happens to it (see :func:`kill_notice`)."""

    _mathpix_submitted: dict[str, Any] | None = None

    def on_kill(self) -> None:
        log: Any = getattr(self, "log", logging.getLogger(__name__))  # the operator's task logger
        log.warning(kill_notice(self._mathpix_submitted))


def wait_or_defer(
    operator: BaseOperator,
    check: Check,
    *,
    ids: dict[str, Any],
    trigger: Callable[[], BaseTrigger],
    poll_interval: float,
    end_time: float,
    resume: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one wait every operator does: the event payload, or a deferral.

    Deferrable operators check once first (a finished job or file needs no trigger) and
    otherwise defer to ``trigger()`` -- resuming in ``execute_complete`` with ``resume``
    as extra keyword arguments -- with Airflow's own deferral timeout just past
    ``end_time``. Others poll in the worker until a payload or the deadline.
    """
    operator._mathpix_submitted = dict(ids)  # type: ignore[attr-defined]  # for on_kill
    if getattr(operator, "deferrable", False):
        event = check_once(check, ids, operator.log)
        if event is None:
            operator.defer(
                trigger=trigger(),
                method_name="execute_complete",
                kwargs=resume,
                timeout=timedelta(seconds=max(end_time - time.time(), 0.0) + DEFER_GRACE),
            )
        return event
    return wait_in_process(check, ids=ids, poll_interval=poll_interval, end_time=end_time, log=operator.log)
