"""The emulator's records: a submission's shared options, a file, a job, a data source.

Built for 200,000-file jobs on a small machine:

- a file is one ``__slots__`` record (options shared by all items of a call live
  once in a :class:`Submission`);
- status is never pushed by timers: a record holds ``split_at``/``ready_at``
  timestamps set when its source is fetched, and status is a function of the
  clock (``pending`` → ``split`` → ``completed``, or ``error``);
- a job keeps its members in submission order (``array('q')`` of sequence
  numbers), a ``bytearray`` of terminal codes (0 pending, 1 completed, 2 error,
  3 deleted) kept current by draining a heap of ``ready_at`` times, so counters
  are O(1) and a ``status`` filter is a C-speed ``bytearray.find`` from the cursor.
"""

from __future__ import annotations

import datetime as dt
import heapq
from array import array
from dataclasses import dataclass
from typing import Any

from .documents import Document
from .rules import Callback, Location, format_delay

PENDING, COMPLETED, ERRORED, DELETED = 0, 1, 2, 3


def iso(ts: float) -> str:
    """Unix seconds → ``2026-05-28T12:00:00Z`` (the API's timestamp form)."""
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Submission:
    """Options shared by every file of one submission call (stored once, not per file)."""

    __slots__ = ("callback", "created_at", "formats", "image_output_mode", "is_job")

    def __init__(
        self,
        formats: tuple[str, ...],
        callback: Callback | None,
        created_at: float,
        *,
        is_job: bool,
        image_output_mode: str | None = None,
    ) -> None:
        self.formats = formats
        self.callback = callback
        self.created_at = created_at
        self.is_job = is_job
        self.image_output_mode = image_output_mode

    def wants(self, event: str) -> bool:
        """Whether this submission's callback subscribes to ``event`` (defaults per the contract)."""
        if self.callback is None:
            return False
        if self.callback.events is not None:
            return event in self.callback.events
        if self.is_job:
            return event == "job.completed"
        return event in ("file.completed", "file.error")


class FileRecord:
    """One file. ``doc`` is shared by every file made from the same source bytes."""

    __slots__ = (
        "created_at",
        "custom_id",
        "deleted",
        "destination_basename",
        "destination_uri",
        "doc",
        "error_code",
        "error_message",
        "filename",
        "idem_key",
        "job",
        "page_ranges",
        "pages",
        "pos",
        "ready_at",
        "seq",
        "source",
        "source_uri",
        "split_at",
        "sub",
    )

    def __init__(self, seq: int, sub: Submission, source_uri: str, created_at: float) -> None:
        self.seq = seq
        self.sub = sub
        self.source_uri = source_uri
        self.created_at = created_at
        self.job: Job | None = None
        self.pos = -1
        self.custom_id: str | None = None
        self.filename: str | None = None
        self.destination_uri: str | None = None
        self.destination_basename: str | None = None
        self.page_ranges: Any = None
        self.source: Location | None = None
        self.idem_key: str | None = None
        self.doc: Document | None = None
        self.pages: list[int] | None = None
        self.split_at = 0.0
        self.ready_at = 0.0
        self.error_code: str | None = None
        self.error_message: str | None = None
        self.deleted = False

    def formats_done_at(self, format_lag: float) -> float:
        """When the last requested format is ready (the file's ``ready_at`` when none was requested)."""
        return self.ready_at + max((format_delay(f, format_lag) for f in self.sub.formats), default=0.0)

    def status(self, now: float) -> str:
        """``pending`` | ``split`` | ``completed`` | ``error``, derived from the clock."""
        if self.error_code is not None:
            return "error"
        if self.doc is None or now < self.split_at:
            return "pending"
        return "split" if now < self.ready_at else "completed"

    @property
    def num_pages(self) -> int:
        if self.doc is None:
            return 0
        return len(self.pages) if self.pages is not None else self.doc.num_pages

    def display_name(self) -> str:
        """``filename`` as given, else the last path segment of the source."""
        if self.filename:
            return self.filename
        return self.source_uri.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class Job:
    """A job's members in submission order plus O(1) counters (see the module docstring)."""

    __slots__ = (
        "by_custom_id",
        "callback_sub",
        "completed_sent",
        "created_at",
        "finalized_at",
        "heap",
        "job_id",
        "last_done_at",
        "max_ready_at",
        "modified_at",
        "n_completed",
        "n_deleted",
        "n_errored",
        "seqs",
        "term",
        "unfetched",
    )

    def __init__(self, job_id: str, now: float) -> None:
        self.job_id = job_id
        self.created_at = now
        self.modified_at = now
        self.seqs = array("q")
        self.by_custom_id: dict[str, int] = {}
        self.term = bytearray()
        self.heap: list[tuple[float, int]] = []
        self.n_completed = 0
        self.n_errored = 0
        self.n_deleted = 0
        self.unfetched = 0
        self.max_ready_at = 0.0
        self.last_done_at = 0.0
        self.finalized_at: float | None = None
        self.callback_sub: Submission | None = None
        self.completed_sent = False

    @property
    def file_count(self) -> int:
        return len(self.seqs) - self.n_deleted

    def refresh(self, now: float) -> None:
        """Move files whose ``ready_at`` has passed to ``completed`` (amortised O(log n) each)."""
        heap, term = self.heap, self.term
        while heap and heap[0][0] <= now:
            ready_at, pos = heapq.heappop(heap)
            if term[pos] == PENDING:
                term[pos] = COMPLETED
                self.n_completed += 1
                if ready_at > self.last_done_at:
                    self.last_done_at = ready_at

    def is_done(self) -> bool:
        return self.n_completed + self.n_errored >= self.file_count

    def view(self, now: float) -> dict[str, Any]:
        """The ``GET /files/v1/jobs/{job_id}`` body."""
        self.refresh(now)
        return {
            "job_id": self.job_id,
            "status": "completed" if self.is_done() else "processing",
            "file_count": self.file_count,
            "files_completed": self.n_completed,
            "files_errored": self.n_errored,
            "created_at": iso(self.created_at),
            "modified_at": iso(max(self.modified_at, self.last_done_at)),
        }


@dataclass
class DataSource:
    """A registered bucket. ``details`` (which may hold secrets) is never listed."""

    data_source_id: str
    provider: str
    bucket: str
    account: str | None
    name: str
    region: str | None
    auth_method: str
    details: dict[str, Any]
    created_at: float
    revoked: bool = False

    def view(self) -> dict[str, Any]:
        return {
            "data_source_id": self.data_source_id,
            "name": self.name,
            "provider": self.provider,
            "bucket": self.bucket if self.account is None else f"{self.account}/{self.bucket}",
            "region": self.region,
            "auth_method": self.auth_method,
            "created_at": iso(self.created_at),
        }
