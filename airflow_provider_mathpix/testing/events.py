"""When file and job webhooks are due, and what they carry.

Bodies are built at delivery time, not when the event is scheduled, so a webhook
mirrors what polling shows at that moment; an event whose store was reset (or whose
file was deleted) meanwhile is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .config import EmulatorConfig
from .records import FileRecord, Job, iso
from .state import Store
from .webhooks import WebhookScheduler


def file_event_body(store: Store, rec: FileRecord, event: str, format_lag: float) -> dict[str, Any]:
    """A file webhook body: the polling record under ``data``."""
    now = time.time()
    return {"event": event, "created_at": iso(now), "data": store.file_view(rec, now, format_lag)}


def job_event_body(job: Job) -> dict[str, Any]:
    """A ``job.completed`` body: the job's polling record under ``data``."""
    now = time.time()
    return {"event": "job.completed", "created_at": iso(now), "data": job.view(now)}


class FileEvents:
    """Schedules ``file.*`` and ``job.completed`` deliveries on the webhook thread.

    ``current_store`` and ``current_config`` are read at delivery time: a reset swaps
    both, and an event of the old store must not reach anyone.
    """

    def __init__(
        self,
        webhooks: WebhookScheduler,
        current_store: Callable[[], Store],
        current_config: Callable[[], EmulatorConfig],
    ) -> None:
        self.webhooks = webhooks
        self.current_store = current_store
        self.current_config = current_config

    def file_event(self, store: Store, rec: FileRecord, event: str, due: float) -> None:
        """Deliver ``event`` about ``rec`` to its submission's callback at ``due``."""
        cb = rec.sub.callback
        assert cb is not None

        def build() -> tuple[str, dict[str, Any]] | None:
            if rec.deleted or store is not self.current_store():
                return None
            return event, file_event_body(store, rec, event, self.current_config().format_lag)

        self.webhooks.schedule(due, cb.url, cb.headers, build)

    def job_completed_when_done(self, store: Store, job: Job) -> None:
        """After ``finalize``, once all members are fetched: ``job.completed`` when the last completes."""
        with store.lock:
            sub = job.callback_sub
            if job.finalized_at is None or job.unfetched > 0 or job.completed_sent or sub is None:
                return
            job.completed_sent = True
            due = max(time.time(), job.max_ready_at)
        cb = sub.callback
        assert cb is not None

        def build() -> tuple[str, dict[str, Any]] | None:
            if store is not self.current_store():
                return None
            with store.lock:
                job.refresh(time.time())
                if not job.is_done():
                    job.completed_sent = False  # members were appended meanwhile: the next fetch reschedules
                    return None
            return "job.completed", job_event_body(job)

        self.webhooks.schedule(due, cb.url, cb.headers, build)
