"""Simulated processing of fetched records, one chunk at a time (on a fetch worker).

Each record's source is read through the per-URI cache, its outputs are written to
``destination_uri`` if any, then its ``split_at``/``ready_at`` are stamped (status
follows from the clock) and the webhooks its submission asked for are scheduled.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .config import EmulatorConfig
from .documents import Document, analyze
from .errors import ApiError
from .events import FileEvents
from .outputs import page_crop_png, render
from .records import FileRecord, Job
from .rules import ALWAYS_FORMATS, download_ext, select_pages
from .sources import Buckets, SourceCache
from .state import Store
from .stats import Stats


class RecordProcessor:
    """Turns a chunk of records into documents or errors; what a :class:`~.workers.Fetcher` runs.

    ``current_config`` is read once per chunk: timing may be tuned while the emulator runs.
    """

    def __init__(
        self,
        *,
        sources: SourceCache,
        buckets: Buckets,
        stats: Stats,
        events: FileEvents,
        current_config: Callable[[], EmulatorConfig],
    ) -> None:
        self.sources = sources
        self.buckets = buckets
        self.stats = stats
        self.events = events
        self.current_config = current_config

    def process(self, store: Store, items: list[tuple[FileRecord, bytes | None]]) -> None:
        """Fetch, convert and schedule a chunk of records (runs on a worker thread).

        Sources are resolved outside the store lock (I/O), then every outcome is
        applied under one lock acquisition, so 200,000 cached-source records cost
        a few microseconds each and leave the event loop its share of the GIL.
        """
        cfg = self.current_config()
        memo: dict[str, Document | tuple[str, str]] = {}
        outcomes: list[tuple[FileRecord, Document | tuple[str, str] | None]] = []
        for rec, data in items:
            if rec.deleted or rec.error_code is not None or rec.doc is not None:
                outcomes.append((rec, None))
                continue
            outcomes.append((rec, self._resolve(store, rec, data, memo)))
        now = time.time()
        jobs: dict[int, Job] = {}
        with store.lock:
            for rec, outcome in outcomes:
                if isinstance(outcome, Document):
                    store.fetched(rec, outcome, now, cfg.time_per_file, cfg.time_per_page, cfg.jitter)
                elif outcome is not None:
                    store.fail(rec, *outcome)
                job = rec.job
                if job is not None:
                    job.unfetched -= 1
                    jobs[id(job)] = job
        for rec, outcome in outcomes:
            if isinstance(outcome, Document):
                if rec.sub.wants("file.completed"):
                    self.events.file_event(store, rec, "file.completed", rec.formats_done_at(cfg.format_lag))
            elif outcome is not None and rec.sub.wants("file.error"):
                self.events.file_event(store, rec, "file.error", now)
        for job in jobs.values():
            self.events.job_completed_when_done(store, job)

    def _resolve(
        self, store: Store, rec: FileRecord, data: bytes | None, memo: dict[str, Document | tuple[str, str]]
    ) -> Document | tuple[str, str]:
        """The record's document (and its outputs written to ``destination_uri``), or its error."""
        try:
            if data is not None:
                doc = analyze(data)
            else:
                cached = memo.get(rec.source_uri)
                if cached is None:
                    assert rec.source is not None
                    try:
                        cached = self.sources.get(rec.source_uri, rec.source)
                    except ApiError as exc:
                        cached = (exc.code, exc.message)
                    memo[rec.source_uri] = cached
                if isinstance(cached, tuple):
                    return cached
                doc = cached
            if rec.destination_uri is not None:
                self._write_outputs(store, rec, doc)
            return doc
        except ApiError as exc:
            return (exc.code, exc.message)

    def _write_outputs(self, store: Store, rec: FileRecord, doc: Document) -> None:
        assert rec.destination_uri is not None
        base = rec.destination_basename or store.file_id(rec)
        prefix = rec.destination_uri.rstrip("/") + "/"
        pages = rec.pages
        if rec.page_ranges:
            pages = select_pages(doc.num_pages, rec.page_ranges)
        crops: list[str] = []
        if rec.sub.image_output_mode == "local":
            # SCS layout: one crop per page in images/, referenced relatively from the Markdown
            for n in range(1, (len(pages) if pages is not None else doc.num_pages) + 1):
                crops.append(f"images/{base}_page{n}.png")
                self.buckets.write(f"{prefix}{crops[-1]}", page_crop_png(), "image/png")
                self.stats.incr("outputs_written")
        for ext in (*ALWAYS_FORMATS, *rec.sub.formats):
            data, ctype = render(doc, ext, pages)
            if crops and ext in ("mmd", "md"):
                data += "".join(f"\n\n![]({crop})" for crop in crops).encode()
            self.buckets.write(f"{prefix}{base}.{download_ext(ext)}", data, ctype)
            self.stats.incr("outputs_written")
