"""One emulator's moving parts wired together: config, store, stats, workers, webhooks, faults."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from .config import EmulatorConfig
from .faults import FaultInjector
from .processing import Fetcher, file_event_body, job_event_body
from .sources import Buckets, SourceCache
from .state import FileRecord, Job, Store
from .stats import Stats
from .webhooks import Deliverer, WebhookScheduler


class Runtime:
    """Shared by the ASGI app (``app.state.rt``) and :class:`MathpixEmulator`."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.defaults = config.copy()
        self.config = config.copy()
        self.stats = Stats()
        self.store = Store()
        self.buckets = Buckets(config.storage)
        self.cache = SourceCache(
            self.buckets,
            timeout=config.fetch_timeout,
            ttl=config.source_cache_ttl,
            public_hosts=config.public_hosts,
        )
        self.fetcher = Fetcher(self, config.fetch_workers)
        secret = (
            config.webhook_secret
            or "whsec_" + hashlib.sha256(f"mathpix-emulator:{config.seed}".encode()).hexdigest()[:32]
        )
        self.deliverer = Deliverer(secret, self.stats, config.webhook_timeout)
        self.webhooks = WebhookScheduler(self.deliverer)
        self.faults = FaultInjector(config.faults, config.seed)

    @property
    def webhook_secret(self) -> str:
        return self.deliverer.secret

    def reset(self) -> None:
        """Forget every file, job, data source, batch, counter and cached source; restore the start config."""
        self.fetcher.clear()
        self.webhooks.clear()
        self.cache.clear()
        self.config = self.defaults.copy()
        self.cache.timeout = self.config.fetch_timeout
        self.faults.set(self.config.faults)
        self.store = Store()
        self.stats.reset()

    def stats_snapshot(self) -> dict[str, Any]:
        """Counters plus a few gauges (served by ``GET /_emulator/stats`` and ``MathpixEmulator.stats()``)."""
        out = self.stats.snapshot()
        out["sources_fetched"] = self.cache.fetches
        out["source_cache_hits"] = self.cache.hits
        out["fetch_queue"] = self.fetcher.pending()
        out["files"] = len(self.store.files)
        out["jobs"] = len(self.store.jobs)
        return out

    def configure(self, **changes: Any) -> None:
        """Change tunable settings at run time (see ``EmulatorConfig.TUNABLE``)."""
        unknown = set(changes) - set(EmulatorConfig.TUNABLE)
        if unknown:
            raise ValueError(
                f"not tunable at run time: {sorted(unknown)}; tunable: {list(EmulatorConfig.TUNABLE)}"
            )
        for key, value in changes.items():
            current = getattr(self.config, key)
            if isinstance(current, bool) != isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f"{key} must be {'true or false' if isinstance(current, bool) else 'a number'}"
                )
            if value < 0 or (key.startswith("page_size") and (value < 1 or not isinstance(value, int))):
                raise ValueError(
                    f"{key} must be {'a positive integer' if key.startswith('page_size') else '>= 0'}"
                )
        for key, value in changes.items():
            setattr(self.config, key, value)
        self.cache.timeout = self.config.fetch_timeout
        self.cache.ttl = self.config.source_cache_ttl

    def close(self) -> None:
        self.fetcher.close()
        self.webhooks.close()
        self.cache.close()

    # -- webhooks ------------------------------------------------------------
    def schedule_file_event(self, store: Store, rec: FileRecord, event: str, due: float) -> None:
        cb = rec.sub.callback
        assert cb is not None

        def build() -> tuple[str, dict[str, Any]] | None:
            if rec.deleted or store is not self.store:
                return None
            return event, file_event_body(store, rec, event, self.config.format_lag)

        self.webhooks.schedule(due, cb.url, cb.headers, build)

    def maybe_schedule_job_completed(self, store: Store, job: Job) -> None:
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
            if store is not self.store:
                return None
            with store.lock:
                job.refresh(time.time())
                if not job.is_done():
                    job.completed_sent = False  # members were appended meanwhile: the next fetch reschedules
                    return None
            return "job.completed", job_event_body(job)

        self.webhooks.schedule(due, cb.url, cb.headers, build)
