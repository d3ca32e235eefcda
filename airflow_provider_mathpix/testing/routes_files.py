"""Files API routes: submissions, file status, downloads, deletes, jobs and their listings."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from . import ids, submissions
from .errors import ApiError, json_response
from .http import authorize, json_body, parse_json
from .outputs import render
from .rules import (
    ALWAYS_FORMATS,
    bad,
    check_listing_status,
    format_delay,
    format_of_ext,
    parse_date,
    parse_limit,
)
from .runtime import Runtime
from .state import Job, iso

router = APIRouter()


@router.post("/files/v1/uri")
async def submit_uri(request: Request) -> Response:
    rt = authorize(request)
    body = await json_body(request)
    return json_response(submissions.submit_uri(rt, body, request.headers.get("idempotency-key")))


@router.post("/files/v1")
async def upload(request: Request) -> Response:
    rt = authorize(request)
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise bad("POST /files/v1 takes multipart/form-data with a 'file' part")
    form = await request.form()
    data = None
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields[key] = value
        elif key == "file":
            data = await value.read()
            if value.filename and "filename" not in fields:
                fields.setdefault("_part_filename", value.filename)
    if "filename" not in fields and "_part_filename" in fields:
        fields["filename"] = fields["_part_filename"]
    await form.close()
    return json_response(submissions.submit_upload(rt, data, fields, request.headers.get("idempotency-key")))


@router.post("/files/v1/jobs")
async def submit_job(request: Request) -> Response:
    """Parsing and creating 200,000 records takes a second or two: done on a thread, so the
    event loop keeps answering other clients' polls meanwhile."""
    rt = authorize(request)
    chunks = [chunk async for chunk in request.stream()]  # not request.body(): it would keep a copy
    holder = [b"".join(chunks)]
    del chunks
    key = request.headers.get("idempotency-key")

    def work() -> dict[str, Any]:
        body = parse_json(holder.pop())  # the raw bytes are freed before the records are built
        return submissions.submit_job(rt, body, key)

    return json_response(await asyncio.to_thread(work))


@router.get("/files/v1/jobs")
async def list_jobs(request: Request) -> Response:
    rt = authorize(request)
    q = request.query_params
    start, end = parse_date(q.get("start"), "start"), parse_date(q.get("end"), "end")
    start, end = start or end, end or start  # only one of them: that single day
    limit = parse_limit(q.get("limit"), default=rt.config.jobs_page_default, maximum=rt.config.jobs_page_max)
    store = rt.store
    with store.lock:
        order = store.job_order
        pos = len(order) - 1
        token = q.get("paging_state")
        if token:
            cursor = ids.decode_cursor(token)
            if cursor is None or cursor > len(order):
                raise bad("paging_state is not a cursor this server issued")
            pos = cursor - 1
        jobs: list[dict[str, str]] = []
        while pos >= 0 and len(jobs) < limit:
            job = order[pos]
            pos -= 1
            day = time.gmtime(job.created_at)
            date = f"{day.tm_year:04d}-{day.tm_mon:02d}-{day.tm_mday:02d}"
            if (start is None or date >= start.isoformat()) and (end is None or date <= end.isoformat()):
                jobs.append({"job_id": job.job_id, "created_at": iso(job.created_at)})
        nxt = ids.encode_cursor(pos + 1) if pos >= 0 and len(jobs) == limit else None
    return json_response({"jobs": jobs, "next_page_token": nxt})


def _job(request: Request, job_id: str) -> tuple[Runtime, Job]:
    """Authorize, then the job or ``404 not_found``."""
    rt = authorize(request)
    job = rt.store.jobs.get(job_id)
    if job is None:
        raise ApiError("not_found", f"no job {job_id!r}")
    return rt, job


@router.get("/files/v1/jobs/{job_id}")
async def get_job(request: Request, job_id: str) -> Response:
    rt, job = _job(request, job_id)
    with rt.store.lock:
        return json_response(job.view(time.time()))


@router.get("/files/v1/jobs/{job_id}/files")
async def list_job_files(request: Request, job_id: str) -> Response:
    rt, job = _job(request, job_id)
    q = request.query_params
    status = check_listing_status(q.get("status"))
    limit = parse_limit(q.get("limit"), default=rt.config.page_size_default, maximum=rt.config.page_size_max)
    start = 0
    token = q.get("paging_state")
    if token:
        cursor = ids.decode_cursor(token)
        if cursor is None or cursor > len(job.seqs):
            raise bad("paging_state is not a cursor this server issued for this job")
        start = cursor
    items, nxt = rt.store.list_job_files(job, status, start, limit, time.time(), rt.config.listing_lag)
    return json_response(
        {"files": items, "next_page_token": ids.encode_cursor(nxt) if nxt is not None else None}
    )


@router.get("/files/v1/jobs/{job_id}/files/{custom_id}")
async def get_job_file(request: Request, job_id: str, custom_id: str) -> Response:
    rt, job = _job(request, job_id)
    seq = job.by_custom_id.get(custom_id)
    now = time.time()
    if seq is None or rt.store.files[seq].created_at > now - rt.config.listing_lag:
        raise ApiError("not_found", f"job {job_id!r} has no file with custom_id {custom_id!r}")
    rec = rt.store.files[seq]
    return json_response(rt.store.file_view(rec, now, rt.config.format_lag))


@router.post("/files/v1/jobs/{job_id}/finalize")
async def finalize_job(request: Request, job_id: str) -> Response:
    rt, job = _job(request, job_id)
    with rt.store.lock:
        if job.finalized_at is None:
            job.finalized_at = time.time()
    rt.events.job_completed_when_done(rt.store, job)
    return json_response(
        {
            "job_id": job_id,
            "finalized_at": iso(job.finalized_at),
            "message": "job finalized: job.completed is delivered once every file is terminal",
        }
    )


@router.get("/files/v1/{name}")
async def get_file_or_output(request: Request, name: str) -> Response:
    rt = authorize(request)
    file_id, _, ext = name.partition(".")
    store = rt.store
    rec = store.get_file(file_id)
    if rec is None:
        raise ApiError("not_found", f"no file {file_id!r}")
    now = time.time()
    if not ext:
        return json_response(store.file_view(rec, now, rt.config.format_lag))
    fmt = format_of_ext(ext)
    if fmt is None or (fmt not in ALWAYS_FORMATS and fmt not in rec.sub.formats):
        raise ApiError(
            "unsupported_format",
            f"{ext!r} was not requested for this file (conversion_formats); "
            f"always available: {', '.join(ALWAYS_FORMATS)}",
        )
    status = rec.status(now)
    if status == "error":
        raise ApiError("not_found", f"file {file_id} failed ({rec.error_code}); it has no {ext} output")
    ready = status == "completed" and (
        fmt in ALWAYS_FORMATS or now >= rec.ready_at + format_delay(fmt, rt.config.format_lag)
    )
    if not ready:
        raise ApiError(
            "format_not_ready", f"{ext} is not ready yet (file status {status})", extra={"status": status}
        )
    assert rec.doc is not None
    data, ctype = render(rec.doc, fmt, rec.pages)
    return Response(data, media_type=ctype)


@router.delete("/files/v1/{file_id}")
async def delete_file(request: Request, file_id: str) -> Response:
    rt = authorize(request)
    store = rt.store
    seq = ids.parse_file_id(store.prefix, file_id)
    if seq is None or seq >= len(store.files):
        raise ApiError("not_found", f"no file {file_id!r}")
    rec = store.files[seq]
    if not rec.deleted:
        status = rec.status(time.time())
        if status not in ("completed", "error"):
            raise ApiError(
                "conflict",
                f"file {file_id} is still {status}; only completed or errored files can be deleted",
            )
        store.delete(rec, time.time())
        rt.stats.incr("files_deleted")
    return json_response({"file_id": file_id, "status": "deleted"})
