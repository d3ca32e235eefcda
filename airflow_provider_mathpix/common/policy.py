"""The partial-success policy shared by the job operator and the job sensor.

Why a policy: a Mathpix job is ``completed`` when every file is terminal, errored
files included, so "the job finished" says nothing about whether the task should
succeed. One bad scan in 100,000 documents should not fail a nightly pipeline; a job
where every source 404s must. The decision is a pure function of the counters so the
operator, the sensor and the docs all agree, and so it is tested without any I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from airflow_provider_mathpix.exceptions import MathpixJobFilesErrored, MathpixValidationError

#: How many errored files a failure message (and XCom's ``errors_sample``) names.
ERRORS_SAMPLE_SIZE = 10

Outcome = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class PolicyDecision:
    """What to do with a completed job: succeed quietly, succeed with a warning, or fail."""

    outcome: Outcome
    files_errored: int
    file_count: int
    reason: str

    @property
    def error_ratio(self) -> float:
        return self.files_errored / self.file_count if self.file_count else 0.0


def validate_max_error_ratio(value: object, field: str = "max_error_ratio") -> float:
    """Parse-time check: a ratio in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MathpixValidationError(f"{field} must be a number between 0 and 1, got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise MathpixValidationError(
            f"{field} must be between 0 and 1 (a fraction of the files), got {value}"
        )
    return float(value)


def decide(
    file_count: int,
    files_errored: int,
    *,
    max_error_ratio: float = 0.0,
    fail_on_file_errors: bool = True,
) -> PolicyDecision:
    """Decide a completed job's outcome.

    - no errored file: ``ok``;
    - ``fail_on_file_errors=False``: errored files only ever ``warn``;
    - otherwise ``fail`` when ``files_errored / file_count`` exceeds ``max_error_ratio``
      (so the default 0 fails on the first errored file), else ``warn``.
    """
    if files_errored <= 0:
        return PolicyDecision("ok", 0, file_count, "no file errored")
    ratio = files_errored / file_count if file_count else 1.0
    summary = f"{files_errored:,} of {file_count:,} files errored ({ratio:.2%})"
    if not fail_on_file_errors:
        return PolicyDecision("warn", files_errored, file_count, f"{summary}; fail_on_file_errors is False")
    if ratio > max_error_ratio:
        return PolicyDecision(
            "fail", files_errored, file_count, f"{summary}, more than max_error_ratio={max_error_ratio:g}"
        )
    return PolicyDecision(
        "warn", files_errored, file_count, f"{summary}, within max_error_ratio={max_error_ratio:g}"
    )


def format_errors_sample(sample: Iterable[Mapping[str, Any]]) -> str:
    """One line per errored file, for a failure message or a warning."""
    lines = []
    for item in sample:
        name = item.get("custom_id") or item.get("file_id") or "?"
        lines.append(f"  - {name} (file_id {item.get('file_id')}): {item.get('error') or 'unknown error'}")
    return "\n".join(lines)


def enforce_policy(
    xcom: dict[str, Any],
    *,
    subject: str,
    file_count: int,
    files_errored: int,
    errors_sample: Sequence[Mapping[str, Any]],
    max_error_ratio: float,
    fail_on_file_errors: bool,
    log: logging.Logger | Any,
    noun: str = "files",
    note: str = "",
) -> dict[str, Any]:
    """Return ``xcom`` (logging a warning for tolerated errors) or raise ``MathpixJobFilesErrored``.

    ``subject`` names what finished (``job <id>``, ``image batch <id>``) and ``noun`` its
    members; ``note`` is appended to the message (e.g. where the manifest is). The
    exception's ``job_id`` is the XCom's ``job_id`` (or ``batch_id``).
    """
    decision = decide(
        file_count, files_errored, max_error_ratio=max_error_ratio, fail_on_file_errors=fail_on_file_errors
    )
    if decision.outcome == "ok":
        return xcom
    reason = decision.reason if noun == "files" else decision.reason.replace("files", noun)
    message = f"Mathpix {subject}: {reason}. Errored {noun}:\n{format_errors_sample(errors_sample)}{note}"
    if decision.outcome == "warn":
        log.warning("%s", message)
        return xcom
    raise MathpixJobFilesErrored(
        message,
        job_id=str(xcom.get("job_id") or xcom.get("batch_id")),
        files_errored=files_errored,
        file_count=file_count,
        errors_sample=errors_sample,
    )
