"""Submissions: ``POST /files/v1/uri``, ``POST /files/v1`` (upload) and ``POST /files/v1/jobs``.

Validation happens in full before any state changes (a ``400`` leaves nothing
behind); then records are created under the store lock and handed to the fetch
workers as one range. Idempotency: an existing live ``(job_id, custom_id)`` pair
returns its file (and wins over ``Idempotency-Key``); on ``/uri`` without a pair the
``Idempotency-Key`` maps to the first file; on ``/jobs`` without ``job_id`` it maps
to the first job. Source problems of job items are accept-and-defer: the file is
created in ``error``.
"""

from __future__ import annotations

import gc
import json
import time
from typing import Any

from . import ids
from .documents import detect_kind, unsupported
from .errors import ApiError
from .records import FileRecord, Job, Submission
from .rules import (
    Location,
    bad,
    check_callback,
    check_identifier,
    classify_uri,
    optional_identifier,
    parse_page_ranges,
    requested_formats,
)
from .runtime import Runtime
from .state import Store


def _submission(rt: Runtime, body: dict[str, Any], *, is_job: bool, now: float) -> Submission:
    formats = requested_formats(body.get("conversion_formats"))
    callback = check_callback(body, allow_loopback_http=rt.config.allow_loopback_http)
    mode = body.get("image_output_mode")
    if mode is not None and mode not in ("local", "cdn"):
        raise bad(f'image_output_mode must be "local" (or omitted), got {mode!r}')
    return Submission(formats, callback, now, is_job=is_job, image_output_mode=mode)


def _check_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad(f"{key} must be a string")
    return value


def _data_source_error(store: Store, loc: Location, uri: str, field: str) -> ApiError | None:
    """``data_source_not_found`` / ``data_source_access_denied`` for a bucket URI, else None."""
    if loc.kind != "bucket":
        return None
    ds = store.find_data_source(loc)
    if ds is None:
        where = f"{loc.account}/{loc.bucket}" if loc.account else loc.bucket
        return ApiError(
            "data_source_not_found",
            f"{field} {uri!r}: no {loc.provider} data source is registered for {where!r}",
        )
    if ds.revoked:
        return ApiError(
            "data_source_access_denied", f"{field} {uri!r}: the grant of {ds.data_source_id} no longer works"
        )
    return None


def _live_pair(store: Store, job: Job | None, custom_id: str | None) -> FileRecord | None:
    if job is None or custom_id is None:
        return None
    seq = job.by_custom_id.get(custom_id)
    if seq is None:
        return None
    rec = store.files[seq]
    return None if rec.deleted else rec


def _single(
    rt: Runtime, body: dict[str, Any], idem_key: str | None, *, source_uri: str | None, upload: bytes | None
) -> dict[str, Any]:
    """The part shared by ``/uri`` and the upload: validate, dedupe, create, enqueue."""
    now = time.time()
    cfg = rt.config
    job_id = optional_identifier(body.get("job_id"), "job_id")
    custom_id = optional_identifier(body.get("custom_id"), "custom_id")
    if custom_id is not None and job_id is None:
        raise bad(
            "custom_id requires job_id: custom_id is a per-job identifier (use the Idempotency-Key header)"
        )
    if idem_key is not None:
        check_identifier(idem_key, "Idempotency-Key")
    source = (
        classify_uri(source_uri, "source_uri", allow_loopback_http=cfg.allow_loopback_http)
        if upload is None
        else None
    )
    destination_uri = _check_str(body, "destination_uri")
    dest = classify_uri(destination_uri, "destination_uri") if destination_uri is not None else None
    if dest is not None and dest.kind != "bucket":
        raise bad("destination_uri must be a bucket with a registered data source (s3://, gs://, Azure Blob)")
    basename = _check_str(body, "destination_basename")
    if basename is not None and (not basename or "/" in basename):
        raise bad("destination_basename must be a non-empty name without '/'")
    filename = _check_str(body, "filename")
    page_ranges = parse_page_ranges(body.get("page_ranges"))
    sub = _submission(rt, body, is_job=job_id is not None, now=now)
    if sub.image_output_mode == "local" and destination_uri is None:
        raise bad('image_output_mode "local" requires destination_uri')
    if upload is not None and detect_kind(upload) is None:
        raise unsupported(
            "the uploaded bytes are not a supported document (PDF, DOCX, PPTX, EPUB, ODT, RTF, DOC)"
        )
    store = rt.store
    with store.lock:
        for loc, uri, field in (
            (source, source_uri, "source_uri"),
            (dest, destination_uri, "destination_uri"),
        ):
            if loc is not None:
                err = _data_source_error(store, loc, uri or "", field)
                if err is not None:
                    raise err
        job = store.jobs.get(job_id) if job_id is not None else None
        existing = _live_pair(store, job, custom_id)
        if existing is None and job_id is None and idem_key is not None:
            seq = store.idem_files.get(idem_key)
            if seq is not None and not store.files[seq].deleted:
                existing = store.files[seq]
        if existing is not None:
            rt.stats.incr("duplicates_absorbed")
            return {"file_id": store.file_id(existing)}
        rec = store.new_file(sub, source_uri or f"upload:{filename or 'document'}", now)
        rec.source = source
        rec.custom_id, rec.filename, rec.page_ranges = custom_id, filename, page_ranges
        rec.destination_uri, rec.destination_basename = destination_uri, basename
        if job_id is not None:
            if job is None:
                rt.stats.incr("jobs_created")
            job = store.get_or_create_job(job_id, now)
            store.add_to_job(job, rec)
            job.unfetched += 1
            if sub.wants("job.completed"):
                job.callback_sub = sub
        if job_id is None and idem_key is not None:  # the key is for standalone submissions only
            rec.idem_key = idem_key
            store.idem_files[idem_key] = rec.seq
        rt.stats.incr("files_created")
    if upload is not None:
        rt.fetcher.enqueue_upload(store, rec.seq, upload)
    else:
        rt.fetcher.enqueue_range(store, rec.seq, rec.seq + 1)
    return {"file_id": store.file_id(rec)}


def submit_uri(rt: Runtime, body: Any, idem_key: str | None) -> dict[str, Any]:
    """``POST /files/v1/uri``."""
    if not isinstance(body, dict):
        raise bad("the body must be a JSON object")
    return _single(rt, body, idem_key, source_uri=body.get("source_uri"), upload=None)


def submit_upload(
    rt: Runtime, data: bytes | None, fields: dict[str, str], idem_key: str | None
) -> dict[str, Any]:
    """``POST /files/v1`` (multipart: ``file`` + ``filename``/``job_id``/``custom_id``/``options_json``)."""
    if data is None:
        raise bad("the multipart part 'file' is required")
    body: dict[str, Any] = {}
    raw = fields.get("options_json")
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            raise bad("options_json is not valid JSON") from None
        if not isinstance(body, dict):
            raise bad("options_json must be a JSON object")
        if "source_uri" in body:
            raise bad("options_json may not carry source_uri on an upload")
    for key in ("filename", "job_id", "custom_id"):
        if fields.get(key):
            body[key] = fields[key]
    return _single(rt, body, idem_key, source_uri=None, upload=data)


def submit_job(rt: Runtime, body: Any, idem_key: str | None) -> dict[str, Any]:
    """``POST /files/v1/jobs``: up to ``max_items_per_call`` items, appended to an open job."""
    now = time.time()
    cfg = rt.config
    if not isinstance(body, dict):
        raise bad("the body must be a JSON object")
    files = body.get("files")
    if not isinstance(files, list) or not files:
        raise bad("files must be a non-empty list of {source_uri, ...} items")
    if len(files) > cfg.max_items_per_call:
        raise bad(f"files holds {len(files)} items; at most {cfg.max_items_per_call} are allowed per call")
    job_id = optional_identifier(body.get("job_id"), "job_id")
    if job_id is None and idem_key is not None:
        check_identifier(idem_key, "Idempotency-Key")
    sub = _submission(rt, body, is_job=True, now=now)
    for i, item in enumerate(files):
        if not isinstance(item, dict):
            raise bad(f"files[{i}] must be an object")
        cid = item.get("custom_id")
        if cid is not None:
            if job_id is None:
                raise bad(f"files[{i}].custom_id requires job_id: custom_id is a per-job identifier")
            check_identifier(cid, f"files[{i}].custom_id")
    store = rt.store
    allow_http = cfg.allow_loopback_http
    gc_was_enabled = gc.isenabled()
    gc.disable()  # 200,000 new records would trigger dozens of full-heap collections for nothing
    try:
        return _create_job_files(rt, store, job_id, idem_key, files, sub, now, allow_http)
    finally:
        if gc_was_enabled:
            gc.enable()


def _create_job_files(
    rt: Runtime,
    store: Store,
    job_id: str | None,
    idem_key: str | None,
    files: list[dict[str, Any]],
    sub: Submission,
    now: float,
    allow_http: bool,
) -> dict[str, Any]:
    with store.lock:
        if job_id is None:
            known = store.idem_jobs.get(idem_key) if idem_key is not None else None
            if known is not None:
                rt.stats.incr("duplicates_absorbed", len(files))
                return {"job_id": known, "file_count": len(files)}
            job_id = ids.new_job_id()
            if idem_key is not None:
                store.idem_jobs[idem_key] = job_id
        if job_id not in store.jobs:
            rt.stats.incr("jobs_created")
        job = store.get_or_create_job(job_id, now)
        if sub.wants("job.completed"):
            job.callback_sub = sub
        first = len(store.files)
        created = absorbed = 0
        in_call: set[str] = set()
        for item in files:
            cid = item.get("custom_id")
            repeated = cid is not None and cid in in_call
            if cid is not None and not repeated:
                in_call.add(cid)
                seq = job.by_custom_id.get(cid)
                if seq is not None and not store.files[seq].deleted:
                    absorbed += 1
                    continue
            rec = store.new_file(sub, item.get("source_uri") or "", now)
            rec.custom_id = cid
            if repeated:  # the later item fails; the pair stays the earlier one's
                rec.custom_id = None
                store.add_to_job(job, rec)
                rec.custom_id = cid
                store.fail(rec, "bad_request", f"custom_id {cid!r} appears more than once in this call")
            else:
                store.add_to_job(job, rec)
                _prepare_item(store, rec, item, allow_http)
            job.unfetched += 1
            created += 1
        rt.stats.incr("files_created", created)
        if absorbed:
            rt.stats.incr("duplicates_absorbed", absorbed)
        stop = len(store.files)
        result: dict[str, Any] = {"job_id": job_id, "file_count": len(files)}  # this call's items
    rt.fetcher.enqueue_range(store, first, stop)
    return result


def _prepare_item(store: Store, rec: FileRecord, item: dict[str, Any], allow_http: bool) -> None:
    """Fill one job member from its item; a bad source becomes the file's error (accept and defer)."""
    try:
        fn = item.get("filename")
        rec.filename = fn if isinstance(fn, str) and fn else None
        rec.source = classify_uri(item.get("source_uri"), "source_uri", allow_loopback_http=allow_http)
        err = _data_source_error(store, rec.source, rec.source_uri, "source_uri")
        if err is not None:
            raise err
        dest_uri = item.get("destination_uri")
        if dest_uri is not None:
            dest = classify_uri(dest_uri, "destination_uri")
            if dest.kind != "bucket":
                raise bad("destination_uri must be a bucket with a registered data source")
            err = _data_source_error(store, dest, dest_uri, "destination_uri")
            if err is not None:
                raise err
            rec.destination_uri = dest_uri
            basename = item.get("destination_basename")
            if basename is not None and (not isinstance(basename, str) or not basename or "/" in basename):
                raise bad("destination_basename must be a non-empty name without '/'")
            rec.destination_basename = basename
        elif rec.sub.image_output_mode == "local":
            raise bad('image_output_mode "local" requires destination_uri')
        if item.get("page_ranges") is not None:
            rec.page_ranges = parse_page_ranges(item.get("page_ranges"))
    except ApiError as exc:
        store.fail(rec, exc.code, exc.message)
