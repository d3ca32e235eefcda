"""``MathpixSubmitFileOperator``: convert one document, from a URI or a local/remote file.

The operator is thin (``design.md``): validate early, submit through the hook with an
Idempotency-Key derived from the task instance, push the ``file_id`` to XCom at once,
then wait in-process, defer to ``MathpixFileTrigger`` or return. Download and delete
operators live in ``operators/outputs.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix._compat import BaseOperator, ObjectStoragePath, conf
from airflow_provider_mathpix.common.failures import finished_as
from airflow_provider_mathpix.common.outputs import file_xcom, output_exts
from airflow_provider_mathpix.common.validation import (
    is_template,
    merge_named_options,
    validate_wait_settings,
)
from airflow_provider_mathpix.common.waiting import ReportsWorkOnKill, check_file, wait_or_defer
from airflow_provider_mathpix.contract.events import FileFinished, WaitEvent
from airflow_provider_mathpix.contract.ids import custom_id_from_uri, validate_id
from airflow_provider_mathpix.contract.options import COMMON_OPTION_KEYS, validate_options
from airflow_provider_mathpix.contract.task_ids import idempotency_key_for, ids_from_context
from airflow_provider_mathpix.contract.uris import classify_uri
from airflow_provider_mathpix.exceptions import (
    MathpixFileFailed,
    MathpixValidationError,
    MathpixWaitTimeout,
    validation_errors,
)
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.lineage import operator_lineage
from airflow_provider_mathpix.triggers.mathpix import MathpixFileTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

SourcePath = str | os.PathLike[str] | ObjectStoragePath

__all__ = [
    "MathpixFileFailed",
    "MathpixSubmitFileOperator",
    "MathpixWaitTimeout",
]


class MathpixSubmitFileOperator(ReportsWorkOnKill, BaseOperator):
    """Convert one document with the Mathpix Files API.

    Give exactly one of ``source_uri`` (``s3://``, ``gs://``, Azure Blob or public
    ``https://`` URL that Mathpix fetches) or ``source_path`` (a local path or an
    ``ObjectStoragePath``, streamed to ``POST /files/v1``).

    :param conversion_formats: extra outputs, e.g. ``["docx", "md"]`` or ``{"docx": True}``;
        ``mmd`` is always produced.
    :param destination_uri: bucket prefix where Mathpix writes the outputs.
    :param destination_basename: output file name (default: the file_id).
    :param image_output_mode: ``"local"`` writes image crops beside the outputs.
    :param options: any other request option (OCR options such as ``rm_spaces``,
        ``page_ranges``, ``metadata``, ...), passed through after validation.
    :param job_id: optional job to file this document under (with ``custom_id``).
    :param custom_id: your id for the file; needs ``job_id``. Default (with a job_id):
        derived from the source.
    :param idempotency_key: override of the key derived from dag_id/run_id/task_id/map_index.
    :param callback_url: HTTPS endpoint for Mathpix webhooks (``callback_headers``,
        ``callback_events`` as in the API).
    :param source_conn_id: storage connection for a ``source_path`` given as a URI string.
    :param wait_for_completion: wait until the file (and requested formats) are ready.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param poll_interval: seconds between status polls.
    :param timeout: seconds to wait before failing with ``MathpixWaitTimeout``.
    """

    template_fields: Sequence[str] = (
        "source_uri",
        "source_path",
        "conversion_formats",
        "destination_uri",
        "destination_basename",
        "options",
        "job_id",
        "custom_id",
        "idempotency_key",
        "callback_url",
        "source_conn_id",
        "mathpix_conn_id",
    )
    template_fields_renderers = {"options": "json", "conversion_formats": "json"}
    ui_color = "#d6e9f8"
    ui_fgcolor = "#1b3a57"

    @validation_errors()
    def __init__(
        self,
        *,
        source_uri: str | None = None,
        source_path: SourcePath | None = None,
        conversion_formats: Mapping[str, bool] | Sequence[str] | None = None,
        destination_uri: str | None = None,
        destination_basename: str | None = None,
        image_output_mode: str | None = None,
        options: Mapping[str, Any] | None = None,
        job_id: str | None = None,
        custom_id: str | None = None,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
        callback_headers: Mapping[str, str] | None = None,
        callback_events: Sequence[str] | None = None,
        source_conn_id: str | None = None,
        mathpix_conn_id: str = MathpixHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 5.0,
        timeout: float = 3 * 60 * 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_uri = source_uri
        self.source_path = source_path
        self.conversion_formats = conversion_formats
        self.destination_uri = destination_uri
        self.destination_basename = destination_basename
        self.image_output_mode = image_output_mode
        self.options = dict(options) if options else {}
        self.job_id = job_id
        self.custom_id = custom_id
        self.idempotency_key = idempotency_key
        self.callback_url = callback_url
        self.callback_headers = dict(callback_headers) if callback_headers else None
        self.callback_events = list(callback_events) if callback_events else None
        self.source_conn_id = source_conn_id
        self.mathpix_conn_id = mathpix_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval, self.timeout = validate_wait_settings(poll_interval, timeout)
        # Parse-time checks: whatever is not a template is checked now, the rest in execute().
        self._validate(at_parse_time=True)

    # ------------------------------------------------------------------ validation

    def _validate(self, *, at_parse_time: bool) -> dict[str, Any]:
        """Check every argument before any request; return the request options.

        At parse time a templated value (``"{{ ... }}"``) is skipped: it is checked after
        rendering, still before any request.
        """
        has_uri = self.source_uri is not None and self.source_uri != ""
        has_path = self.source_path is not None and self.source_path != ""
        if has_uri == has_path:
            raise MathpixValidationError(
                f"{self.task_id}: give exactly one of source_uri or source_path "
                f"(got {'both' if has_uri else 'neither'})"
            )
        if has_uri and not is_template(self.source_uri, at_parse_time):
            classify_uri(self.source_uri, "source_uri")
        if has_path and not is_template(self.source_path, at_parse_time):
            _check_source_path(self.source_path)
        for name in ("job_id", "custom_id", "idempotency_key"):
            value = getattr(self, name)
            if value is not None and not is_template(value, at_parse_time):
                validate_id(value, name)
        if self.custom_id is not None and self.job_id is None:
            raise MathpixValidationError("custom_id needs job_id: a custom_id names a file within a job")
        options = self._request_options()
        if any(is_template(v, at_parse_time) for v in _flatten(options)):
            return options
        return validate_options(options, "", allow_item_keys=True)

    def _request_options(self) -> dict[str, Any]:
        return merge_named_options(self.options, self, _NAMED_OPTIONS, _EXPLICIT_OPTIONS)

    # ------------------------------------------------------------------ execution

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage datasets: the source (URI or uploaded path) in, ``destination_uri`` out.

        ``None`` without the OpenLineage provider. Outputs left in Mathpix storage (no
        ``destination_uri``) are not a dataset of the platform, so none is reported.
        """
        source = self.source_uri if self.source_uri is not None else self.source_path
        return operator_lineage(
            inputs=[source] if source is not None else [],
            outputs=[self.destination_uri] if self.destination_uri else [],
        )

    @validation_errors()
    def execute(self, context: Context) -> dict[str, Any]:
        options = self._validate(at_parse_time=False)
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        dag_id, run_id, task_id, map_index = ids_from_context(context)
        source_identity = self.source_uri or str(self.source_path)
        key = self.idempotency_key or idempotency_key_for(
            dag_id, run_id, task_id, map_index, source=source_identity, options=options
        )
        if self.job_id is not None:
            options["job_id"] = self.job_id
            options["custom_id"] = self.custom_id or custom_id_from_uri(source_identity)
        file_id = self._submit(hook, options, key)
        context["ti"].xcom_push(key="file_id", value=file_id)
        self._mathpix_submitted = {"file_id": file_id}
        self.log.info("Submitted to Mathpix: file_id %s (Idempotency-Key %s)", file_id, key)
        if not self.wait_for_completion:
            return self._xcom(hook, file_id, None, status="submitted")
        ids_ = {"file_id": file_id}
        formats = self._formats()
        check = lambda: check_file(hook, file_id, formats, self.log)  # noqa: E731
        end_time = time.time() + self.timeout
        trigger = lambda: MathpixFileTrigger(  # noqa: E731
            file_id=file_id,
            conn_id=self.mathpix_conn_id,
            poll_interval=self.poll_interval,
            end_time=end_time,
            formats=formats,
        )
        event = wait_or_defer(
            self, check, ids=ids_, trigger=trigger, poll_interval=self.poll_interval, end_time=end_time
        )
        return self.execute_complete(context, event)

    def _submit(self, hook: MathpixHook, options: dict[str, Any], key: str) -> str:
        if self.source_uri:
            return hook.submit_file(self.source_uri, idempotency_key=key, **options)
        path = _as_storage_path(self.source_path, self.source_conn_id)  # type: ignore[arg-type]
        options.setdefault("filename", path.name)
        with path.open("rb") as stream:
            return hook.upload_file(stream, idempotency_key=key, **options)

    def _formats(self) -> list[str] | None:
        exts = [e for e in output_exts(self.conversion_formats) if e != "mmd"]
        return exts or None

    @validation_errors()
    def execute_complete(self, context: Context, event: dict[str, Any] | WaitEvent) -> dict[str, Any]:
        """Resume after the trigger (or the in-process wait): success, or a clear failure."""
        finished = finished_as(event, FileFinished)
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        record = hook.get_file(finished.file_id)
        self.log.info("Mathpix file %s is ready (%s pages)", finished.file_id, record.get("num_pages"))
        return self._xcom(hook, finished.file_id, record)

    def _xcom(
        self, hook: MathpixHook, file_id: str, record: Mapping[str, Any] | None, status: str | None = None
    ) -> dict[str, Any]:
        return file_xcom(
            file_id,
            record,
            exts=output_exts(self.conversion_formats),
            api_base=hook.base_url,
            destination_uri=self.destination_uri,
            destination_basename=self.destination_basename,
            status=status,
        )


#: The operator's own arguments that go into the request as they are.
_NAMED_OPTIONS = (COMMON_OPTION_KEYS - {"metadata"}) | {"destination_uri", "destination_basename"}
#: Arguments of the operator that must not be smuggled in through ``options``.
_EXPLICIT_OPTIONS = _NAMED_OPTIONS | {"job_id", "custom_id", "source_uri"}


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [v for item in value.values() for v in _flatten(item)]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _check_source_path(source_path: Any) -> None:
    if isinstance(source_path, ObjectStoragePath):
        return
    if not isinstance(source_path, (str, os.PathLike)):
        raise MathpixValidationError(
            f"source_path must be a local path or an ObjectStoragePath, got {type(source_path).__name__}"
        )
    text = os.fspath(source_path)
    if "://" in text:
        return  # a storage URI: opened through ObjectStoragePath at run time
    if not os.path.isabs(text):
        raise MathpixValidationError(f"source_path {text!r} must be an absolute path (workers' cwd varies)")


def _as_storage_path(source_path: SourcePath, conn_id: str | None) -> ObjectStoragePath:
    if isinstance(source_path, ObjectStoragePath):
        return source_path
    text = os.fspath(source_path)
    if "://" not in text:
        if not os.path.isfile(text):
            raise MathpixValidationError(f"source_path {text!r} is not a readable file")
        text = f"file://{text}"
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)
