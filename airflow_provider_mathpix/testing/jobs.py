"""Jobs: the job listing, one job's status, its file listing and custom_id lookup, finalize.

Query parameters arrive as the raw strings of the request and are checked here
(``400 bad_request`` naming the parameter); an unknown job is ``404 not_found``.
"""

from __future__ import annotations

import time
from typing import Any

from . import ids
from .errors import ApiError
from .records import Job, iso
from .rules import bad, check_listing_status, parse_date, parse_limit
from .runtime import Runtime


def list_jobs(
    rt: Runtime, start: str | None, end: str | None, limit: str | None, paging_state: str | None
) -> dict[str, Any]:
    """``GET /files/v1/jobs``: newest first, within ``start``..``end`` (one day if only one is given)."""
    first, last = parse_date(start, "start"), parse_date(end, "end")
    first, last = first or last, last or first
    size = parse_limit(limit, default=rt.config.jobs_page_default, maximum=rt.config.jobs_page_max)
    store = rt.store
    with store.lock:
        order = store.job_order
        pos = len(order) - 1
        if paging_state:
            cursor = ids.decode_cursor(paging_state)
            if cursor is None or cursor > len(order):
                raise bad("paging_state is not a cursor this server issued")
            pos = cursor - 1
        jobs: list[dict[str, str]] = []
        while pos >= 0 and len(jobs) < size:
            job = order[pos]
            pos -= 1
            day = time.gmtime(job.created_at)
            date = f"{day.tm_year:04d}-{day.tm_mon:02d}-{day.tm_mday:02d}"
            if (first is None or date >= first.isoformat()) and (last is None or date <= last.isoformat()):
                jobs.append({"job_id": job.job_id, "created_at": iso(job.created_at)})
        nxt = ids.encode_cursor(pos + 1) if pos >= 0 and len(jobs) == size else None
    return {"jobs": jobs, "next_page_token": nxt}


def find(rt: Runtime, job_id: str) -> Job:
    """The job, or ``404 not_found``."""
    job = rt.store.jobs.get(job_id)
    if job is None:
        raise ApiError("not_found", f"no job {job_id!r}")
    return job


def status(rt: Runtime, job_id: str) -> dict[str, Any]:
    """``GET /files/v1/jobs/{job_id}``."""
    job = find(rt, job_id)
    with rt.store.lock:
        return job.view(time.time())


def list_files(
    rt: Runtime, job_id: str, status: str | None, limit: str | None, paging_state: str | None
) -> dict[str, Any]:
    """``GET /files/v1/jobs/{job_id}/files``: one page in submission order, optionally one status."""
    job = find(rt, job_id)
    code = check_listing_status(status)
    size = parse_limit(limit, default=rt.config.page_size_default, maximum=rt.config.page_size_max)
    start = 0
    if paging_state:
        cursor = ids.decode_cursor(paging_state)
        if cursor is None or cursor > len(job.seqs):
            raise bad("paging_state is not a cursor this server issued for this job")
        start = cursor
    items, nxt = rt.store.list_job_files(job, code, start, size, time.time(), rt.config.listing_lag)
    return {"files": items, "next_page_token": ids.encode_cursor(nxt) if nxt is not None else None}


def file_by_custom_id(rt: Runtime, job_id: str, custom_id: str) -> dict[str, Any]:
    """``GET /files/v1/jobs/{job_id}/files/{custom_id}``: the member's status record."""
    job = find(rt, job_id)
    seq = job.by_custom_id.get(custom_id)
    now = time.time()
    if seq is None or rt.store.files[seq].created_at > now - rt.config.listing_lag:
        raise ApiError("not_found", f"job {job_id!r} has no file with custom_id {custom_id!r}")
    return rt.store.file_view(rt.store.files[seq], now, rt.config.format_lag)


def finalize(rt: Runtime, job_id: str) -> dict[str, Any]:
    """``POST /files/v1/jobs/{job_id}/finalize``: no more members; ``job.completed`` once all are terminal."""
    job = find(rt, job_id)
    with rt.store.lock:
        if job.finalized_at is None:
            job.finalized_at = time.time()
    rt.events.job_completed_when_done(rt.store, job)
    return {
        "job_id": job_id,
        "finalized_at": iso(job.finalized_at),
        "message": "job finalized: job.completed is delivered once every file is terminal",
    }
