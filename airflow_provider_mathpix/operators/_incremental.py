"""The job operator's incremental mode: only documents no earlier run converted.

Kept out of ``jobs.py`` so the operator stays thin: validation of the arguments, the
walk that consults the ledger, and the recorder that commits the job's segment once its
results are known. See :mod:`airflow_provider_mathpix.ledger` for where the truth lives.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix.common.validation import is_template
from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.incremental import WalkStats, iter_incremental_items, to_utc
from airflow_provider_mathpix.ledger import LedgerRecorder, ledger_folder, read_converted
from airflow_provider_mathpix.local_source import iter_local_items, local_path_of

if TYPE_CHECKING:
    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator

#: XCom keys (and return-value keys) of the incremental counters.
SKIPPED_KEY = "files_skipped"
OUTSIDE_WINDOW_KEY = "files_outside_window"


def uses_incremental_walk(op: MathpixSubmitJobOperator) -> bool:
    """Whether the prefix is walked with content identities (ledger and/or time window)."""
    return bool(op.skip_converted or op.modified_after or op.modified_before)


def validate_incremental(op: MathpixSubmitJobOperator, *, at_parse_time: bool) -> None:
    """Reject inconsistent incremental arguments before any request, naming the field."""
    if not isinstance(op.skip_converted, bool):
        raise MathpixValidationError(f"skip_converted must be True or False, got {op.skip_converted!r}")
    if uses_incremental_walk(op) and op.files is not None:
        raise MathpixValidationError(
            f"{op.task_id}: skip_converted, modified_after and modified_before need source_prefix "
            "(an explicit files list is converted as given)"
        )
    if op.skip_converted and not op.ledger_path:
        raise MathpixValidationError(
            f"{op.task_id}: skip_converted=True needs ledger_path, a folder every worker can reach "
            "(e.g. s3://bucket/ledger/ beside the outputs) where converted documents are recorded"
        )
    if op.ledger_path and not op.skip_converted:
        raise MathpixValidationError(f"{op.task_id}: ledger_path is only used with skip_converted=True")
    for field in ("modified_after", "modified_before"):
        value = getattr(op, field)
        if not is_template(value, at_parse_time):
            to_utc(value, field)
    if op.ledger_path and not is_template(op.ledger_path, at_parse_time):
        ledger_folder(op.ledger_path, op.ledger_conn_id)


def incremental_items(op: MathpixSubmitJobOperator, stats: WalkStats) -> Iterator[dict[str, str]]:
    """The prefix's (bucket or local folder) items minus the ledger's pairs, within the window."""
    converted = None
    if op.skip_converted:
        folder = ledger_folder(op.ledger_path, op.ledger_conn_id)  # type: ignore[arg-type]
        converted = read_converted(folder)
        op.log.info(
            "Ledger %s: %s documents converted by earlier runs", folder.as_uri(), f"{len(converted):,}"
        )
    walk_options: dict[str, Any] = {
        "pattern": op.pattern,
        "suffixes": op.suffixes,
        "modified_after": op.modified_after,
        "modified_before": op.modified_before,
        "already_converted": converted.__contains__ if converted is not None else None,
        "stats": stats,
        "on_empty": "succeed" if op.allow_empty else "fail",
    }
    if local_path_of(op.source_prefix) is not None:
        return iter_local_items(op.source_prefix, **walk_options)  # type: ignore[arg-type]
    return iter_incremental_items(
        op.source_prefix,  # type: ignore[arg-type]
        conn_id=op.source_conn_id,
        **walk_options,
    )


def warn_if_unrecorded(op: MathpixSubmitJobOperator) -> None:
    """Without waiting, this task never sees the results: someone else must record them."""
    if op.skip_converted and not op.wait_for_completion:
        op.log.warning(
            "skip_converted with wait_for_completion=False: this task does not record the job in "
            "the ledger %s; give the same ledger_path to the MathpixJobSensor that waits for it, "
            "or the next run will submit these documents again",
            op.ledger_path,
        )


def skip_counts(stats: WalkStats) -> dict[str, int]:
    return {SKIPPED_KEY: stats.already_converted, OUTSIDE_WINDOW_KEY: stats.outside_window}


def log_walk(op: MathpixSubmitJobOperator, stats: WalkStats) -> None:
    op.log.info(
        "Source prefix: %s documents listed, %s already converted (skipped), "
        "%s outside the time window, %s to convert",
        f"{stats.listed:,}",
        f"{stats.already_converted:,}",
        f"{stats.outside_window:,}",
        f"{stats.submitted:,}",
    )


def recorder_for(op: MathpixSubmitJobOperator) -> LedgerRecorder | None:
    """A recorder committing the job's completed documents to the ledger (None without it)."""
    if not op.skip_converted:
        return None
    return LedgerRecorder(ledger_folder(op.ledger_path, op.ledger_conn_id), op.log)  # type: ignore[arg-type]


def push_skip_counts(op: MathpixSubmitJobOperator, context: Any, stats: WalkStats) -> dict[str, int]:
    """Log the walk, push its counters (a deferred task resumes without them) and return them."""
    if not uses_incremental_walk(op):
        return {}
    log_walk(op, stats)
    warn_if_unrecorded(op)
    counts = skip_counts(stats)
    for key, value in counts.items():
        context["ti"].xcom_push(key=key, value=value)
    return counts


def pulled_skip_counts(op: MathpixSubmitJobOperator, context: Any) -> dict[str, int]:
    """The counters pushed before deferring (a resumed task has no walk to count)."""
    if not uses_incremental_walk(op):
        return {}
    ti = context["ti"]
    out = {}
    for key in (SKIPPED_KEY, OUTSIDE_WINDOW_KEY):
        value = ti.xcom_pull(task_ids=op.task_id, key=key)
        out[key] = int(value or 0)
    return out
