"""The emulator's settings (constructor arguments, CLI flags and ``/_emulator/config``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EmulatorConfig:
    """Everything a test may tune. Defaults suit tests: no faults, a small document done in < 1 s.

    ``time_per_file``/``time_per_page``: simulated processing after the source is fetched
    (``pending`` for ``time_per_file``, then ``split`` for ``time_per_page`` per page).
    ``format_lag``: the unit of delay before requested conversion formats are ready (``md``/``html``
    one unit after the file, ``docx`` and the zips two, ``tex.zip``/PDF/PPTX/XLSX three).
    ``time_per_image``: per-key delay of ``/v3/batch`` results.
    ``jitter``: spread of processing times, ±fraction per file (0: every file takes the same).
    ``listing_lag``: seconds a new job member stays out of listings and custom_id lookups.
    ``app_keys``/``app_ids``: allow-lists (None: any non-empty value).
    ``fetch_workers``: bounded pool reading sources; ``fetch_timeout`` per source.
    ``page_size_default``/``page_size_max``: job file listing (the hook must not depend on them).
    ``public_hosts``: ``{"host.example.com": "http://127.0.0.1:PORT"}``: public https sources on
    these hosts are read from the given base URL instead (a sandbox without internet serves
    the public sample documents a client's tests name from a loopback server).
    """

    app_keys: frozenset[str] | None = None
    app_ids: frozenset[str] | None = None
    time_per_file: float = 0.05
    time_per_page: float = 0.02
    format_lag: float = 0.05
    time_per_image: float = 0.02
    jitter: float = 0.0
    listing_lag: float = 0.0
    faults: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 0
    storage: dict[str, Any] | None = None
    fetch_workers: int = 8
    fetch_timeout: float = 10.0
    allow_loopback_http: bool = True
    webhook_secret: str | None = None
    webhook_timeout: float = 5.0
    page_size_default: int = 1000
    page_size_max: int = 10000
    jobs_page_default: int = 100
    jobs_page_max: int = 1000
    max_items_per_call: int = 200_000
    source_cache_ttl: float = 300.0
    public_hosts: dict[str, str] = field(default_factory=dict)

    #: settings a running emulator may change (``configure()`` / ``PUT /_emulator/config``)
    TUNABLE = (
        "time_per_file",
        "time_per_page",
        "format_lag",
        "time_per_image",
        "jitter",
        "listing_lag",
        "fetch_timeout",
        "source_cache_ttl",
        "allow_loopback_http",
        "page_size_default",
        "page_size_max",
    )

    def copy(self) -> EmulatorConfig:
        return dataclasses.replace(self, faults=list(self.faults), public_hosts=dict(self.public_hosts))

    def public(self) -> dict[str, Any]:
        """The settings as JSON (never the storage secrets)."""
        out = {k: getattr(self, k) for k in self.TUNABLE}
        out.update(seed=self.seed, app_keys_restricted=self.app_keys is not None, faults=self.faults)
        return out
