"""Reporting a completed job: per-file results into a manifest, a small XCom, the policy.

Shared by ``MathpixSubmitJobOperator`` and ``MathpixJobSensor``, so the job XCom of
``design.md`` is built in exactly one place:

- job:  ``{"job_id", "status", "file_count", "files_completed", "files_errored",
  "manifest_uri", "errors_sample": [...<=10]}`` -- under 10 KB whatever the job size,
  because per-file results are streamed into the manifest, never into XCom.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_mathpix.common.failures import finished_as
from airflow_provider_mathpix.common.listing import (
    LISTING_RECHECK,
    LISTING_TIMEOUT,
    ListingShort,
    counted,
    gave_up,
)
from airflow_provider_mathpix.common.outputs import JobOutputs, short_text
from airflow_provider_mathpix.common.policy import ERRORS_SAMPLE_SIZE, enforce_policy
from airflow_provider_mathpix.common.validation import is_template
from airflow_provider_mathpix.contract.events import JobFinished, WaitEvent
from airflow_provider_mathpix.contract.status import record_error_text
from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.manifests import manifest_uri as uri_of
from airflow_provider_mathpix.manifests import resolve_manifest_path, write_manifest

#: Errored files' records fetched at once. Against the emulator on loopback the client's
#: CPU bounds the rate (bare httpx peaks near 4 in flight, httpcore's pool scan grows with
#: the pool); against api.mathpix.com each GET waits a round trip, so the rate is about
#: this many per RTT. 16 keeps a remote job's reasons ~16x faster than one at a time
#: while costing ~1.5x the CPU per GET of 4 on loopback (see benchmarks/manifest_errored.py).
ERROR_FETCH_CONCURRENCY = 16
#: Errored files taken from the listing before their reasons are fetched together.
ERROR_FETCH_BLOCK = 1000

#: ``manifest_error_reasons``: every errored file's reason fetched (one GET each) ...
ERROR_REASONS_ALL = "all"
#: ... or only the XCom ``errors_sample``'s: the manifest is written at listing speed.
ERROR_REASONS_SAMPLE = "sample"
ERROR_REASONS = (ERROR_REASONS_ALL, ERROR_REASONS_SAMPLE)


def checked_error_reasons(value: Any, *, at_parse_time: bool, field: str = "manifest_error_reasons") -> Any:
    """``value`` if it is one of :data:`ERROR_REASONS` (or a template not rendered yet), else raise."""
    if is_template(value, at_parse_time):
        return value
    if not isinstance(value, str) or value not in ERROR_REASONS:
        raise MathpixValidationError(
            f"{field} must be 'all' (every errored file's reason in the manifest, one request "
            f"each) or 'sample' (reasons for the XCom errors_sample only), got {value!r}"
        )
    return value


def _unavailable(exc: MathpixAPIError) -> str:
    return f"(error detail unavailable: {exc.code})"


async def _afile_errors(hook: MathpixHook, file_ids: Sequence[str]) -> list[str]:
    """The reasons of ``file_ids``, in order, at most :data:`ERROR_FETCH_CONCURRENCY` at once.

    On the caller's client when it holds ``async with hook:`` (one pool for every block).
    """
    slots = asyncio.Semaphore(ERROR_FETCH_CONCURRENCY)

    async def one(file_id: str) -> str:
        async with slots:
            try:
                return record_error_text(await hook.aget_file(file_id))
            except MathpixAPIError as exc:
                return _unavailable(exc)

    async with hook:
        return list(await asyncio.gather(*(one(file_id) for file_id in file_ids)))


def _file_errors(hook: MathpixHook, file_ids: Sequence[str]) -> list[str]:
    return asyncio.run(_afile_errors(hook, file_ids)) if file_ids else []


def _with_errors(
    hook: MathpixHook, items: Iterable[Mapping[str, Any]]
) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Each errored listing item with its reason, fetched concurrently a block at a time.

    A block bounds memory (one listing page) while its GETs overlap; one event loop and
    one connection pool serve every block. The manifest of a job with many errored files
    then costs about the listing plus a 16th of the GETs' latency.
    """
    listed = iter(items)
    with asyncio.Runner() as loop:
        loop.run(hook.__aenter__())
        try:
            while block := list(itertools.islice(listed, ERROR_FETCH_BLOCK)):
                errors = loop.run(_afile_errors(hook, [item["file_id"] for item in block]))
                yield from zip(block, errors, strict=True)
        finally:
            loop.run(hook.__aexit__(None, None, None))


def _with_sample_errors(
    hook: MathpixHook, items: Iterable[Mapping[str, Any]], wanted: int
) -> Iterator[tuple[Mapping[str, Any], str | None]]:
    """The first ``wanted`` errored items with their reasons, the rest as listed (``None``)."""
    listed = iter(items)
    head = list(itertools.islice(listed, wanted))
    yield from zip(head, _file_errors(hook, [item["file_id"] for item in head]), strict=True)
    for item in listed:
        yield item, None


def iter_job_records(
    hook: MathpixHook,
    job_id: str,
    outputs: JobOutputs,
    errors_sample: list[dict[str, Any]],
    counters: Mapping[str, Any] | None = None,
    error_reasons: str = ERROR_REASONS_ALL,
) -> Iterator[dict[str, Any]]:
    """Per-file results, page by page: completed files, then errored ones (with their error).

    The listing fills a file's ``status`` only under a ``status`` filter, hence two
    listings. An errored file's reason is on its own record (one GET each, fetched
    concurrently a block at a time); the first
    :data:`ERRORS_SAMPLE_SIZE` are also appended to ``errors_sample`` for XCom.
    With ``error_reasons="sample"`` only those are fetched: every other errored record
    has ``"error": None`` and ``"error_fetched": False`` (the field every errored record
    carries), so the manifest is written at the listing's speed.
    With the job's ``counters`` (``file_count``, ``files_completed``, ``files_errored``)
    each listing is checked against them (see ``_listing``): :class:`ListingShort` at
    the end of a listing that trails them, ``invalid_response`` past ``file_count``.
    """
    counters = counters or {}
    file_count = int(counters["file_count"]) if counters.get("file_count") is not None else sys.maxsize

    def listing(status: str, counter: str, name: str) -> Iterator[Mapping[str, Any]]:
        expected = int(counters.get(counter) or 0)
        return counted(hook.iter_job_files(job_id, status=status), job_id, name, expected, file_count)

    completed = listing("completed", "files_completed", "completed")
    errored = listing("error", "files_errored", "errored")
    for item in completed:
        yield {
            "file_id": item["file_id"],
            "custom_id": item.get("custom_id"),
            "filename": item.get("filename"),
            "status": "completed",
            "error": None,
            "outputs": outputs.for_file(item["file_id"], item.get("custom_id")),
        }
    # Sized when the errored listing starts: a split job's earlier parts filled the sample.
    with_errors = (
        _with_errors(hook, errored)
        if error_reasons == ERROR_REASONS_ALL
        else _with_sample_errors(hook, errored, ERRORS_SAMPLE_SIZE - len(errors_sample))
    )
    for item, error in with_errors:
        record = {
            "file_id": item["file_id"],
            "custom_id": item.get("custom_id"),
            "filename": item.get("filename"),
            "status": "error",
            "error": error,
            "error_fetched": error is not None,
            "outputs": {},
        }
        if error is not None and len(errors_sample) < ERRORS_SAMPLE_SIZE:
            errors_sample.append(
                {"custom_id": record["custom_id"], "file_id": record["file_id"], "error": short_text(error)}
            )
        yield record


def sample_errors(hook: MathpixHook, job_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Up to 10 errored files (across ``job_ids``) with their errors, when no manifest is written."""
    listings = (hook.iter_job_files(job_id, status="error") for job_id in job_ids)
    items = list(itertools.islice(itertools.chain.from_iterable(listings), ERRORS_SAMPLE_SIZE))
    errors = _file_errors(hook, [item["file_id"] for item in items])
    return [
        {"custom_id": item.get("custom_id"), "file_id": item["file_id"], "error": short_text(error)}
        for item, error in zip(items, errors, strict=True)
    ]


def _feeding(records: Iterator[dict[str, Any]], sink: Any) -> Iterator[dict[str, Any]]:
    for record in records:
        sink(record)
        yield record


@dataclass(frozen=True)
class JobFinish:
    """How a completed job is reported: manifest location and the partial-success policy."""

    manifest_path: Any = None
    manifest_conn_id: str | None = None
    write_manifest: bool = True
    max_error_ratio: float = 0.0
    fail_on_file_errors: bool = True
    #: Fed every manifest record, committed once the listing is complete (the conversion ledger).
    recorder: Any = None
    #: Seconds to wait for the job's listing to catch up with its counters (see ``_listing``).
    listing_timeout: float = LISTING_TIMEOUT
    #: ``"all"``: every errored file's reason in the manifest; ``"sample"``: the XCom's only.
    error_reasons: str = ERROR_REASONS_ALL

    def __post_init__(self) -> None:
        checked_error_reasons(self.error_reasons, at_parse_time=False)


def finish_job(
    hook: MathpixHook,
    event: WaitEvent | Mapping[str, Any],
    *,
    outputs: JobOutputs,
    finish: JobFinish,
    log: logging.Logger | Any,
) -> dict[str, Any]:
    """From a job event to the XCom value, or raise: API error, timeout, too many errored files."""
    finished = finished_as(event, JobFinished)
    return finish_jobs(hook, finished.job_id, [finished], outputs=outputs, finish=finish, log=log)


def _write_checked_manifest(
    hook: MathpixHook,
    name: str,
    path: Any,
    parts: Sequence[JobFinished],
    outputs: JobOutputs,
    finish: JobFinish,
    errors_sample: list[dict[str, Any]],
    log: Any,
) -> int:
    """Write the manifest of ``parts`` once their listings match their counters (bounded wait).

    A listing found short aborts the write (nothing is published: the write is whole)
    and is tried again every :data:`LISTING_RECHECK` seconds until ``listing_timeout``.
    The conversion ledger (``finish.recorder``) is committed only after a whole write.
    """
    split = len(parts) > 1
    deadline = time.monotonic() + finish.listing_timeout
    while True:
        errors_sample.clear()
        records: Iterator[dict[str, Any]] = itertools.chain.from_iterable(
            (
                {**record, "job_id": part.job_id} if split else record
                for record in iter_job_records(
                    hook, part.job_id, outputs, errors_sample, part.counters.as_dict(), finish.error_reasons
                )
            )
            for part in parts
        )
        if finish.recorder is not None:
            finish.recorder.reset()  # an aborted (short) listing fed it records already
            records = _feeding(records, finish.recorder.add)
        try:
            written = write_manifest(path, records)
        except ListingShort as short:
            left = deadline - time.monotonic()
            if left <= 0:
                raise gave_up(short, finish.listing_timeout) from None
            if log is not None:
                log.warning("%s; the listing lags the counters, listing again", short)
            time.sleep(min(LISTING_RECHECK, left))
            continue
        if finish.recorder is not None:
            finish.recorder.commit(name)
        return written


def finish_jobs(
    hook: MathpixHook,
    name: str,
    parts: Sequence[JobFinished],
    *,
    outputs: JobOutputs,
    finish: JobFinish,
    log: logging.Logger | Any,
) -> dict[str, Any]:
    """Report completed jobs as one: summed counters, one manifest, the policy on the totals.

    ``parts`` are the finished events of every job (one for an ordinary job; one
    per part of a job split by ``max_files_per_job``, named ``name``). With several
    parts each manifest record also says which ``job_id`` holds the file.
    """
    job_ids = [part.job_id for part in parts]
    split = len(parts) > 1
    file_count = sum(part.counters.file_count for part in parts)
    files_errored = sum(part.counters.files_errored for part in parts)
    errors_sample: list[dict[str, Any]] = []
    manifest_uri: str | None = None
    if finish.write_manifest:
        path = resolve_manifest_path(finish.manifest_path, job_id=name, conn_id=finish.manifest_conn_id)
        if finish.error_reasons == ERROR_REASONS_ALL and files_errored > ERROR_FETCH_BLOCK:
            log.info(
                "Fetching the reasons of %s errored files for the manifest (one request each, %d at "
                "a time); manifest_error_reasons='sample' writes it at listing speed instead",
                f"{files_errored:,}",
                ERROR_FETCH_CONCURRENCY,
            )
        written = _write_checked_manifest(hook, name, path, parts, outputs, finish, errors_sample, log)
        manifest_uri = uri_of(path)
        log.info("Wrote the manifest of job %s (%s files) to %s", name, f"{written:,}", manifest_uri)
    elif files_errored:
        errors_sample = sample_errors(hook, job_ids)
    statuses = [part.job_status for part in parts]
    xcom = {
        "job_id": name,
        # One part not completed (never expected: each was waited on) is not hidden.
        "status": next((s for s in statuses if s != "completed"), "completed"),
        "file_count": file_count,
        "files_completed": sum(part.counters.files_completed for part in parts),
        "files_errored": files_errored,
        "manifest_uri": manifest_uri,
        "errors_sample": errors_sample,
    }
    more = f"\n(manifest with every errored file: {manifest_uri})" if manifest_uri else ""
    return enforce_policy(
        xcom,
        subject=f"job {name} ({len(parts)} jobs)" if split else f"job {name}",
        file_count=file_count,
        files_errored=files_errored,
        errors_sample=errors_sample,
        max_error_ratio=finish.max_error_ratio,
        fail_on_file_errors=finish.fail_on_file_errors,
        log=log,
        note=more,
    )


def empty_job_xcom(job_id: str) -> dict[str, Any]:
    """The job XCom when nothing was submitted (nothing matched, or nothing new to convert)."""
    return {
        "job_id": job_id,
        "status": "empty",
        "file_count": 0,
        "files_completed": 0,
        "files_errored": 0,
        "manifest_uri": None,
        "errors_sample": [],
    }
