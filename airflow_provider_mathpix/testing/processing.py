"""Simulated processing: a bounded pool of fetch workers fed with ranges of records.

No thread or task per file: a submission enqueues the contiguous range of
sequence numbers it created (``[store, next, stop]``), and ``fetch_workers``
daemon threads pull one number at a time. Each worker reads the source through
the per-URI cache, writes outputs to ``destination_uri`` if any, then stamps the
record's ``split_at``/``ready_at`` (status follows from the clock) and schedules
the webhooks the submission asked for. ``/v3/batch`` work rides the same pool as
plain callables.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .documents import Document, analyze
from .errors import ApiError
from .outputs import page_crop_png, render
from .rules import ALWAYS_FORMATS, download_ext
from .state import FileRecord, Job, Store, iso

if TYPE_CHECKING:
    from .runtime import Runtime

#: sequence numbers a worker takes per visit to the queue
CHUNK = 64


class Fetcher:
    """The worker pool. Threads start on first use and stop with :meth:`close`."""

    def __init__(self, runtime: Runtime, workers: int) -> None:
        self.runtime = runtime
        self.workers = max(1, workers)
        self._ranges: deque[list[Any]] = deque()
        self._calls: deque[Callable[[], None]] = deque()
        self._uploads: dict[tuple[int, int], bytes] = {}
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stop = False

    def enqueue_range(self, store: Store, start: int, stop: int) -> None:
        if start >= stop:
            return
        with self._cond:
            self._ranges.append([store, start, stop])
            self._start_threads()
            self._cond.notify(min(self.workers, stop - start))

    def enqueue_upload(self, store: Store, seq: int, data: bytes) -> None:
        with self._cond:
            self._uploads[(id(store), seq)] = data
        self.enqueue_range(store, seq, seq + 1)

    def enqueue_call(self, fn: Callable[[], None]) -> None:
        with self._cond:
            self._calls.append(fn)
            self._start_threads()
            self._cond.notify()

    def clear(self) -> None:
        with self._cond:
            self._ranges.clear()
            self._calls.clear()
            self._uploads.clear()

    def pending(self) -> int:
        """Records still waiting for a worker (for stats)."""
        with self._cond:
            return sum(stop - nxt for _, nxt, stop in self._ranges)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    def _start_threads(self) -> None:
        while len(self._threads) < self.workers:
            t = threading.Thread(
                target=self._run, name=f"mathpix-emulator-fetch-{len(self._threads)}", daemon=True
            )
            self._threads.append(t)
            t.start()

    def _next(self) -> tuple[Store, int, int] | Callable[[], None] | None:
        """The next callable, or a chunk ``(store, start, stop)`` of up to ``CHUNK`` sequence numbers."""
        with self._cond:
            while not self._stop:
                if self._calls:
                    return self._calls.popleft()
                if self._ranges:
                    head = self._ranges[0]
                    store, start = head[0], head[1]
                    stop = min(head[2], start + CHUNK)
                    head[1] = stop
                    if stop >= head[2]:
                        self._ranges.popleft()
                    return store, start, stop
                self._cond.wait()
            return None

    def _upload(self, store: Store, seq: int) -> bytes | None:
        if not self._uploads:
            return None
        with self._cond:
            return self._uploads.pop((id(store), seq), None)

    def _run(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            if callable(item):
                self._guarded(item)
                continue
            store, start, stop = item
            chunk = [(store.files[seq], self._upload(store, seq)) for seq in range(start, stop)]
            self._guarded(lambda: self.process(store, chunk))  # noqa: B023 (called at once)

    @staticmethod
    def _guarded(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a worker never dies; the record keeps its state
            logging.getLogger(__name__).exception("emulator worker error")

    def process(self, store: Store, items: list[tuple[FileRecord, bytes | None]]) -> None:
        """Fetch, convert and schedule a chunk of records (runs on a worker thread).

        Sources are resolved outside the store lock (I/O), then every outcome is
        applied under one lock acquisition, so 200,000 cached-source records cost
        a few microseconds each and leave the event loop its share of the GIL.
        """
        rt = self.runtime
        cfg = rt.config
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
                    rt.schedule_file_event(store, rec, "file.completed", rec.formats_done_at(cfg.format_lag))
            elif outcome is not None and rec.sub.wants("file.error"):
                rt.schedule_file_event(store, rec, "file.error", now)
        for job in jobs.values():
            rt.maybe_schedule_job_completed(store, job)

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
                        cached = self.runtime.cache.get(rec.source_uri, rec.source)
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

    def _write_outputs(self, store: Store, rec: FileRecord, doc: Any) -> None:
        assert rec.destination_uri is not None
        base = rec.destination_basename or store.file_id(rec)
        prefix = rec.destination_uri.rstrip("/") + "/"
        pages = rec.pages
        if rec.page_ranges:
            from .rules import select_pages

            pages = select_pages(doc.num_pages, rec.page_ranges)
        crops: list[str] = []
        if rec.sub.image_output_mode == "local":
            # SCS layout: one crop per page in images/, referenced relatively from the Markdown
            for n in range(1, (len(pages) if pages is not None else doc.num_pages) + 1):
                crops.append(f"images/{base}_page{n}.png")
                self.runtime.buckets.write(f"{prefix}{crops[-1]}", page_crop_png(), "image/png")
                self.runtime.stats.incr("outputs_written")
        for ext in (*ALWAYS_FORMATS, *rec.sub.formats):
            data, ctype = render(doc, ext, pages)
            if crops and ext in ("mmd", "md"):
                data += "".join(f"\n\n![]({crop})" for crop in crops).encode()
            self.runtime.buckets.write(f"{prefix}{base}.{download_ext(ext)}", data, ctype)
            self.runtime.stats.incr("outputs_written")


def file_event_body(store: Store, rec: FileRecord, event: str, format_lag: float) -> dict[str, Any]:
    """A file webhook body: the polling record under ``data``."""
    now = time.time()
    return {"event": event, "created_at": iso(now), "data": store.file_view(rec, now, format_lag)}


def job_event_body(job: Job) -> dict[str, Any]:
    now = time.time()
    return {"event": "job.completed", "created_at": iso(now), "data": job.view(now)}
