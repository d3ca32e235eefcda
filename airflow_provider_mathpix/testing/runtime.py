"""One emulator's moving parts wired together: config, store, stats, workers, webhooks, faults."""

from __future__ import annotations

import hashlib
from typing import Any

from .config import EmulatorConfig
from .events import FileEvents
from .faults import FaultInjector
from .processing import RecordProcessor
from .sources import Buckets, SourceCache
from .state import Store
from .stats import Stats
from .webhooks import Deliverer, WebhookScheduler
from .workers import Fetcher


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
        secret = (
            config.webhook_secret
            or "whsec_" + hashlib.sha256(f"mathpix-emulator:{config.seed}".encode()).hexdigest()[:32]
        )
        self.deliverer = Deliverer(secret, self.stats, config.webhook_timeout)
        self.webhooks = WebhookScheduler(self.deliverer)
        # reset() swaps store and config: the workers and the webhook thread read the live ones
        self.events = FileEvents(self.webhooks, lambda: self.store, lambda: self.config)
        processor = RecordProcessor(
            sources=self.cache,
            buckets=self.buckets,
            stats=self.stats,
            events=self.events,
            current_config=lambda: self.config,
        )
        self.fetcher = Fetcher(config.fetch_workers, processor.process)
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
