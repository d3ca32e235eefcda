"""Checking and waiting from a worker, producing the same events the triggers yield.

Why mirror the triggers: an operator may wait in-process (``deferrable=False``), check
once before deferring, or a sensor may poke; whichever path ran, the result is one of
the typed events of ``contract.events``, as ``MathpixJobTrigger``/``MathpixFileTrigger``
yield them, so ONE ``execute_complete`` turns every outcome into success or a clear
failure. The rules (what "done" means, what is transient) live in ``contract.status``
and ``triggers.outcomes``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix.contract.events import JobFinished, TimedOut, WaitEvent, WaitOn
from airflow_provider_mathpix.contract.status import JobProgress, file_event, job_event, progress_line
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers.outcomes import error_event, is_transient

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.triggers.base import BaseTrigger

Check = Callable[[], "WaitEvent | None"]

#: Seconds added to the trigger's own deadline for Airflow's deferral timeout, so the
#: trigger reports a clean ``timeout`` event before Airflow kills the deferral.
DEFER_GRACE = 60.0


def check_job(hook: MathpixHook, job_id: str, log: logging.Logger | Any) -> JobFinished | None:
    """One poll of a job: the event when complete, else None."""
    progress = JobProgress.from_record(hook.get_job(job_id))
    log.info("Mathpix job %s: %s", job_id, progress_line(progress, None))
    return job_event(job_id, progress)


def job_counters(hook: MathpixHook, job_id: str) -> JobFinished:
    """A job's counters as they are now, as the event of its finished wait.

    For a job already known to be complete (a part of a split job waited on earlier),
    whose counters a report sums.
    """
    return JobProgress.from_record(hook.get_job(job_id)).finished(job_id)


def check_file(
    hook: MathpixHook, file_id: str, formats: Sequence[str] | None, log: logging.Logger | Any
) -> WaitEvent | None:
    """One poll of a file (and the formats that must be ready): the event once settled."""
    record = hook.get_file(file_id)
    log.info("Mathpix file %s: %s", file_id, record.get("status"))
    return file_event(file_id, record, formats)


def check_once(check: Check, ids: Mapping[str, Any], log: logging.Logger | Any) -> WaitEvent | None:
    """One check where a transient error means "not known yet" and any other ends the wait.

    ``ids``: what is waited on (``{"job_id": ...}``, ``{"file_id": ...}`` or ``{"batch_id": ...}``).
    """
    try:
        return check()
    except Exception as exc:
        if is_transient(exc):
            log.warning("Transient error while checking Mathpix (will keep waiting): %s", exc)
            return None
        return error_event(exc, WaitOn(**ids))


def wait_in_process(
    check: Check,
    *,
    ids: Mapping[str, Any],
    poll_interval: float,
    end_time: float,
    log: logging.Logger | Any,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitEvent:
    """Poll until an event, riding out transient errors; :class:`TimedOut` past ``end_time``."""
    while True:
        event = check_once(check, ids, log)
        if event is not None:
            return event
        left = end_time - time.time()
        if left <= 0:
            return TimedOut(WaitOn(**ids))
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
    ids: Mapping[str, Any],
    trigger: Callable[[], BaseTrigger],
    poll_interval: float,
    end_time: float,
    resume: dict[str, Any] | None = None,
) -> WaitEvent:
    """The one wait every operator does: the event, or a deferral.

    Deferrable operators check once first (a finished job or file needs no trigger) and
    otherwise defer to ``trigger()`` -- resuming in ``execute_complete`` with ``resume``
    as extra keyword arguments -- with Airflow's own deferral timeout just past
    ``end_time``. Others poll in the worker until an event or the deadline.
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
