"""The bounded pool of fetch workers, fed with ranges of records.

No thread or task per file: a submission enqueues the contiguous range of
sequence numbers it created (``[store, next, stop]``), and ``fetch_workers``
daemon threads pull up to ``CHUNK`` numbers at a time and hand them to the one
``process`` callable the pool was built with. ``/v3/batch`` work rides the same
pool as plain callables.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .records import FileRecord
from .state import Store

#: sequence numbers a worker takes per visit to the queue
CHUNK = 64

#: what the pool runs for each chunk: the records with their uploaded bytes (None: read the source)
ChunkProcessor = Callable[[Store, list[tuple[FileRecord, "bytes | None"]]], None]


class Fetcher:
    """The worker pool. Threads start on first use and stop with :meth:`close`."""

    def __init__(self, workers: int, process: ChunkProcessor) -> None:
        self.workers = max(1, workers)
        self.process = process
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
