"""Files API routes: submissions, file status, downloads, deletes, jobs and their listings.

Each route authorizes, takes what the request carries (body, query, path) and hands it
to the domain module of the operation; the answer it gets back is rendered as JSON.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from . import files, jobs, submissions
from .http import authorize, json_body, json_response, parse_json
from .rules import bad

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
    return json_response(
        jobs.list_jobs(rt, q.get("start"), q.get("end"), q.get("limit"), q.get("paging_state"))
    )


@router.get("/files/v1/jobs/{job_id}")
async def get_job(request: Request, job_id: str) -> Response:
    return json_response(jobs.status(authorize(request), job_id))


@router.get("/files/v1/jobs/{job_id}/files")
async def list_job_files(request: Request, job_id: str) -> Response:
    rt = authorize(request)
    q = request.query_params
    return json_response(jobs.list_files(rt, job_id, q.get("status"), q.get("limit"), q.get("paging_state")))


@router.get("/files/v1/jobs/{job_id}/files/{custom_id}")
async def get_job_file(request: Request, job_id: str, custom_id: str) -> Response:
    return json_response(jobs.file_by_custom_id(authorize(request), job_id, custom_id))


@router.post("/files/v1/jobs/{job_id}/finalize")
async def finalize_job(request: Request, job_id: str) -> Response:
    return json_response(jobs.finalize(authorize(request), job_id))


@router.get("/files/v1/{name}")
async def get_file_or_output(request: Request, name: str) -> Response:
    rt = authorize(request)
    file_id, _, ext = name.partition(".")
    if not ext:
        return json_response(files.status(rt, file_id))
    data, ctype = files.download(rt, file_id, ext)
    return Response(data, media_type=ctype)


@router.delete("/files/v1/{file_id}")
async def delete_file(request: Request, file_id: str) -> Response:
    return json_response(files.delete(authorize(request), file_id))
