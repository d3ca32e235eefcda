"""``MathpixImageBatchOperator``: OCR many images with ``/v3/batch`` and wait for every result.

Same shape as the Files API operators: validate before any request, submit through
the hook, push the ``batch_id`` to XCom before waiting, then wait in-process, defer to
``MathpixImageBatchTrigger`` or return. XCom (``design.md``): ``{"batch_id", "keys",
"results"}`` for up to 100 keys; beyond that the results are streamed as JSON Lines
(``{"key", "result"}``) to ``results_path`` and XCom carries ``results_uri`` instead.

Unlike the Files API, ``/v3/batch`` has no idempotency key: a retried task submits a
new batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix._compat import BaseOperator, conf
from airflow_provider_mathpix.common.failures import finished_as
from airflow_provider_mathpix.common.policy import (
    ERRORS_SAMPLE_SIZE,
    enforce_policy,
    validate_max_error_ratio,
)
from airflow_provider_mathpix.common.validation import (
    FastTemplatingMixin,
    has_template,
    validate_wait_settings,
)
from airflow_provider_mathpix.common.waiting import ReportsWorkOnKill, wait_or_defer
from airflow_provider_mathpix.contract.events import BatchFinished, WaitEvent
from airflow_provider_mathpix.contract.requests_images import submit_image_batch_request
from airflow_provider_mathpix.contract.status import batch_event
from airflow_provider_mathpix.exceptions import MathpixValidationError, validation_errors
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.manifests import manifest_uri, resolve_manifest_path, write_manifest
from airflow_provider_mathpix.triggers.mathpix import MathpixImageBatchTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

#: Up to this many keys, results travel in XCom; beyond, in a JSON Lines file.
MAX_INLINE_KEYS = 100


class MathpixImageBatchOperator(FastTemplatingMixin, ReportsWorkOnKill, BaseOperator):
    """OCR a batch of images (equations, handwriting, tables) with ``POST /v3/batch``.

    :param urls: key -> image URL, or key -> ``{"url", "formats", "ocr_behavior", ...}``.
    :param formats: e.g. ``["latex_simplified"]`` or ``["text", "data"]``.
    :param options: other batch options (``ocr_behavior``, ``data_options``, ``metadata``,
        ``alphabets_allowed``, ``confidence_threshold``, ``callback``).
    :param max_error_ratio: fraction of images whose result is an error tolerated (default 0).
    :param fail_on_file_errors: False turns every image error into a warning.
    :param results_path: where results go when there are more than 100 keys (URI, local
        path or ObjectStoragePath; default under AIRFLOW_HOME).
    :param poll_interval: default: about one second per five images, as Mathpix advises.
    """

    template_fields: Sequence[str] = (
        "urls",
        "formats",
        "options",
        "results_path",
        "results_conn_id",
        "mathpix_conn_id",
    )
    template_fields_renderers = {"urls": "json", "options": "json"}
    ui_color = "#dcecf9"
    ui_fgcolor = "#1b3a57"

    @validation_errors()
    def __init__(
        self,
        *,
        urls: Mapping[str, Any] | Any,
        formats: Sequence[str] | None = None,
        options: Mapping[str, Any] | None = None,
        max_error_ratio: float = 0.0,
        fail_on_file_errors: bool = True,
        results_path: str | ObjectStoragePath | None = None,
        results_conn_id: str | None = None,
        mathpix_conn_id: str = MathpixHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | None = None,
        timeout: float = 60 * 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.formats = list(formats) if formats else None
        self.options = dict(options) if options else {}
        self.max_error_ratio = validate_max_error_ratio(max_error_ratio)
        self.fail_on_file_errors = fail_on_file_errors
        self.results_path = results_path
        self.results_conn_id = results_conn_id
        self.mathpix_conn_id = mathpix_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self._poll_interval_given = poll_interval
        self.poll_interval, self.timeout = validate_wait_settings(poll_interval or 1.0, timeout)
        if "urls" in self.options or "formats" in self.options:
            raise MathpixValidationError("options must not set urls/formats; pass them as arguments")
        if not has_template(urls) and not has_template(self.options):
            submit_image_batch_request(urls, **self._request_options())  # parse-time check

    def _request_options(self) -> dict[str, Any]:
        return {**self.options, **({"formats": self.formats} if self.formats else {})}

    @validation_errors()
    def execute(self, context: Context) -> dict[str, Any]:
        if not isinstance(self.urls, Mapping) or not self.urls:
            raise MathpixValidationError("urls must be a non-empty mapping of key -> image URL")
        submit_image_batch_request(self.urls, **self._request_options())  # before any request
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        batch_id = hook.submit_image_batch(self.urls, **self._request_options())
        context["ti"].xcom_push(key="batch_id", value=batch_id)
        self._mathpix_submitted = {"batch_id": batch_id}
        if not self.wait_for_completion:
            return {"batch_id": batch_id, "keys": self._inline_keys(list(self.urls)), "results": None}
        interval = self._poll_interval_given or max(1.0, len(self.urls) / 5)
        ids = {"batch_id": batch_id}

        def check() -> WaitEvent | None:
            return batch_event(batch_id, hook.get_image_batch(batch_id))

        end_time = time.time() + self.timeout
        trigger = lambda: MathpixImageBatchTrigger(  # noqa: E731
            batch_id=batch_id, conn_id=self.mathpix_conn_id, poll_interval=interval, end_time=end_time
        )
        event = wait_or_defer(
            self, check, ids=ids, trigger=trigger, poll_interval=interval, end_time=end_time
        )
        return self.execute_complete(context, event)

    @validation_errors()
    def execute_complete(self, context: Context, event: dict[str, Any] | WaitEvent) -> dict[str, Any]:
        """Resume: read the results, apply the error policy, build the XCom."""
        finished = finished_as(event, BatchFinished)
        batch_id = finished.batch_id
        record = MathpixHook(mathpix_conn_id=self.mathpix_conn_id).get_image_batch(batch_id)
        keys = list(record.get("keys") or ())
        results = record.get("results") or {}
        errors = [
            {"custom_id": key, "file_id": str(batch_id), "error": str(results[key].get("error"))[:300]}
            for key in keys
            if isinstance(results.get(key), Mapping) and results[key].get("error")
        ]
        xcom: dict[str, Any] = {"batch_id": batch_id, "keys": self._inline_keys(keys)}
        if len(keys) <= MAX_INLINE_KEYS:
            xcom["results"] = {key: results.get(key) for key in keys}
        else:
            path = resolve_manifest_path(
                self.results_path, job_id=f"image-batch-{batch_id}", conn_id=self.results_conn_id
            )
            write_manifest(path, _result_lines(keys, results))
            xcom["results_uri"] = manifest_uri(path)
        return enforce_policy(
            xcom,
            subject=f"image batch {batch_id}",
            noun="images",
            file_count=len(keys),
            files_errored=len(errors),
            errors_sample=errors[:ERRORS_SAMPLE_SIZE],
            max_error_ratio=self.max_error_ratio,
            fail_on_file_errors=self.fail_on_file_errors,
            log=self.log,
        )

    @staticmethod
    def _inline_keys(keys: list[str]) -> list[str] | None:
        return keys if len(keys) <= MAX_INLINE_KEYS else None


def _result_lines(keys: list[str], results: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for key in keys:
        yield {"key": key, "result": results.get(key)}
