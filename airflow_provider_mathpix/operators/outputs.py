"""Buckets out: download a job's outputs into any ``ObjectStoragePath``; delete files from Mathpix.

``MathpixDownloadOutputsOperator`` copies the chosen formats of every completed file of
a job (or of listed file_ids) to ``<destination>/<custom_id or file_id>.<ext>`` --
local disk, ``s3://``, ``gs://``, ``abfs://`` or an Azure Blob URL -- with bounded async
concurrency over one HTTP client (``async with hook:``). Why these choices:

- *Streaming, bounded memory*: the job listing is consumed page by page into a bounded
  queue; each output is streamed into a spooled temporary file (memory up to a few MB,
  then disk), so a 200,000-file job never sits in memory. Into a bucket it is then one
  PUT awaited on this loop through the filesystem's async interface (``_bucket``); to
  local disk (and for an output past the spool's memory) it is copied from a thread, so
  the event loop never blocks on storage I/O.
- *Idempotent reruns*: an output already present at the destination with the same size
  (and the same MD5, where the store lists one) is not rewritten (counted as
  ``skipped``), so a retried or re-run task converges on the same destination without
  duplicate writes. A bucket destination is listed once, not asked per output.
- *Formats finish late*: a format still converting answers ``format_not_ready``; the
  download waits it out (``format_poll_interval`` up to ``format_timeout``).
- *Big results in storage*: each output's outcome goes to a JSON Lines manifest (C's
  :mod:`~airflow_provider_mathpix.manifests` writer); XCom carries counters, the
  destination and the manifest URI only.
- *Assets*: ``emit_asset=True`` declares the destination as an Airflow Asset outlet, so
  a downstream DAG can be scheduled on "new outputs landed".

``MathpixDeleteFilesOperator`` is retention as a pipeline step: once the outputs are
safe, delete the files from Mathpix storage; ``conflict`` (file still processing) is
reported, not fatal unless ``fail_on_conflict=True``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix import manifests, storage
from airflow_provider_mathpix._compat import Asset, BaseOperator, ObjectStoragePath
from airflow_provider_mathpix.common.listing import LISTING_TIMEOUT
from airflow_provider_mathpix.common.validation import duration_seconds, is_template
from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.ids import validate_id
from airflow_provider_mathpix.contract.requests_files import download_request
from airflow_provider_mathpix.contract.task_ids import ids_from_context, job_id_for
from airflow_provider_mathpix.exceptions import (
    MathpixAPIError,
    MathpixError,
    MathpixValidationError,
    validation_errors,
)
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.lineage import operator_lineage
from airflow_provider_mathpix.operators._download import (
    ERRORS_SAMPLE,
    OutputDownloader,
    _job_targets,
    _listed_targets,
    _ManifestFeed,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

MAX_CONCURRENCY = 256


# ---------------------------------------------------------------------- validation (pure)
def validate_selection(job_id: object, file_ids: object, *, at_parse_time: bool) -> None:
    """Exactly one of ``job_id`` / ``file_ids``; ids well formed once rendered."""
    has_job = job_id not in (None, "")
    has_files = file_ids is not None
    if has_job == has_files:
        raise MathpixValidationError("give exactly one of job_id or file_ids")
    if has_job and not is_template(job_id, at_parse_time):
        validate_id(job_id, "job_id")
    if has_files and not is_template(file_ids, at_parse_time):
        if isinstance(file_ids, str) or not isinstance(file_ids, Sequence):
            raise MathpixValidationError("file_ids must be a list of file ids")
        for i, file_id in enumerate(file_ids):
            if not is_template(file_id, at_parse_time):
                validate_id(file_id, f"file_ids[{i}]")


def validate_formats(formats: object) -> list[str]:
    """A non-empty list of output extensions (``md``, ``docx``, ``tex.zip``, ``lines.json``…)."""
    if isinstance(formats, str) or not isinstance(formats, Sequence) or not formats:
        raise MathpixValidationError("formats must be a non-empty list such as ['md', 'docx']")
    out = []
    for i, ext in enumerate(formats):
        if not isinstance(ext, str):
            raise MathpixValidationError(f"formats[{i}] must be a string, got {type(ext).__name__}")
        ext = ext.removeprefix(".")
        try:
            download_request("validation", ext)  # the hook's own extension rule
        except InvalidInput as exc:
            raise MathpixValidationError(f"formats[{i}]: {exc}") from None
        if ext not in out:
            out.append(ext)
    return out


def validate_concurrency(value: object, field_name: str = "concurrency") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        raise MathpixValidationError(
            f"{field_name} must be an integer from 1 to {MAX_CONCURRENCY}, got {value!r}"
        )
    return value


def destination_display(destination: str | ObjectStoragePath) -> str:
    """The destination as the DAG author wrote it (no ``conn_id@`` inside), without a trailing slash."""
    if isinstance(destination, str):
        text = destination.rstrip("/")
        if "://" not in text:
            text = "file://" + os.path.abspath(text)
        return text
    protocol = destination.protocol or "file"
    if protocol in storage.LOCAL_PROTOCOLS:
        return "file://" + os.path.abspath(destination.path)
    return f"{protocol}://{destination.bucket}/{destination.key}".rstrip("/")


def destination_asset(destination: str | ObjectStoragePath) -> Asset:
    """The Asset that stands for a download destination (the same URI a consumer DAG schedules on)."""
    return Asset(uri=destination_display(destination))


# ---------------------------------------------------------------------- the operators
class MathpixDownloadOutputsOperator(BaseOperator):
    """Download Mathpix outputs into local disk or a bucket, as ``<destination>/<name>.<ext>``.

    Give exactly one of ``job_id`` (every *completed* file of the job; ``name`` is the
    file's ``custom_id``, or its ``file_id`` when it has none) or ``file_ids`` (``name``
    is the ``file_id``).

    :param formats: extensions to download, e.g. ``["md", "docx"]`` (``mmd``,
        ``lines.json`` always exist; others must have been requested at submission).
    :param destination: a local path, ``s3://``, ``gs://``, ``abfs://`` URI, an Azure Blob
        ``https://{account}.blob.core.windows.net/{container}/…`` URL, or an ``ObjectStoragePath``.
    :param destination_conn_id: storage connection for a string destination (default per
        scheme: ``aws_default``, ``google_cloud_default``, ``wasb_default``).
    :param concurrency: outputs downloaded at once (one HTTP client, bounded queue).
    :param skip_existing: leave an output alone when the destination already holds one of
        the same size and, where the store lists one, the same MD5 (reruns write nothing
        new; each output is still downloaded to compare).
    :param trust_existing: skip any output already present at the destination without
        downloading it at all (the cheapest rerun). Safe after a killed run: this operator
        publishes an output at its name only once complete; use it when nothing else
        writes partial files there.
    :param format_timeout: seconds to keep waiting for a ``format_not_ready`` output.
    :param listing_timeout: seconds to wait for the job's file listing to catch up with its
        counters (Mathpix may list files after counting them done); past it the task fails
        naming the shortfall instead of succeeding short.
    :param manifest_path: where the JSON Lines manifest of this download goes (default:
        under AIRFLOW_HOME, named after the task instance); ``manifest_conn_id`` its connection.
    :param fail_on_error: fail the task (after writing everything it could and the
        manifest) when any output could not be downloaded or stored.
    :param emit_asset: declare the destination as an outlet Asset (see :func:`destination_asset`);
        the asset event's ``extra`` carries the counters and the manifest URI.

    XCom: ``{"destination", "files", "outputs_written", "outputs_skipped",
    "outputs_failed", "bytes_written", "manifest_uri", "errors_sample"}``.
    """

    template_fields: Sequence[str] = (
        "job_id",
        "file_ids",
        "formats",
        "destination",
        "destination_conn_id",
        "manifest_path",
        "manifest_conn_id",
        "mathpix_conn_id",
    )
    ui_color = "#e8f4fd"

    @validation_errors()
    def __init__(
        self,
        *,
        destination: str | ObjectStoragePath,
        job_id: str | None = None,
        file_ids: Sequence[str] | None = None,
        formats: Sequence[str] = ("md",),
        destination_conn_id: str | None = None,
        concurrency: int = 16,
        skip_existing: bool = True,
        trust_existing: bool = False,
        format_timeout: float = 600.0,
        format_poll_interval: float = 2.0,
        listing_timeout: float = LISTING_TIMEOUT,
        manifest_path: str | ObjectStoragePath | None = None,
        manifest_conn_id: str | None = None,
        fail_on_error: bool = True,
        emit_asset: bool = False,
        mathpix_conn_id: str = MathpixHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = destination
        self.job_id = job_id
        self.file_ids = file_ids
        self.formats = list(formats) if isinstance(formats, (list, tuple)) else formats
        self.destination_conn_id = destination_conn_id
        self.concurrency = validate_concurrency(concurrency)
        self.skip_existing = bool(skip_existing)
        self.trust_existing = bool(trust_existing)
        self.format_timeout = duration_seconds(format_timeout, "format_timeout", allow_zero=True)
        self.format_poll_interval = duration_seconds(format_poll_interval, "format_poll_interval")
        self.listing_timeout = duration_seconds(listing_timeout, "listing_timeout", allow_zero=True)
        self.manifest_path = manifest_path
        self.manifest_conn_id = manifest_conn_id
        self.fail_on_error = fail_on_error
        self.mathpix_conn_id = mathpix_conn_id
        self.emit_asset = emit_asset
        self._validate(at_parse_time=True)
        self.asset: Asset | None = None
        if emit_asset:
            if is_template(destination, True):
                raise MathpixValidationError(
                    "emit_asset=True needs a destination known when the DAG is parsed (no template); "
                    "pass outlets=[Asset(...)] yourself for a templated destination"
                )
            self.asset = destination_asset(destination)
            self.outlets = [*self.outlets, self.asset]

    def _validate(self, *, at_parse_time: bool) -> None:
        validate_selection(self.job_id, self.file_ids, at_parse_time=at_parse_time)
        if not is_template(self.formats, at_parse_time):
            validate_formats(self.formats)
        if isinstance(self.destination, str) and not is_template(self.destination, at_parse_time):
            if not self.destination.strip():
                raise MathpixValidationError("destination must be a non-empty path or bucket URI")
            if "://" in self.destination:
                storage.parse_location(self.destination, "destination")

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage datasets: the download ``destination`` as the output.

        ``None`` without the OpenLineage provider. The inputs are Mathpix's own storage,
        not a dataset of the platform; the submit operator's lineage links the sources.
        """
        return operator_lineage(outputs=[self.destination])

    @validation_errors()
    def execute(self, context: Context) -> dict[str, Any]:
        self._validate(at_parse_time=False)
        formats = validate_formats(self.formats)
        dest = storage.to_object_storage_path(self.destination, self.destination_conn_id)
        dest_uri = destination_display(self.destination)
        manifest = manifests.resolve_manifest_path(
            self.manifest_path,
            job_id=f"{job_id_for(*ids_from_context(context))}.download",
            conn_id=self.manifest_conn_id,
        )
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        feed = _ManifestFeed(manifest)
        downloader = OutputDownloader(
            hook,
            dest,
            dest_uri,
            formats,
            concurrency=self.concurrency,
            skip_existing=self.skip_existing,
            trust_existing=self.trust_existing,
            format_timeout=self.format_timeout,
            format_poll_interval=self.format_poll_interval,
            record=feed.put,
            log=self.log,
        )
        targets = (
            _job_targets(hook, self.job_id, self.listing_timeout)
            if self.job_id
            else _listed_targets(list(self.file_ids or ()))
        )
        try:
            totals = asyncio.run(downloader.run(targets))
        finally:
            feed.close()
        result: dict[str, Any] = {
            "destination": dest_uri,
            "files": totals.files,
            "outputs_written": totals.written,
            "outputs_skipped": totals.skipped,
            "outputs_failed": totals.failed,
            "bytes_written": totals.bytes_written,
            "manifest_uri": destination_display(manifest),
            "errors_sample": totals.errors_sample,
        }
        self.log.info(
            "Downloaded outputs of %d files into %s: %d written, %d skipped (already there), %d failed",
            totals.files,
            dest_uri,
            totals.written,
            totals.skipped,
            totals.failed,
        )
        if totals.failed and self.fail_on_error:
            sample = ", ".join(
                f"{e['custom_id'] or e['file_id']}.{e['ext']}: {e['reason']}" for e in totals.errors_sample
            )
            raise MathpixError(
                f"{totals.failed} outputs could not be downloaded into {dest_uri} (e.g. {sample}); "
                f"manifest: {result['manifest_uri']}"
            )
        if self.asset is not None:
            context["outlet_events"][self.asset].extra = {
                "files": totals.files,
                "outputs_written": totals.written,
                "outputs_skipped": totals.skipped,
                "manifest_uri": result["manifest_uri"],
            }
        return result


class MathpixDeleteFilesOperator(BaseOperator):
    """Delete files (never the customer's bucket) from Mathpix storage: retention as a step.

    Give exactly one of ``job_id`` (every file of the job) or ``file_ids``. A file still
    processing answers ``conflict``: it is counted and named in XCom, and fails the task
    only with ``fail_on_conflict=True``. Deleting an already deleted file succeeds.

    XCom: ``{"requested", "deleted", "conflicts", "conflict_sample", "failed", "errors_sample"}``.
    """

    template_fields: Sequence[str] = ("job_id", "file_ids", "mathpix_conn_id")
    ui_color = "#fde8e8"

    @validation_errors()
    def __init__(
        self,
        *,
        job_id: str | None = None,
        file_ids: Sequence[str] | None = None,
        fail_on_conflict: bool = False,
        concurrency: int = 16,
        mathpix_conn_id: str = MathpixHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.file_ids = file_ids
        self.fail_on_conflict = fail_on_conflict
        self.concurrency = validate_concurrency(concurrency)
        self.mathpix_conn_id = mathpix_conn_id
        validate_selection(job_id, file_ids, at_parse_time=True)

    @validation_errors()
    def execute(self, context: Context) -> dict[str, Any]:
        validate_selection(self.job_id, self.file_ids, at_parse_time=False)
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        result = asyncio.run(self._delete_all(hook))
        self.log.info(
            "Deleted %d of %d Mathpix files (%d still processing, %d failed)",
            result["deleted"],
            result["requested"],
            result["conflicts"],
            result["failed"],
        )
        if result["failed"]:
            raise MathpixError(f"{result['failed']} files could not be deleted: {result['errors_sample']}")
        if result["conflicts"] and self.fail_on_conflict:
            raise MathpixError(
                f"{result['conflicts']} files are still processing and were not deleted: "
                f"{result['conflict_sample']}"
            )
        return result

    async def _file_ids(self, hook: MathpixHook) -> AsyncIterator[str]:
        if self.job_id:
            async for record in hook.aiter_job_files(self.job_id):
                yield record["file_id"]
        else:
            for file_id in self.file_ids or ():
                yield file_id

    async def _delete_all(self, hook: MathpixHook) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requested": 0,
            "deleted": 0,
            "conflicts": 0,
            "conflict_sample": [],
            "failed": 0,
            "errors_sample": [],
        }
        slots = asyncio.Semaphore(self.concurrency)

        async def delete(file_id: str) -> None:
            try:
                await hook.adelete_file(file_id)
                out["deleted"] += 1
            except MathpixAPIError as exc:
                if exc.code == "conflict":
                    out["conflicts"] += 1
                    if len(out["conflict_sample"]) < ERRORS_SAMPLE:
                        out["conflict_sample"].append(file_id)
                else:
                    out["failed"] += 1
                    if len(out["errors_sample"]) < ERRORS_SAMPLE:
                        out["errors_sample"].append({"file_id": file_id, "error": exc.code})
            finally:
                slots.release()

        pending: set[asyncio.Task[None]] = set()
        async with hook:
            async for file_id in self._file_ids(hook):
                out["requested"] += 1
                await slots.acquire()
                task = asyncio.create_task(delete(file_id))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.gather(*pending)
        return out
