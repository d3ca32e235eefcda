"""Deferrable triggers: wait for a Mathpix file or job in the triggerer, not in a worker slot.

Shape follows Airflow's deferring guide (and the dbt Cloud provider): a trigger is
rebuilt from ``serialize()`` anywhere, so it carries only ids, the connection id, the
poll interval and an absolute deadline (``end_time``, epoch seconds) -- never a key,
never state. ``run()`` opens ONE client (``async with hook:``) for all its polls,
awaits everything (the triggerer's loop serves thousands of triggers), rides out
transient errors until the deadline, yields exactly one event and returns.

Events (``TriggerEvent.payload``) are the ``to_payload()`` of the typed events of
``contract.events``: ``JobFinished``/``FileFinished``/``BatchFinished`` (``status:
success``), ``FileFailed``/``ApiError``/``RequestError``/``SetupError`` (``status:
error`` with ``code``, ``http_status``, ``message``), ``TimedOut`` (``status: timeout``,
with a job's last counters); each names its ``kind`` and the id waited on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow_provider_mathpix._compat import BaseTrigger, TriggerEvent
from airflow_provider_mathpix.contract.events import TimedOut, WaitEvent, WaitOn
from airflow_provider_mathpix.contract.status import (
    EtaEstimator,
    JobProgress,
    batch_event,
    file_event,
    job_event,
    progress_line,
)
from airflow_provider_mathpix.exceptions import validation_errors
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers.outcomes import error_event, is_transient, setup_error

#: Even with a tiny poll interval, do not hammer the API (and the triggerer's loop).
MIN_POLL_INTERVAL = 0.05
#: Log a progress line at least this often even when nothing changed.
_QUIET_LOG_EVERY = 300.0
#: Each wait between polls is the interval times a random factor in 1 ± this, so triggers
#: started together (200 on one job, a triggerer restart) drift apart instead of polling
#: in waves; the first poll waits a random part of one interval for the same reason.
POLL_JITTER = 0.2
#: Seconds a poll may take when the deadline has already come (one last look at the status).
LAST_LOOK = 1.0
#: The first poll's random delay never exceeds this (a 1-hour interval still polls soon).
FIRST_POLL_SPREAD_MAX = 10.0


class _PollingTrigger(BaseTrigger):
    """The poll loop both triggers share: one client, transient errors ridden out, one event."""

    @validation_errors()
    def __init__(self, *, conn_id: str, poll_interval: float, end_time: float) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time)

    def _base_kwargs(self) -> dict[str, Any]:
        return {"conn_id": self.conn_id, "poll_interval": self.poll_interval, "end_time": self.end_time}

    @abstractmethod
    def _on(self) -> WaitOn:
        """What this trigger waits on, for its events."""

    @abstractmethod
    async def _poll(self, hook: MathpixHook) -> WaitEvent | None:
        """One poll: the event when the wait is over, else None."""
        ...

    def _timed_out(self) -> TimedOut:
        return TimedOut(self._on())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self._wait()
        yield TriggerEvent(event.to_payload())

    async def _wait(self) -> WaitEvent:
        interval = max(self.poll_interval, MIN_POLL_INTERVAL)
        try:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    hook = await stack.enter_async_context(MathpixHook(mathpix_conn_id=self.conn_id))
                except Exception as exc:
                    # Never reached Mathpix (no connection, a connection the hook refuses, an
                    # import this Airflow lacks): say so, not "file/job failed".
                    self.log.error("Could not start waiting on Mathpix: %s", exc)
                    return setup_error(exc, self.conn_id, self._on())
                spread = random.uniform(0, min(interval, FIRST_POLL_SPREAD_MAX))
                await asyncio.sleep(max(0.0, min(spread, self.end_time - time.time())))
                while True:
                    try:
                        # The deadline holds even while a poll is in flight (a server may
                        # trickle); a poll at or past it still gets a short last look.
                        # (A timeout scope, not wait_for: no task per poll.)
                        async with asyncio.timeout(max(LAST_LOOK, self.end_time - time.time())):
                            event = await self._poll(hook)
                    except TimeoutError:
                        event = None  # the deadline check below ends the wait
                    except Exception as exc:
                        if not is_transient(exc):
                            self.log.error("Polling Mathpix failed: %s", exc)
                            return error_event(exc, self._on())
                        self.log.warning("Transient error while polling Mathpix (will keep polling): %s", exc)
                        event = None
                    if event is not None:
                        return event
                    wait = interval * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER)
                    left = self.end_time - time.time()
                    if left <= wait:
                        # No poll AT the deadline: triggers sharing one would all send it at once.
                        await asyncio.sleep(max(0.0, left))
                        return self._timed_out()
                    await asyncio.sleep(wait)
        except Exception as exc:
            # Closing the client failed after the wait: still one clear event.
            self.log.error("Polling Mathpix ended with an error: %s", exc)
            return error_event(exc, self._on())


class MathpixJobTrigger(_PollingTrigger):
    """Wait until every file of a job is terminal (completed or errored).

    :param job_id: the job to watch.
    :param conn_id: the Mathpix connection id (the key is read in the triggerer, never serialized).
    :param poll_interval: seconds between polls of ``GET /files/v1/jobs/{job_id}``.
    :param end_time: absolute deadline, epoch seconds; a ``timeout`` event fires after it.
    """

    @validation_errors()
    def __init__(self, job_id: str, conn_id: str, poll_interval: float, end_time: float) -> None:
        super().__init__(conn_id=conn_id, poll_interval=poll_interval, end_time=end_time)
        self.job_id = job_id
        self._eta = EtaEstimator()
        self._last: JobProgress | None = None
        self._last_logged = 0.0

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"job_id": self.job_id, **self._base_kwargs()},
        )

    def _on(self) -> WaitOn:
        return WaitOn(job_id=self.job_id)

    async def _poll(self, hook: MathpixHook) -> WaitEvent | None:
        progress = JobProgress.from_record(await hook.aget_job(self.job_id))
        now = time.time()
        eta = self._eta.update(now, progress.terminal_files, progress.file_count)
        if progress != self._last or now - self._last_logged >= _QUIET_LOG_EVERY:
            self.log.info("Mathpix job %s: %s", self.job_id, progress_line(progress, eta))
            self._last, self._last_logged = progress, now
        return job_event(self.job_id, progress)

    def _timed_out(self) -> TimedOut:
        if self._last is None:
            return super()._timed_out()
        message = f"deadline passed with job {self.job_id} at {progress_line(self._last, None)}"
        return TimedOut(self._on(), message, self._last.counters)


class MathpixFileTrigger(_PollingTrigger):
    """Wait until a file, and optionally some of its conversion formats, are ready.

    :param file_id: the file to watch.
    :param formats: extensions (``"docx"``, ``"tex.zip"``, ...) that must be ready too;
        formats can finish after the file's own status does.
    """

    @validation_errors()
    def __init__(
        self,
        file_id: str,
        conn_id: str,
        poll_interval: float,
        end_time: float,
        formats: Sequence[str] | None = None,
    ) -> None:
        super().__init__(conn_id=conn_id, poll_interval=poll_interval, end_time=end_time)
        self.file_id = file_id
        self.formats = list(formats) if formats else None
        self._last_status: str | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"file_id": self.file_id, **self._base_kwargs(), "formats": self.formats},
        )

    def _on(self) -> WaitOn:
        return WaitOn(file_id=self.file_id)

    async def _poll(self, hook: MathpixHook) -> WaitEvent | None:
        record = await hook.aget_file(self.file_id)
        status = (
            f"{record.get('status')} {record.get('num_pages_completed') or 0}/{record.get('num_pages') or 0}"
        )
        if status != self._last_status:
            self.log.info("Mathpix file %s: %s pages done", self.file_id, status)
            self._last_status = status
        return file_event(self.file_id, record, self.formats)


class MathpixImageBatchTrigger(_PollingTrigger):
    """Wait until every image of a ``/v3/batch`` has its result.

    :param batch_id: the batch to watch (a number; kept as given).
    """

    @validation_errors()
    def __init__(self, batch_id: int | str, conn_id: str, poll_interval: float, end_time: float) -> None:
        super().__init__(conn_id=conn_id, poll_interval=poll_interval, end_time=end_time)
        self.batch_id = batch_id
        self._last_ready = -1

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"batch_id": self.batch_id, **self._base_kwargs()},
        )

    def _on(self) -> WaitOn:
        return WaitOn(batch_id=self.batch_id)

    async def _poll(self, hook: MathpixHook) -> WaitEvent | None:
        record = await hook.aget_image_batch(self.batch_id)
        ready = len(record.get("results") or {})
        if ready != self._last_ready:
            total = len(record.get("keys") or ())
            self.log.info(
                "Mathpix image batch %s: %s/%s results ready", self.batch_id, f"{ready:,}", f"{total:,}"
            )
            self._last_ready = ready
        return batch_event(self.batch_id, record)
