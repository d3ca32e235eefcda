"""``MathpixSubmitJobOperator``: convert a list of documents, or a whole bucket prefix, as one job.

Thin by design: validate before any request, stream the items into
``MathpixHook.submit_job`` (a million keys never sit in memory: the bucket listing is
consumed chunk by chunk), push the ``job_id`` to XCom before waiting, then wait
in-process, defer to ``MathpixJobTrigger`` or return. When the job completes, the
per-file results are streamed into a JSON Lines manifest and XCom gets the counters,
the manifest URI and up to 10 errored files; the partial-success policy decides.

Idempotent across retries: the default ``job_id`` comes from dag_id/run_id/task_id/
map_index (never try_number) and each ``custom_id`` from the source, so a retried task
re-submits the same pairs and Mathpix hands back the files of the first try.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix import prefix_walk
from airflow_provider_mathpix._compat import BaseOperator, conf
from airflow_provider_mathpix.common.data_source_check import check_data_sources
from airflow_provider_mathpix.common.failures import finished_as
from airflow_provider_mathpix.common.job_parts import listed_job_ids, part_job_id, part_job_ids, parts_xcom
from airflow_provider_mathpix.common.job_report import (
    ERROR_REASONS_ALL,
    JobFinish,
    checked_error_reasons,
    empty_job_xcom,
    finish_job,
)
from airflow_provider_mathpix.common.job_sources import check_job_sources, positive_int
from airflow_provider_mathpix.common.listing import LISTING_TIMEOUT
from airflow_provider_mathpix.common.outputs import JobOutputs, output_exts
from airflow_provider_mathpix.common.policy import validate_max_error_ratio
from airflow_provider_mathpix.common.split_jobs import resume_point, submit_parts, wait_parts
from airflow_provider_mathpix.common.validation import (
    FastTemplatingMixin,
    duration_seconds,
    has_template,
    is_template,
    merge_named_options,
    read_once,
    validate_wait_settings,
)
from airflow_provider_mathpix.common.waiting import (
    ReportsWorkOnKill,
    check_job,
    wait_or_defer,
)
from airflow_provider_mathpix.contract.events import JobFinished, WaitEvent
from airflow_provider_mathpix.contract.ids import validate_id
from airflow_provider_mathpix.contract.items import (
    BuiltItems,
    build_item_list,
    build_items,
    destination_overrides,
    entry_overrides,
    with_destination,
)
from airflow_provider_mathpix.contract.job_limits import validate_max_items_per_request
from airflow_provider_mathpix.contract.options import COMMON_OPTION_KEYS, validate_options
from airflow_provider_mathpix.contract.task_ids import ids_from_context, job_id_for
from airflow_provider_mathpix.exceptions import (
    MathpixJobFilesErrored,
    MathpixValidationError,
    MathpixWaitTimeout,
    validation_errors,
)
from airflow_provider_mathpix.hooks.custom_ids import CompactDigests
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.incremental import WalkStats
from airflow_provider_mathpix.lineage import job_lineage
from airflow_provider_mathpix.local_source import UPLOAD_CONCURRENCY, local_path_of, upload_job
from airflow_provider_mathpix.operators._incremental import (
    incremental_items,
    log_walk,
    pulled_skip_counts,
    push_skip_counts,
    recorder_for,
    skip_counts,
    uses_incremental_walk,
    validate_incremental,
)
from airflow_provider_mathpix.triggers.mathpix import MathpixJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

__all__ = ["MathpixJobFilesErrored", "MathpixSubmitJobOperator", "MathpixWaitTimeout", "part_job_id"]

FileEntry = str | Mapping[str, Any]


class MathpixSubmitJobOperator(FastTemplatingMixin, ReportsWorkOnKill, BaseOperator):
    """Submit many documents as one Mathpix job and (optionally) wait for it.

    Give exactly one of:

    - ``files``: a list of source URIs or item dicts (``{"source_uri", "custom_id",
      "destination_uri", ...}``), or an XComArg producing one;
    - ``source_prefix``: an ``s3://``/``gs://``/Azure prefix (or ObjectStoragePath) whose
      objects are listed through the storage provider (``source_conn_id``) and streamed
      into the job; ``pattern`` (glob on the relative key) or ``suffixes`` filter them.
      A local folder (``/data/incoming/``, ``file:///data/incoming/``) on the worker's disk
      is walked the same way and each file uploaded into the job (``POST /files/v1``),
      ``upload_concurrency`` at a time, under a custom_id versioned by its size and mtime.

    :param destination_prefix: each item without its own destination gets
        ``destination_uri=<prefix>/<custom_id>/`` and ``destination_basename=<custom_id>``.
    :param conversion_formats, image_output_mode, options, metadata, callback_*: job-wide options.
    :param job_id: default derived from the task instance (stable across retries).
    :param upload_concurrency: with a local ``source_prefix``, uploads in flight at once.
    :param max_error_ratio: fraction of errored files tolerated (default 0: any errored
        file fails the task, naming up to 10 of them).
    :param fail_on_file_errors: False turns every file error into a warning.
    :param manifest_path: where the JSON Lines manifest goes (URI, local path or
        ObjectStoragePath; a trailing ``/`` means a folder); default under AIRFLOW_HOME.
    :param manifest_conn_id: storage connection for a manifest URI given as a string.
    :param manifest_error_reasons: ``"all"`` (default): each errored file's reason in the
        manifest (one request per errored file); ``"sample"``: only XCom's ``errors_sample``
        has reasons, the manifest is written at listing speed (``"error_fetched": false``).
    :param listing_timeout: seconds to wait for the job's file listing to catch up with its
        counters (Mathpix may list files after counting them done); past it the task fails
        naming the shortfall instead of succeeding short.
    :param allow_empty: with ``source_prefix``, succeed (without any request) when nothing matches.
    :param max_files_per_job: split the documents into several Mathpix jobs of at most
        this many files, named ``<job_id>.p0001``, ``<job_id>.p0002``, ... (deterministic:
        a retry re-submits each item to the same job). XCom then adds ``job_ids`` and
        ``job_count``; counters, manifest and the partial-success policy cover all parts.
    :param check_data_sources: check, before submitting, that every bucket involved is a
        registered Mathpix data source (one ``GET /files/v1/data-sources``).
    :param skip_converted: with ``source_prefix``, submit only documents whose (key, content)
        no earlier run converted, as recorded in ``ledger_path``; a changed document is
        converted again. Nothing new to convert is a success (XCom ``files_skipped``).
    :param ledger_path: folder of the conversion ledger (bucket URI, local path or
        ObjectStoragePath) shared by every run and worker, e.g. beside the outputs.
    :param ledger_conn_id: storage connection for a ``ledger_path`` given as a URI string.
    :param modified_after, modified_before: with ``source_prefix``, only objects whose
        last-modified time is ``>= modified_after`` and ``< modified_before`` (templated:
        ``{{ data_interval_start }}`` / ``{{ data_interval_end }}``).
    """

    template_fields: Sequence[str] = (
        "files",
        "source_prefix",
        "pattern",
        "destination_prefix",
        "conversion_formats",
        "options",
        "metadata",
        "job_id",
        "manifest_path",
        "callback_url",
        "modified_after",
        "modified_before",
        "ledger_path",
        "ledger_conn_id",
        "source_conn_id",
        "manifest_conn_id",
        "manifest_error_reasons",
        "mathpix_conn_id",
    )
    template_fields_renderers = {"options": "json", "files": "json", "metadata": "json"}
    ui_color = "#c9e4f6"
    ui_fgcolor = "#1b3a57"

    @validation_errors()
    def __init__(
        self,
        *,
        files: Sequence[FileEntry] | Any | None = None,
        source_prefix: str | ObjectStoragePath | None = None,
        source_conn_id: str | None = None,
        pattern: str | None = None,
        suffixes: Sequence[str] | None = None,
        allow_empty: bool = False,
        max_files_per_job: int | None = None,
        check_data_sources: bool = False,
        skip_converted: bool = False,
        ledger_path: str | ObjectStoragePath | None = None,
        ledger_conn_id: str | None = None,
        modified_after: Any = None,
        modified_before: Any = None,
        destination_prefix: str | None = None,
        conversion_formats: Mapping[str, bool] | Sequence[str] | None = None,
        image_output_mode: str | None = None,
        options: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        callback_headers: Mapping[str, str] | None = None,
        callback_events: Sequence[str] | None = None,
        job_id: str | None = None,
        max_items_per_request: int | None = None,
        upload_concurrency: int = UPLOAD_CONCURRENCY,
        max_error_ratio: float = 0.0,
        fail_on_file_errors: bool = True,
        manifest_path: str | ObjectStoragePath | None = None,
        manifest_conn_id: str | None = None,
        manifest_error_reasons: str = ERROR_REASONS_ALL,
        listing_timeout: float = LISTING_TIMEOUT,
        mathpix_conn_id: str = MathpixHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: float = 24 * 60 * 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.files = files
        self.source_prefix = source_prefix
        self.source_conn_id = source_conn_id
        self.pattern = pattern
        self.suffixes = list(suffixes) if suffixes else None
        self.allow_empty = allow_empty
        self.max_files_per_job = max_files_per_job
        self.check_data_sources = check_data_sources
        self.skip_converted = skip_converted
        self.ledger_path = ledger_path
        self.ledger_conn_id = ledger_conn_id
        self.modified_after = modified_after
        self.modified_before = modified_before
        self._walk_stats = WalkStats()
        self.destination_prefix = destination_prefix
        self.conversion_formats = conversion_formats
        self.image_output_mode = image_output_mode
        self.options = dict(options) if options else {}
        self.metadata = metadata
        self.callback_url = callback_url
        self.callback_headers = dict(callback_headers) if callback_headers else None
        self.callback_events = list(callback_events) if callback_events else None
        self.job_id = job_id
        self.max_items_per_request = max_items_per_request
        self.upload_concurrency = positive_int(upload_concurrency, "upload_concurrency")
        self.max_error_ratio = validate_max_error_ratio(max_error_ratio)
        self.fail_on_file_errors = fail_on_file_errors
        self.manifest_path = manifest_path
        self.manifest_conn_id = manifest_conn_id
        self.manifest_error_reasons = manifest_error_reasons
        self.listing_timeout = duration_seconds(listing_timeout, "listing_timeout", allow_zero=True)
        self.mathpix_conn_id = mathpix_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval, self.timeout = validate_wait_settings(poll_interval, timeout)
        if not is_template(max_items_per_request, True):
            validate_max_items_per_request(max_items_per_request)  # at parse time, not at execute
        if max_files_per_job is not None:
            positive_int(max_files_per_job, "max_files_per_job")
        self._validate(at_parse_time=True)

    # ------------------------------------------------------------------ validation

    def _validate(self, *, at_parse_time: bool) -> dict[str, Any]:
        """Check arguments before any request; return the job-wide options."""
        check_job_sources(
            task_id=self.task_id,
            files=self.files,
            source_prefix=self.source_prefix,
            destination_prefix=self.destination_prefix,
            at_parse_time=at_parse_time,
        )
        if at_parse_time and self.files is not None and not has_template(self.files):
            # A templated destination_prefix is only known after rendering: check the
            # items now without the destinations it would give them.
            self._build_file_items(with_destinations=not is_template(self.destination_prefix, True))
        if self.job_id is not None and not is_template(self.job_id, at_parse_time):
            validate_id(self.job_id, "job_id")
        validate_incremental(self, at_parse_time=at_parse_time)
        checked_error_reasons(self.manifest_error_reasons, at_parse_time=at_parse_time)
        options = self._job_options()
        if at_parse_time and has_template(options):
            return options
        return validate_options(options, "", allow_item_keys=False)

    def _job_options(self) -> dict[str, Any]:
        return merge_named_options(self.options, self, COMMON_OPTION_KEYS, _EXPLICIT_OPTIONS)

    def _build_file_items(self, *, with_destinations: bool = True) -> BuiltItems:
        """The explicit ``files`` list as checked job items (in memory: it already is)."""
        entries = list(self.files)  # type: ignore[arg-type]
        if not entries and not self.allow_empty:
            raise MathpixValidationError(
                "files is empty: give at least one source URI or item (or allow_empty=True)"
            )
        return build_item_list(
            entries,
            destination_prefix=self.destination_prefix if with_destinations else None,
            needs_destination=self.image_output_mode == "local",
        )

    # ------------------------------------------------------------------ execution

    @validation_errors()
    def execute(self, context: Context) -> dict[str, Any]:
        if self.files is not None:
            self.files = read_once(self.files)
        job_options = self._validate(at_parse_time=False)
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        job_id = self._job_id(context, job_options)
        outputs = JobOutputs(
            exts=output_exts(job_options.get("conversion_formats")),
            api_base=hook.base_url,
            destination_prefix=self.destination_prefix,
        )
        self._walk_stats = WalkStats()  # counters of THIS execution (an operator object may be reused)
        items = self._items(outputs)
        first = next(items, None)
        incremental = uses_incremental_walk(self)
        if first is None:  # allow_empty, or nothing new since the earlier runs
            if incremental:
                log_walk(self, self._walk_stats)
                return {**empty_job_xcom(job_id), **skip_counts(self._walk_stats)}
            self.log.info("No file to convert (allow_empty=True); nothing submitted")
            return empty_job_xcom(job_id)
        stream = itertools.chain([first], items)
        if self.check_data_sources:
            check_data_sources(
                hook,
                source_prefix=self.source_prefix,
                uris=[*outputs.sources, *(dest for dest, _ in outputs.overrides.values() if dest)],
                destination_prefix=self.destination_prefix,
            )
        # Pushed BEFORE submitting and waiting: a failed task still says which job it made.
        context["ti"].xcom_push(key="job_id", value=job_id)
        self._mathpix_submitted = {"job_id": job_id}  # for on_kill, from the first call on
        if self.max_files_per_job is not None:
            return self._execute_parts(context, hook, job_id, stream, job_options, outputs)
        result = self._submit(hook, stream, job_id, job_options)
        file_count = int(result.get("file_count") or 0)
        self.log.info("Submitted Mathpix job %s with %s files", job_id, f"{file_count:,}")
        counts = push_skip_counts(self, context, self._walk_stats)  # before a deferral leaves execute()
        if not self.wait_for_completion:
            return {**empty_job_xcom(job_id), "status": "submitted", "file_count": file_count, **counts}
        event = self._wait_job(hook, job_id, time.time() + self.timeout)
        return {**self._finish(hook, event, outputs), **counts}

    def _submit(
        self, hook: MathpixHook, items: Iterator[dict[str, Any]], job_id: str, job_options: dict[str, Any]
    ) -> dict[str, Any]:
        """Submit ``items`` into ``job_id``: by URI in chunks, or uploaded from a local folder."""
        if local_path_of(self.source_prefix) is not None:
            return upload_job(hook, items, job_id=job_id, concurrency=self.upload_concurrency, **job_options)
        # Built by contract.items (see _items): the hook sends them without checking them again.
        return hook.submit_job(
            BuiltItems(items), job_id=job_id, max_items_per_request=self.max_items_per_request, **job_options
        )

    def _job_id(self, context: Context, job_options: Mapping[str, Any]) -> str:
        """The given ``job_id``, else one per task instance and output-changing options (ids.py)."""
        if self.job_id:
            return str(self.job_id)
        fingerprinted = {**job_options, "destination_prefix": self.destination_prefix}
        return job_id_for(*ids_from_context(context), options=fingerprinted)

    def _wait_job(self, hook: MathpixHook, job_id: str, deadline: float, **resume: Any) -> WaitEvent:
        """Wait for ONE job in the worker, or defer to its trigger (``resume``: a split job's place)."""
        trigger = lambda: MathpixJobTrigger(  # noqa: E731
            job_id=job_id, conn_id=self.mathpix_conn_id, poll_interval=self.poll_interval, end_time=deadline
        )
        return wait_or_defer(
            self,
            lambda: check_job(hook, job_id, self.log),
            ids={"job_id": job_id},
            trigger=trigger,
            poll_interval=self.poll_interval,
            end_time=deadline,
            resume=resume or None,
        )

    # ------------------------------------------------------------------ split jobs

    def _execute_parts(
        self,
        context: Context,
        hook: MathpixHook,
        job_id: str,
        stream: Iterator[dict[str, Any]],
        job_options: dict[str, Any],
        outputs: JobOutputs,
    ) -> dict[str, Any]:
        """Submit ``stream`` as jobs of at most ``max_files_per_job`` files; push their ids, then wait."""
        part_ids, file_count = submit_parts(
            stream,
            job_id,
            self.max_files_per_job or 1,
            lambda part, part_id: self._submit(hook, part, part_id, job_options),
        )
        self.log.info(
            "Submitted %s files as %d Mathpix jobs (%s .. %s, at most %s files each)",
            f"{file_count:,}",
            len(part_ids),
            part_ids[0],
            part_ids[-1],
            f"{self.max_files_per_job:,}",
        )
        context["ti"].xcom_push(key="job_ids", value=listed_job_ids(part_ids))
        context["ti"].xcom_push(key="job_count", value=len(part_ids))
        counts = push_skip_counts(self, context, self._walk_stats)
        if not self.wait_for_completion:
            return {
                **empty_job_xcom(job_id),
                "status": "submitted",
                "file_count": file_count,
                **parts_xcom(part_ids),
                **counts,
            }
        end_time = time.time() + self.timeout
        return {**self._wait_parts(hook, job_id, len(part_ids), 1, end_time, outputs), **counts}

    def _wait_parts(
        self,
        hook: MathpixHook,
        job_id: str,
        part_count: int,
        start: int,
        end_time: float,
        outputs: JobOutputs,
    ) -> dict[str, Any]:
        """Wait for parts ``start..part_count`` (one trigger at a time), then report all as one."""

        def wait(part_id: str, index: int) -> WaitEvent:
            return self._wait_job(
                hook, part_id, end_time, part=index, part_count=part_count, end_time=end_time
            )

        xcom = wait_parts(
            hook, job_id, part_count, start, wait, outputs=outputs, finish=self._job_finish(), log=self.log
        )
        return {**xcom, **parts_xcom(part_job_ids(job_id, part_count))}

    def _items(self, outputs: JobOutputs) -> Iterator[dict[str, Any]]:
        """The job's items, built once: the ``files`` list whole, a walk as it streams."""
        if self.files is not None:
            items = self._build_file_items()
            outputs.sources = [item["source_uri"] for item in items]
            outputs.overrides = destination_overrides(items, self.destination_prefix)
            return iter(items)
        if local_path_of(self.source_prefix) is not None:
            # Uploaded, not fetched by Mathpix: the walk's local paths are no source URIs.
            walk = incremental_items(self, self._walk_stats)
            return (with_destination(item, self.destination_prefix) for item in walk)
        if uses_incremental_walk(self):
            walked: Iterable[Mapping[str, Any]] = incremental_items(self, self._walk_stats)
        else:
            walked = prefix_walk.iter_source_items(
                self.source_prefix,  # type: ignore[arg-type]
                conn_id=self.source_conn_id,
                pattern=self.pattern,
                suffixes=self.suffixes,
                on_empty="succeed" if self.allow_empty else "fail",
            )
        return build_items(
            walked,
            destination_prefix=self.destination_prefix,
            needs_destination=self.image_output_mode == "local",
            seen=CompactDigests(),  # ~16 bytes per walked custom_id, not a set's ~90
        )

    @validation_errors()
    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | WaitEvent,
        part: int | None = None,
        part_count: int | None = None,
        end_time: float | None = None,
    ) -> dict[str, Any]:
        """Resume after the trigger: manifest, policy, XCom -- or a clear failure.

        For a job split by ``max_files_per_job``, ``part``/``part_count``/``end_time``
        (from the deferral) say which part finished; the remaining ones are waited on.
        """
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        outputs = JobOutputs(
            exts=output_exts(self.conversion_formats),
            api_base=hook.base_url,
            destination_prefix=self.destination_prefix,
        )
        if self.files is not None:
            self.files = read_once(self.files)  # rendered afresh on resume
            # Checked before the deferral: only the items with their own destinations are read.
            outputs.overrides = entry_overrides(self.files, self.destination_prefix)
        counts = pulled_skip_counts(self, context)
        if self.max_files_per_job is None:
            return {**self._finish(hook, event, outputs), **counts}
        finished = finished_as(event, JobFinished)
        job_id = self._job_id(context, self._validate(at_parse_time=False))
        part, part_count = resume_point(
            job_id,
            finished,
            part,
            part_count,
            lambda: context["ti"].xcom_pull(task_ids=self.task_id, key="job_count"),
        )
        deadline = end_time if end_time is not None else time.time() + self.timeout
        return {**self._wait_parts(hook, job_id, part_count, part + 1, deadline, outputs), **counts}

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage datasets: the prefix (or the ``files`` sources) in, the destinations out.

        ``None`` without the OpenLineage provider. A prefix is one dataset and a long
        ``files`` list is bounded (collapsed to folders), so lineage of a 200,000-file job
        is the data flow, not a 200,000-node fan-in.
        """
        return job_lineage(
            source_prefix=self.source_prefix, files=self.files, destination_prefix=self.destination_prefix
        )

    def _job_finish(self) -> JobFinish:
        return JobFinish(
            manifest_path=self.manifest_path,
            manifest_conn_id=self.manifest_conn_id,
            max_error_ratio=self.max_error_ratio,
            fail_on_file_errors=self.fail_on_file_errors,
            recorder=recorder_for(self),
            listing_timeout=self.listing_timeout,
            error_reasons=self.manifest_error_reasons,
        )

    def _finish(
        self, hook: MathpixHook, event: Mapping[str, Any] | WaitEvent, outputs: JobOutputs
    ) -> dict[str, Any]:
        return finish_job(hook, event, outputs=outputs, finish=self._job_finish(), log=self.log)


#: Arguments of the operator that must not be smuggled in through ``options``.
_EXPLICIT_OPTIONS = COMMON_OPTION_KEYS | {"job_id", "files"}
