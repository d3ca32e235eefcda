"""Sensors that gate downstream tasks on a Mathpix job or file.

Three ways to wait, one outcome: ``mode="poke"`` holds a worker slot and polls,
``mode="reschedule"`` frees the slot between pokes, ``deferrable=True`` hands the wait
to ``MathpixJobTrigger``/``MathpixFileTrigger`` in the triggerer. ``timeout`` is
honoured in all three (a deferred sensor that runs out of time fails with
``AirflowSensorTimeout`` like any sensor) and ``soft_fail`` turns failures into a skip.
The job sensor applies the same partial-success policy and writes the same manifest
and XCom as ``MathpixSubmitJobOperator``.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix._compat import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)
from airflow_provider_mathpix.common.failures import finished_as, read_event
from airflow_provider_mathpix.common.job_report import (
    ERROR_REASONS_ALL,
    JobFinish,
    checked_error_reasons,
    finish_job,
)
from airflow_provider_mathpix.common.listing import LISTING_TIMEOUT
from airflow_provider_mathpix.common.outputs import JobOutputs, file_xcom, output_exts
from airflow_provider_mathpix.common.policy import validate_max_error_ratio
from airflow_provider_mathpix.common.validation import duration_seconds, has_template
from airflow_provider_mathpix.common.waiting import check_file, check_job, check_once, wait_or_defer
from airflow_provider_mathpix.contract.events import FileFinished, TimedOut, WaitEvent
from airflow_provider_mathpix.contract.formats import conversion_format_of, validate_conversion_formats
from airflow_provider_mathpix.contract.status import ALWAYS_READY
from airflow_provider_mathpix.exceptions import MathpixValidationError, validation_errors
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.ledger import LedgerRecorder, ledger_folder
from airflow_provider_mathpix.triggers.mathpix import MathpixFileTrigger, MathpixJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath


class _MathpixSensor(BaseSensorOperator):
    """What both sensors share: the deferrable path and soft_fail-aware finishing."""

    @validation_errors()
    def __init__(
        self,
        *,
        mathpix_conn_id: str = MathpixHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 30)
        # Finite, checked before Airflow's own handling (which overflows on inf): the
        # deferrable path turns them into an absolute deadline and a poll interval.
        kwargs["poke_interval"] = duration_seconds(kwargs["poke_interval"], "poke_interval")
        if "timeout" in kwargs:
            kwargs["timeout"] = duration_seconds(kwargs["timeout"], "timeout", allow_zero=True)
        super().__init__(**kwargs)
        self.mathpix_conn_id = mathpix_conn_id
        self.deferrable = deferrable

    @abstractmethod
    def _ids(self) -> dict[str, Any]:
        """The ids this sensor waits on, for log lines and XCom."""

    @abstractmethod
    def _check(self, hook: MathpixHook) -> WaitEvent | None:
        """One status check: the event when the wait is over, else None."""

    @abstractmethod
    def _trigger(self, end_time: float) -> MathpixJobTrigger | MathpixFileTrigger:
        """The trigger to defer to, carrying the absolute deadline."""

    @abstractmethod
    def _result(self, hook: MathpixHook, event: WaitEvent) -> dict[str, Any]:
        """Turn the final event into the XCom value (the policy may raise instead)."""

    @validation_errors()
    def poke(self, context: Context) -> PokeReturnValue:
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        event = check_once(lambda: self._check(hook), self._ids(), self.log)
        if event is None:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._complete(hook, event))

    @validation_errors()
    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        end_time = time.time() + self.timeout
        # Checks once before deferring: a finished job needs no trigger.
        event = wait_or_defer(
            self,
            lambda: self._check(hook),
            ids=self._ids(),
            trigger=lambda: self._trigger(end_time),
            poll_interval=self.poke_interval,
            end_time=end_time,
        )
        return self._complete(hook, event)

    @validation_errors()
    def execute_complete(self, context: Context, event: dict[str, Any] | WaitEvent) -> Any:
        """Resume from the trigger; a ``timeout`` event is a sensor timeout."""
        typed = read_event(event)
        if isinstance(typed, TimedOut):
            raise AirflowSensorTimeout(
                f"Sensor has timed out waiting for Mathpix ({typed.message})"
            )  # soft_fail turns this into a skip (BaseSensorOperator.resume_execution)
        return self._complete(MathpixHook(mathpix_conn_id=self.mathpix_conn_id), typed)

    def _complete(self, hook: MathpixHook, event: WaitEvent) -> dict[str, Any]:
        """Success, or a failure that ``soft_fail`` turns into a skip in every mode."""
        try:
            return self._result(hook, event)
        except AirflowSensorTimeout:
            raise
        except Exception as exc:
            if self.soft_fail:
                raise AirflowSkipException(f"Skipping due to soft_fail: {exc}") from exc
            raise


class MathpixJobSensor(_MathpixSensor):
    """Wait until a Mathpix job is complete, then apply the partial-success policy.

    On completion it streams the per-file results into the job's manifest and returns
    (XCom) the job summary of ``design.md``: counters, ``manifest_uri``, up to 10 errors.

    :param job_id: the job to watch (templated; e.g. ``submit.output["job_id"]``).
    :param max_error_ratio: fraction of errored files tolerated (default 0).
    :param fail_on_file_errors: False turns every file error into a warning.
    :param manifest_path: where to write the manifest (default under AIRFLOW_HOME, per job).
    :param write_manifest: False skips the manifest (XCom still carries an errors sample).
    :param manifest_error_reasons: ``"all"`` (default) or ``"sample"``, as for
        ``MathpixSubmitJobOperator``: ``"sample"`` writes the manifest at listing speed,
        errored records without their reason (``"error_fetched": false``).
    :param conversion_formats, destination_prefix: only used to name outputs in the manifest.
    :param ledger_path, ledger_conn_id: record the job's completed documents in this
        conversion ledger (a job submitted with ``skip_converted=True`` and
        ``wait_for_completion=False`` is recorded by whoever sees it finish).
    :param listing_timeout: seconds to wait for the job's file listing to catch up with its
        counters (Mathpix may list files after counting them done); past it the task fails
        naming the shortfall instead of succeeding short.
    """

    template_fields: Sequence[str] = (
        "job_id",
        "manifest_path",
        "destination_prefix",
        "ledger_path",
        "ledger_conn_id",
        "manifest_conn_id",
        "manifest_error_reasons",
        "mathpix_conn_id",
    )
    ui_color = "#e6f1f2"

    @validation_errors()
    def __init__(
        self,
        *,
        job_id: str,
        max_error_ratio: float = 0.0,
        fail_on_file_errors: bool = True,
        manifest_path: str | ObjectStoragePath | None = None,
        manifest_conn_id: str | None = None,
        write_manifest: bool = True,
        manifest_error_reasons: str = ERROR_REASONS_ALL,
        conversion_formats: Mapping[str, bool] | Sequence[str] | None = None,
        destination_prefix: str | None = None,
        ledger_path: str | ObjectStoragePath | None = None,
        ledger_conn_id: str | None = None,
        listing_timeout: float = LISTING_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _require_id(job_id, "job_id")
        if ledger_path is not None and not write_manifest:
            raise MathpixValidationError(
                "ledger_path needs write_manifest=True (the ledger is fed by the manifest)"
            )
        self.ledger_path = ledger_path
        self.ledger_conn_id = ledger_conn_id
        self.listing_timeout = duration_seconds(listing_timeout, "listing_timeout", allow_zero=True)
        self.job_id = job_id
        self.max_error_ratio = validate_max_error_ratio(max_error_ratio)
        self.fail_on_file_errors = fail_on_file_errors
        self.manifest_path = manifest_path
        self.manifest_conn_id = manifest_conn_id
        self.write_manifest = write_manifest
        self.manifest_error_reasons = checked_error_reasons(manifest_error_reasons, at_parse_time=True)
        self.conversion_formats = (
            validate_conversion_formats(conversion_formats) if conversion_formats is not None else None
        )
        self.destination_prefix = destination_prefix

    @validation_errors()
    def execute(self, context: Context) -> Any:
        # Rendered by now: a templated value is judged before the first request.
        checked_error_reasons(self.manifest_error_reasons, at_parse_time=False)
        return super().execute(context)

    def _ids(self) -> dict[str, Any]:
        return {"job_id": self.job_id}

    def _check(self, hook: MathpixHook) -> WaitEvent | None:
        return check_job(hook, self.job_id, self.log)

    def _trigger(self, end_time: float) -> MathpixJobTrigger:
        return MathpixJobTrigger(
            job_id=self.job_id,
            conn_id=self.mathpix_conn_id,
            poll_interval=self.poke_interval,
            end_time=end_time,
        )

    def _result(self, hook: MathpixHook, event: WaitEvent) -> dict[str, Any]:
        return finish_job(
            hook,
            event,
            outputs=JobOutputs(
                exts=output_exts(self.conversion_formats),
                api_base=hook.base_url,
                destination_prefix=self.destination_prefix,
            ),
            finish=JobFinish(
                manifest_path=self.manifest_path,
                manifest_conn_id=self.manifest_conn_id,
                write_manifest=self.write_manifest,
                max_error_ratio=self.max_error_ratio,
                fail_on_file_errors=self.fail_on_file_errors,
                recorder=(
                    LedgerRecorder(ledger_folder(self.ledger_path, self.ledger_conn_id), self.log)
                    if self.ledger_path
                    else None
                ),
                listing_timeout=self.listing_timeout,
                error_reasons=self.manifest_error_reasons,
            ),
            log=self.log,
        )


class MathpixFileSensor(_MathpixSensor):
    """Wait until a Mathpix file (and optionally some conversion formats) is ready.

    :param file_id: the file to watch (templated).
    :param formats: extensions that must be ready too (``["docx"]``); formats can finish
        after the file's own status.
    :param destination_uri, destination_basename: only used to name outputs in XCom.

    A file that ends in ``error`` fails the sensor with ``MathpixFileFailed`` carrying the
    API's code (or skips it with ``soft_fail``).
    """

    template_fields: Sequence[str] = (
        "file_id",
        "formats",
        "destination_uri",
        "destination_basename",
        "mathpix_conn_id",
    )
    ui_color = "#e6f1f2"

    @validation_errors()
    def __init__(
        self,
        *,
        file_id: str,
        formats: Sequence[str] | None = None,
        destination_uri: str | None = None,
        destination_basename: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _require_id(file_id, "file_id")
        self.file_id = file_id
        self.formats = list(formats) if formats else None
        if self.formats and not has_template(self.formats):
            requested = [conversion_format_of(f) for f in self.formats if f not in ALWAYS_READY]
            if requested:
                validate_conversion_formats(requested, "formats")
        self.destination_uri = destination_uri
        self.destination_basename = destination_basename

    def _ids(self) -> dict[str, Any]:
        return {"file_id": self.file_id}

    def _check(self, hook: MathpixHook) -> WaitEvent | None:
        return check_file(hook, self.file_id, self.formats, self.log)

    def _trigger(self, end_time: float) -> MathpixFileTrigger:
        return MathpixFileTrigger(
            file_id=self.file_id,
            conn_id=self.mathpix_conn_id,
            poll_interval=self.poke_interval,
            end_time=end_time,
            formats=self.formats,
        )

    def _result(self, hook: MathpixHook, event: WaitEvent) -> dict[str, Any]:
        finished_as(event, FileFinished)
        return file_xcom(
            self.file_id,
            hook.get_file(self.file_id),
            exts=output_exts(self.formats),
            api_base=hook.base_url,
            destination_uri=self.destination_uri,
            destination_basename=self.destination_basename,
        )


def _require_id(value: object, field: str) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MathpixValidationError(f"{field} is required: the id of what to wait for")
