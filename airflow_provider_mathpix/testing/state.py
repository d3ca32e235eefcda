"""The emulator's store: every record of one emulator lifetime, and the indexes over them.

Files live in a list indexed by their sequence number (the ``file_id`` encodes it,
see :mod:`.ids`), so no id → record dictionary exists; jobs, idempotency keys and
data sources are dictionaries. One ``RLock`` guards mutations; routes run on the
event loop, fetch workers and the webhook thread take the same lock.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .documents import Document
from .records import COMPLETED, DELETED, ERRORED, PENDING, DataSource, FileRecord, Job, Submission
from .rules import Location, format_delay, select_pages

_CODE_BYTES = {PENDING: b"\x00", COMPLETED: b"\x01", ERRORED: b"\x02"}


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
