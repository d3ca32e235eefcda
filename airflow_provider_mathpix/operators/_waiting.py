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
from typing import Any

from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers._status import (
    JobProgress,
    error_event_payload,
    file_event_payload,
    is_transient,
    job_event_payload,
    progress_line,
)

Check = Callable[[], "dict[str, Any] | None"]


def check_job(hook: MathpixHook, job_id: str, log: logging.Logger | Any) -> dict[str, Any] | None:
    """One poll of a job: the ``success`` payload when complete, else None."""
    progress = JobProgress.from_record(hook.get_job(job_id))
    log.info("Mathpix job %s: %s", job_id, progress_line(progress, None))
    payload = job_event_payload(progress)
    return {"job_id": job_id, **payload} if payload is not None else None


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
