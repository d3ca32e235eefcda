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

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .documents import analyze
from .errors import ApiError
from .outputs import render
from .rules import ALWAYS_FORMATS
from .state import FileRecord, Job, Store, iso

if TYPE_CHECKING:
    from .runtime import Runtime


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

    def _next(self) -> tuple[Store, int, bytes | None] | Callable[[], None] | None:
        with self._cond:
            while not self._stop:
                if self._calls:
                    return self._calls.popleft()
                if self._ranges:
                    head = self._ranges[0]
                    store, seq = head[0], head[1]
                    head[1] += 1
                    if head[1] >= head[2]:
                        self._ranges.popleft()
                    return store, seq, self._uploads.pop((id(store), seq), None)
                self._cond.wait()
            return None

    def _run(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            try:
                if callable(item):
                    item()
                else:
                    store, seq, data = item
                    self.process(store, store.files[seq], data)
            except Exception:  # a worker never dies; the record keeps its state
                import traceback

                traceback.print_exc()

    def process(self, store: Store, rec: FileRecord, data: bytes | None) -> None:
        """Fetch, convert and schedule one record (runs on a worker thread)."""
        rt = self.runtime
        cfg = rt.config
        try:
            if rec.deleted or rec.error_code is not None or rec.doc is not None:
                return
            try:
                if data is not None:
                    doc = analyze(data)
                else:
                    assert rec.source is not None
                    doc = rt.cache.get(rec.source_uri, rec.source)
                if rec.destination_uri is not None:
                    self._write_outputs(store, rec, doc)
            except ApiError as exc:
                store.fail(rec, exc.code, exc.message)
                if rec.sub.wants("file.error"):
                    rt.schedule_file_event(store, rec, "file.error", time.time())
                return
            store.fetched(rec, doc, time.time(), cfg.time_per_file, cfg.time_per_page)
            if rec.sub.wants("file.completed"):
                rt.schedule_file_event(store, rec, "file.completed", rec.ready_at + cfg.format_lag)
        finally:
            job = rec.job
            if job is not None:
                with store.lock:
                    job.unfetched -= 1
                rt.maybe_schedule_job_completed(store, job)

    def _write_outputs(self, store: Store, rec: FileRecord, doc: Any) -> None:
        assert rec.destination_uri is not None
        base = rec.destination_basename or store.file_id(rec)
        prefix = rec.destination_uri.rstrip("/") + "/"
        pages = rec.pages
        if rec.page_ranges:
            from .rules import select_pages

            pages = select_pages(doc.num_pages, rec.page_ranges)
        for ext in (*ALWAYS_FORMATS, *rec.sub.formats):
            data, ctype = render(doc, ext, pages)
            self.runtime.buckets.write(f"{prefix}{base}.{ext}", data, ctype)
            self.runtime.stats.incr("outputs_written")


def file_event_body(store: Store, rec: FileRecord, event: str, format_lag: float) -> dict[str, Any]:
    """A file webhook body: the polling record under ``data``."""
    now = time.time()
    return {"event": event, "created_at": iso(now), "data": store.file_view(rec, now, format_lag)}


def job_event_body(job: Job) -> dict[str, Any]:
    now = time.time()
    return {"event": "job.completed", "created_at": iso(now), "data": job.view(now)}
