"""Deferrable triggers: wait for a Mathpix file or job in the triggerer, not in a worker slot.

Shape follows Airflow's deferring guide (and the dbt Cloud provider): a trigger is
rebuilt from ``serialize()`` anywhere, so it carries only ids, the connection id, the
poll interval and an absolute deadline (``end_time``, epoch seconds) -- never a key,
never state. ``run()`` opens ONE client (``async with hook:``) for all its polls,
awaits everything (the triggerer's loop serves thousands of triggers), rides out
transient errors until the deadline, yields exactly one event and returns.

Events (``TriggerEvent.payload``):

- ``{"status": "success", ...ids, ...counters}``
- ``{"status": "error", "code", "http_status", "message", ...ids}``
- ``{"status": "timeout", "message", ...ids, ...last counters}``
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
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers._status import (
    EtaEstimator,
    JobProgress,
    batch_event_payload,
    error_event_payload,
    file_event_payload,
    is_transient,
    job_event_payload,
    progress_line,
    setup_error_payload,
)

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

    def __init__(self, *, conn_id: str, poll_interval: float, end_time: float) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time)

    def _base_kwargs(self) -> dict[str, Any]:
        return {"conn_id": self.conn_id, "poll_interval": self.poll_interval, "end_time": self.end_time}

    @abstractmethod
    def _ids(self) -> dict[str, Any]:
        """The ids this trigger waits on, for its serialized kwargs and log lines."""

    @abstractmethod
    async def _poll(self, hook: MathpixHook) -> dict[str, Any] | None:
        """One poll: an event payload when the wait is over, else None."""
        ...

    def _timeout_payload(self) -> dict[str, Any]:
        return {"status": "timeout", "message": "the deadline passed before Mathpix finished"}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        payload = await self._wait()
        yield TriggerEvent({**self._ids(), **payload})

    async def _wait(self) -> dict[str, Any]:
        interval = max(self.poll_interval, MIN_POLL_INTERVAL)
        try:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    hook = await stack.enter_async_context(MathpixHook(mathpix_conn_id=self.conn_id))
                except Exception as exc:
                    # Never reached Mathpix (no connection, a connection the hook refuses, an
                    # import this Airflow lacks): say so, not "file/job failed".
                    self.log.error("Could not start waiting on Mathpix: %s", exc)
                    return setup_error_payload(exc, self.conn_id)
                spread = random.uniform(0, min(interval, FIRST_POLL_SPREAD_MAX))
                await asyncio.sleep(max(0.0, min(spread, self.end_time - time.time())))
                last_look = False
                while True:
                    try:
                        # The deadline holds even while a poll is in flight (a server may
                        # trickle); a poll at or past it still gets a short last look.
                        payload = await asyncio.wait_for(
                            self._poll(hook), max(LAST_LOOK, self.end_time - time.time())
                        )
                    except asyncio.TimeoutError:
                        payload = None  # the deadline check below ends the wait
                    except Exception as exc:
                        if not is_transient(exc):
                            self.log.error("Polling Mathpix failed: %s", exc)
                            return error_event_payload(exc)
                        self.log.warning("Transient error while polling Mathpix (will keep polling): %s", exc)
                        payload = None
                    if payload is not None:
                        return payload
                    wait = interval * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER)
                    left = self.end_time - time.time()
                    if left <= wait:
                        if last_look or left <= 0:
                            await asyncio.sleep(max(0.0, left))
                            return self._timeout_payload()
                        # One last look before the deadline, at a random point of what is left:
                        # a job that finishes in time is not reported as a timeout, and triggers
                        # sharing a deadline do not all poll AT it.
                        last_look = True
                        await asyncio.sleep(left * random.uniform(0.5, 1.0))
                        continue
                    await asyncio.sleep(wait)
        except Exception as exc:
            # Closing the client failed after the wait: still one clear event.
            self.log.error("Polling Mathpix ended with an error: %s", exc)
            return error_event_payload(exc)


class MathpixJobTrigger(_PollingTrigger):
    """Wait until every file of a job is terminal (completed or errored).

    :param job_id: the job to watch.
    :param conn_id: the Mathpix connection id (the key is read in the triggerer, never serialized).
    :param poll_interval: seconds between polls of ``GET /files/v1/jobs/{job_id}``.
    :param end_time: absolute deadline, epoch seconds; a ``timeout`` event fires after it.
    """

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

    def _ids(self) -> dict[str, Any]:
        return {"job_id": self.job_id}

    async def _poll(self, hook: MathpixHook) -> dict[str, Any] | None:
        progress = JobProgress.from_record(await hook.aget_job(self.job_id))
        now = time.time()
        eta = self._eta.update(now, progress.terminal_files, progress.file_count)
        if progress != self._last or now - self._last_logged >= _QUIET_LOG_EVERY:
            self.log.info("Mathpix job %s: %s", self.job_id, progress_line(progress, eta))
            self._last, self._last_logged = progress, now
        return job_event_payload(progress)

    def _timeout_payload(self) -> dict[str, Any]:
        payload = super()._timeout_payload()
        if self._last is not None:
            payload.update({k: v for k, v in self._last.as_dict().items() if k != "status"})
            payload["message"] = (
                f"deadline passed with job {self.job_id} at {progress_line(self._last, None)}"
            )
        return payload


class MathpixFileTrigger(_PollingTrigger):
    """Wait until a file, and optionally some of its conversion formats, are ready.

    :param file_id: the file to watch.
    :param formats: extensions (``"docx"``, ``"tex.zip"``, ...) that must be ready too;
        formats can finish after the file's own status does.
    """

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

    def _ids(self) -> dict[str, Any]:
        return {"file_id": self.file_id}

    async def _poll(self, hook: MathpixHook) -> dict[str, Any] | None:
        record = await hook.aget_file(self.file_id)
        status = (
            f"{record.get('status')} {record.get('num_pages_completed') or 0}/{record.get('num_pages') or 0}"
        )
        if status != self._last_status:
            self.log.info("Mathpix file %s: %s pages done", self.file_id, status)
            self._last_status = status
        return file_event_payload(record, self.formats)


class MathpixImageBatchTrigger(_PollingTrigger):
    """Wait until every image of a ``/v3/batch`` has its result.

    :param batch_id: the batch to watch (a number; kept as given).
    """

    def __init__(self, batch_id: int | str, conn_id: str, poll_interval: float, end_time: float) -> None:
        super().__init__(conn_id=conn_id, poll_interval=poll_interval, end_time=end_time)
        self.batch_id = batch_id
        self._last_ready = -1

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"batch_id": self.batch_id, **self._base_kwargs()},
        )

    def _ids(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id}

    async def _poll(self, hook: MathpixHook) -> dict[str, Any] | None:
        record = await hook.aget_image_batch(self.batch_id)
        ready = len(record.get("results") or {})
        if ready != self._last_ready:
            total = len(record.get("keys") or ())
            self.log.info(
                "Mathpix image batch %s: %s/%s results ready", self.batch_id, f"{ready:,}", f"{total:,}"
            )
            self._last_ready = ready
        return batch_event_payload(record)
