"""An event trigger for ``AssetWatcher``: a Mathpix job completed, wherever it was submitted.

Airflow 3 schedules a DAG on an asset whose watcher's trigger fires
(``Asset(..., watchers=[AssetWatcher(name=..., trigger=...)])``); the trigger must be a
``BaseEventTrigger``. :class:`MathpixJobCompletedTrigger` polls Mathpix and fires once
per job that reaches ``completed``: one job (``job_id``), or every job whose id starts
with ``job_id_prefix`` (found through ``GET /files/v1/jobs`` over the last
``lookback_days`` UTC days), so a load DAG runs on jobs submitted by another DAG, a
script or an SCS migration.

Stateless and restart-safe like the other triggers: the trigger object carries only
its serialized kwargs. What it has fired for lives beside the data, not in the
triggerer's memory: once a job's event is handed to the triggerer it writes
``<state_path>/<job_id>.fired`` (whole, one object), and every poll starts with one
listing of that folder. A trigger re-created from ``serialize()`` -- a restarted or
moved triggerer -- therefore never fires again for a job it already reported. The one
window left (the process killed between handing over the event and writing the marker)
can repeat an event, never lose one; the loading operators are idempotent, so a
repeated event rewrites the same rows.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix.contract.events import JobCompleted, JobCounters
from airflow_provider_mathpix.contract.ids import validate_id
from airflow_provider_mathpix.exceptions import MathpixError, MathpixValidationError, validation_errors
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers.outcomes import is_transient

try:
    from airflow.triggers.base import BaseEventTrigger, TriggerEvent

    EVENT_TRIGGERS_AVAILABLE = True
except ImportError:  # Airflow 2: no event-driven scheduling
    from airflow.triggers.base import BaseTrigger as BaseEventTrigger  # type: ignore[assignment]
    from airflow.triggers.base import TriggerEvent

    EVENT_TRIGGERS_AVAILABLE = False

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

MARKER_SUFFIX = ".fired"
MIN_POLL_INTERVAL = 0.05


def require_event_triggers(available: bool = EVENT_TRIGGERS_AVAILABLE) -> None:
    """Fail clearly where the running Airflow has no event triggers (Airflow < 3.0)."""
    if not available:
        import airflow

        raise MathpixError(
            "MathpixJobCompletedTrigger is an event trigger for AssetWatcher, which needs Airflow >= 3.0 "
            f"(this is Airflow {airflow.__version__}); on Airflow 2 wait with MathpixJobSensor instead"
        )


class MathpixJobCompletedTrigger(BaseEventTrigger):
    """Fire once per Mathpix job that reaches ``completed`` (for ``AssetWatcher``).

    :param job_id: watch this one job; or
    :param job_id_prefix: watch every job whose id starts with it (e.g. ``airflow:convert_dag:``).
    :param state_path: folder (bucket URI or local path every triggerer can reach) where the
        trigger records the jobs it fired for.
    :param state_conn_id: storage connection for a ``state_path`` URI.
    :param conn_id: the Mathpix connection (read in the triggerer; the key is never serialized).
    :param poll_interval: seconds between polls.
    :param lookback_days: with a prefix, how many UTC days of ``GET /files/v1/jobs`` to scan.

    Event payload: a :class:`~airflow_provider_mathpix.contract.events.JobCompleted`,
    ``{"kind": "job_completed", "job_id", "status": "completed", "file_count",
    "files_completed", "files_errored"}``; it becomes the asset event's ``extra``.
    """

    @validation_errors()
    def __init__(
        self,
        *,
        state_path: str,
        job_id: str | None = None,
        job_id_prefix: str | None = None,
        state_conn_id: str | None = None,
        conn_id: str = MathpixHook.default_conn_name,
        poll_interval: float = 60.0,
        lookback_days: int = 2,
    ) -> None:
        require_event_triggers()
        super().__init__()
        if (job_id is None) == (job_id_prefix is None):
            raise MathpixValidationError("give exactly one of job_id or job_id_prefix")
        if job_id is not None:
            validate_id(job_id, "job_id")
        if job_id_prefix is not None and (not isinstance(job_id_prefix, str) or not job_id_prefix):
            raise MathpixValidationError("job_id_prefix must be a non-empty string")
        if not isinstance(state_path, str) or not state_path.strip():
            raise MathpixValidationError("state_path must be a folder (bucket URI or local path)")
        if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or lookback_days < 1:
            raise MathpixValidationError(f"lookback_days must be a positive integer, got {lookback_days!r}")
        self.job_id = job_id
        self.job_id_prefix = job_id_prefix
        self.state_path = state_path
        self.state_conn_id = state_conn_id
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.lookback_days = lookback_days

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "state_path": self.state_path,
                "job_id": self.job_id,
                "job_id_prefix": self.job_id_prefix,
                "state_conn_id": self.state_conn_id,
                "conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
                "lookback_days": self.lookback_days,
            },
        )

    # ------------------------------------------------------------------ durable "already fired"

    def _folder(self) -> ObjectStoragePath:
        from airflow_provider_mathpix.ledger import ledger_folder

        return ledger_folder(self.state_path, self.state_conn_id)

    def _fired(self) -> set[str]:
        """Job ids already reported: one listing of the state folder."""
        folder = self._folder()
        try:
            entries = folder.fs.ls(folder.path, detail=False)
        except FileNotFoundError:
            return set()
        names = (str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries)
        return {name[: -len(MARKER_SUFFIX)] for name in names if name.endswith(MARKER_SUFFIX)}

    def _mark(self, job_id: str) -> None:
        from airflow_provider_mathpix.storage import is_local_path

        path = self._folder() / f"{job_id}{MARKER_SUFFIX}"
        if is_local_path(path):
            os.makedirs(os.path.dirname(path.path), exist_ok=True)
        path.write_bytes(job_id.encode("utf-8"))  # tiny, one write: whole or absent

    # ------------------------------------------------------------------ polling

    async def _candidates(self, hook: MathpixHook, fired: set[str]) -> AsyncIterator[str]:
        if self.job_id is not None:
            if self.job_id not in fired:
                yield self.job_id
            return
        today = datetime.now(timezone.utc)
        start = (today - timedelta(days=self.lookback_days - 1)).strftime("%Y-%m-%d")
        # Both bounds: ``start`` alone would list that single day only, never today's jobs.
        async for job in hook.aiter_jobs(start=start, end=today.strftime("%Y-%m-%d")):
            job_id = str(job.get("job_id") or "")
            if job_id.startswith(self.job_id_prefix or "") and job_id not in fired:
                yield job_id

    async def _completed(self, hook: MathpixHook) -> list[JobCompleted]:
        """One poll: the events of the watched jobs now complete and not yet reported."""
        fired = await asyncio.to_thread(self._fired)
        completed = []
        async for job_id in self._candidates(hook, fired):
            try:
                job = await hook.aget_job(job_id)
            except Exception as exc:
                if self.job_id is not None or not is_transient(exc):
                    self.log.info("Job %s not readable yet (%s); will look again", job_id, exc)
                    continue
                raise
            if job.get("status") == "completed":
                completed.append(JobCompleted(job_id, JobCounters.of(job)))
        return completed

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll forever (an asset watcher's trigger lives as long as its DAG)."""
        interval = max(self.poll_interval, MIN_POLL_INTERVAL)
        hook = MathpixHook(mathpix_conn_id=self.conn_id)
        async with hook:
            while True:
                try:
                    completed = await self._completed(hook)
                except Exception as exc:  # keep watching: the next poll starts from the markers
                    self.log.warning("Polling Mathpix jobs failed (will poll again): %s", exc)
                    completed = []
                for event in completed:
                    self.log.info("Mathpix job %s completed: firing the asset event", event.job_id)
                    try:
                        yield TriggerEvent(event.to_payload())
                    finally:
                        # Delivered: recorded even when the triggerer stops this trigger right after it.
                        await asyncio.to_thread(self._mark, event.job_id)
                await asyncio.sleep(interval)
