"""The emulator's store: files, jobs, idempotency maps, data sources.

Built for 200,000-file jobs on a small machine:

- a file is one ``__slots__`` record in a list indexed by its sequence number
  (the ``file_id`` encodes it, see :mod:`.ids`), options shared by all items of a
  call live once in a :class:`Submission`;
- status is never pushed by timers: a record holds ``split_at``/``ready_at``
  timestamps set when its source is fetched, and status is a function of the
  clock (``pending`` → ``split`` → ``completed``, or ``error``);
- a job keeps its members in submission order (``array('q')`` of sequence
  numbers), a ``bytearray`` of terminal codes (0 pending, 1 completed, 2 error,
  3 deleted) kept current by draining a heap of ``ready_at`` times, so counters
  are O(1) and a ``status`` filter is a C-speed ``bytearray.find`` from the cursor.

One ``RLock`` guards mutations; routes run on the event loop, fetch workers and
the webhook thread take the same lock.
"""

from __future__ import annotations

import datetime as dt
import heapq
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .documents import Document
from .rules import Callback, Location, format_delay, select_pages

PENDING, COMPLETED, ERRORED, DELETED = 0, 1, 2, 3
_CODE_BYTES = {PENDING: b"\x00", COMPLETED: b"\x01", ERRORED: b"\x02"}


def iso(ts: float) -> str:
    """Unix seconds → ``2026-05-28T12:00:00Z`` (the API's timestamp form)."""
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Submission:
    """Options shared by every file of one submission call (stored once, not per file)."""

    __slots__ = ("callback", "created_at", "formats", "image_output_mode", "is_job", "metadata", "options")

    def __init__(
        self,
        formats: tuple[str, ...],
        options: dict[str, Any],
        callback: Callback | None,
        created_at: float,
        *,
        is_job: bool,
        image_output_mode: str | None = None,
        metadata: Any = None,
    ) -> None:
        self.formats = formats
        self.options = options
        self.callback = callback
        self.created_at = created_at
        self.is_job = is_job
        self.image_output_mode = image_output_mode
        self.metadata = metadata

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
        "destination",
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
        self.destination: Location | None = None
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


@dataclass
class Store:
    """All state of one emulator lifetime (a reset swaps in a fresh Store)."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    prefix: str = field(default_factory=ids.new_prefix)
    files: list[FileRecord] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    job_order: list[Job] = field(default_factory=list)
    idem_files: dict[str, int] = field(default_factory=dict)
    idem_jobs: dict[str, str] = field(default_factory=dict)
    data_sources: dict[str, DataSource] = field(default_factory=dict)
    ds_index: dict[tuple[str, str], list[DataSource]] = field(default_factory=dict)
    batches: dict[int, Any] = field(default_factory=dict)

    # -- data sources --------------------------------------------------------
    def find_data_source(self, loc: Location) -> DataSource | None:
        """The data source covering a bucket URI (Azure: the container, and the account when both say one)."""
        for ds in self.ds_index.get((loc.provider or "", loc.bucket or ""), ()):
            if ds.account is None or loc.account is None or ds.account == loc.account:
                return ds
        return None

    def add_data_source(self, ds: DataSource) -> None:
        self.data_sources[ds.data_source_id] = ds
        self.ds_index.setdefault((ds.provider, ds.bucket), []).append(ds)

    def remove_data_source(self, ds: DataSource) -> None:
        del self.data_sources[ds.data_source_id]
        self.ds_index[(ds.provider, ds.bucket)].remove(ds)

    # -- files ---------------------------------------------------------------
    def file_id(self, rec: FileRecord) -> str:
        return ids.format_file_id(self.prefix, rec.seq)

    def get_file(self, file_id: str) -> FileRecord | None:
        """The live record behind ``file_id`` (None when unknown or deleted)."""
        seq = ids.parse_file_id(self.prefix, file_id)
        if seq is None or seq >= len(self.files):
            return None
        rec = self.files[seq]
        return None if rec.deleted else rec

    def new_file(self, sub: Submission, source_uri: str, now: float) -> FileRecord:
        rec = FileRecord(len(self.files), sub, source_uri, now)
        self.files.append(rec)
        return rec

    def add_to_job(self, job: Job, rec: FileRecord) -> None:
        rec.job = job
        rec.pos = len(job.seqs)
        job.seqs.append(rec.seq)
        job.term.append(PENDING)
        if rec.custom_id is not None:
            job.by_custom_id[rec.custom_id] = rec.seq

    def fail(self, rec: FileRecord, code: str, message: str) -> None:
        """Make ``rec`` an ``error`` file (accept and defer: the call itself succeeded)."""
        with self.lock:
            if rec.error_code is not None or rec.doc is not None:
                return
            rec.error_code, rec.error_message = code, message
            job = rec.job
            if job is not None and job.term[rec.pos] == PENDING:
                job.term[rec.pos] = ERRORED
                job.n_errored += 1

    def fetched(
        self,
        rec: FileRecord,
        doc: Document,
        now: float,
        time_per_file: float,
        time_per_page: float,
        jitter: float = 0.0,
    ) -> None:
        """The source of ``rec`` was read: schedule split and completion from the page count.

        ``jitter`` (0..1) spreads processing times by up to ±jitter, deterministically per
        file, so a realistic demo's files do not all finish in the same instant.
        """
        if jitter:
            spread = 1.0 + jitter * (2.0 * (((rec.seq * 2654435761) & 0xFFFF) / 65536.0) - 1.0)
            time_per_file, time_per_page = time_per_file * spread, time_per_page * spread
        with self.lock:
            if rec.error_code is not None or rec.doc is not None:
                return
            pages = select_pages(doc.num_pages, rec.page_ranges) if rec.page_ranges else None
            n_pages = len(pages) if pages is not None else doc.num_pages
            # timestamps before ``doc``: readers do not take the lock, and ``doc`` is what makes status move
            rec.split_at = now + time_per_file
            rec.ready_at = rec.split_at + n_pages * time_per_page
            rec.pages = pages
            rec.doc = doc
            job = rec.job
            if job is not None:
                heapq.heappush(job.heap, (rec.ready_at, rec.pos))
                if rec.ready_at > job.max_ready_at:
                    job.max_ready_at = rec.ready_at

    def delete(self, rec: FileRecord, now: float) -> None:
        """Forget a terminal file: its id, its (job_id, custom_id) pair and its Idempotency-Key."""
        with self.lock:
            rec.deleted = True
            job = rec.job
            if job is not None:
                job.refresh(now)
                code = job.term[rec.pos]
                if code == COMPLETED:
                    job.n_completed -= 1
                elif code == ERRORED:
                    job.n_errored -= 1
                job.term[rec.pos] = DELETED
                job.n_deleted += 1
                if rec.custom_id is not None and job.by_custom_id.get(rec.custom_id) == rec.seq:
                    del job.by_custom_id[rec.custom_id]
            if rec.idem_key is not None and self.idem_files.get(rec.idem_key) == rec.seq:
                del self.idem_files[rec.idem_key]

    def file_view(self, rec: FileRecord, now: float, format_lag: float) -> dict[str, Any]:
        """The ``GET /files/v1/{file_id}`` body."""
        status = rec.status(now)
        num_pages = rec.num_pages if status in ("split", "completed") else 0
        if status == "completed":
            percent, done = 100.0, num_pages
        elif status == "split":
            span = rec.ready_at - rec.split_at
            frac = (now - rec.split_at) / span if span > 0 else 1.0
            percent, done = round(50.0 + 50.0 * frac, 1), int(num_pages * frac)
        else:
            percent, done = 0.0, 0
        formats: dict[str, str] = {}
        if status == "split":
            formats = {f: "pending" for f in rec.sub.formats}
        elif status == "completed":
            formats = {
                f: "completed" if now >= rec.ready_at + format_delay(f, format_lag) else "processing"
                for f in rec.sub.formats
            }
        elif status == "error":
            formats = {}
        return {
            "file_id": self.file_id(rec),
            "status": status,
            "percent_done": percent,
            "num_pages": num_pages,
            "num_pages_completed": done,
            "formats": formats,
            "format_primary": "mmd",
            "filename": rec.display_name(),
            "custom_id": rec.custom_id,
            "destination_uri": rec.destination_uri,
            "destination_basename": rec.destination_basename,
            "error": rec.error_code,
            "error_info": None
            if rec.error_code is None
            else {"id": rec.error_code, "message": rec.error_message or rec.error_code},
        }

    # -- jobs ----------------------------------------------------------------
    def get_or_create_job(self, job_id: str, now: float) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            job = Job(job_id, now)
            self.jobs[job_id] = job
            self.job_order.append(job)
        job.modified_at = now
        return job

    def visible_count(self, job: Job, now: float, lag: float) -> int:
        """How many of the job's members listings show: those older than ``lag`` seconds.

        Members are in creation order, so this is a binary search over positions. With
        ``lag`` > 0 a fresh submission is accepted but not listed yet (accept and defer).
        """
        seqs, files = job.seqs, self.files
        if lag <= 0 or not seqs:
            return len(seqs)
        cutoff = now - lag
        lo, hi = 0, len(seqs)
        while lo < hi:
            mid = (lo + hi) // 2
            if files[seqs[mid]].created_at <= cutoff:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def list_job_files(
        self, job: Job, status: int | None, start: int, limit: int, now: float, lag: float = 0.0
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of a job's files from ordered position ``start``; returns (items, next position)."""
        with self.lock:
            job.refresh(now)
            term, seqs, files = job.term, job.seqs, self.files
            visible = self.visible_count(job, now, lag)
            positions: Iterator[int]
            if status is None and job.n_deleted == 0:
                end = max(start, min(start + limit, visible))
                positions = iter(range(start, end))
                nxt: int | None = end if end < visible else None
            else:
                found = _scan(term, status, start, limit, visible)
                positions = iter(found)
                last = found[-1] + 1 if found else visible
                more = _scan(term, status, last, 1, visible) if len(found) == limit else []
                nxt = last if more else None
            prefix = self.prefix
            items = []
            for pos in positions:
                rec = files[seqs[pos]]
                item: dict[str, Any] = {
                    "file_id": f"{prefix}-{rec.seq:012x}",
                    "custom_id": rec.custom_id,
                    "filename": rec.filename or rec.display_name(),
                }
                if status is not None:
                    item["status"] = _STATUS_NAME[term[pos]]
                items.append(item)
            return items, nxt


_STATUS_NAME = {PENDING: "pending", COMPLETED: "completed", ERRORED: "error"}


def _scan(term: bytearray, status: int | None, start: int, limit: int, stop: int) -> list[int]:
    """Positions in ``[start, stop)`` whose terminal code matches ``status`` (None: any but deleted)."""
    out: list[int] = []
    if status is None:
        pos = start
        while pos < stop and len(out) < limit:
            if term[pos] != DELETED:
                out.append(pos)
            pos += 1
        return out
    needle = _CODE_BYTES[status]
    pos = term.find(needle, start, stop)
    while pos != -1 and len(out) < limit:
        out.append(pos)
        pos = term.find(needle, pos + 1, stop)
    return out
