"""Requests of jobs: POST /files/v1/jobs (one chunk), GET /files/v1/jobs and its files (one page).

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.ids import validate_id
from airflow_provider_mathpix.contract.job_limits import MAX_ITEMS_PER_CALL
from airflow_provider_mathpix.contract.options import validate_options
from airflow_provider_mathpix.contract.request import ApiRequest, page_params


def job_options(options: Mapping[str, Any], *, loopback_callbacks: bool = False) -> dict[str, Any]:
    """Validate job-wide options once per submission (not once per chunk)."""
    return validate_options(options, "", allow_item_keys=False, loopback_callbacks=loopback_callbacks)


def submit_job_request(job_id: str, files: list[dict[str, Any]], options: Mapping[str, Any]) -> ApiRequest:
    """POST /files/v1/jobs for one chunk; ``files`` already checked by :class:`JobItemChecker`."""
    validate_id(job_id, "job_id")
    if not files:
        raise InvalidInput("files must contain at least one item")
    if len(files) > MAX_ITEMS_PER_CALL:
        raise InvalidInput(f"files has {len(files)} items; at most {MAX_ITEMS_PER_CALL} per call")
    return ApiRequest("POST", "/files/v1/jobs", json={"job_id": job_id, "files": files, **options})


JOB_FILE_STATUSES = ("pending", "completed", "error")


def job_files_request(
    job_id: str, status: str | None = None, page_size: int | None = None, page_token: str | None = None
) -> ApiRequest:
    """GET /files/v1/jobs/{job_id}/files (one page)."""
    validate_id(job_id, "job_id")
    if status is not None and status not in JOB_FILE_STATUSES:
        raise InvalidInput(f"status must be one of {JOB_FILE_STATUSES}, got {status!r}")
    params = page_params(page_size, page_token, status=status)
    return ApiRequest("GET", f"/files/v1/jobs/{job_id}/files", params=params)


def _validate_day(value: object, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.strftime("%Y-%m-%d")
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise InvalidInput(f"{field} must be a date in yyyy-MM-dd form, got {value!r}")
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} {value!r} is not a real date") from None
    return value


def jobs_request(
    start: object = None, end: object = None, page_size: int | None = None, page_token: str | None = None
) -> ApiRequest:
    """GET /files/v1/jobs (one page, newest first)."""
    first, last = _validate_day(start, "start"), _validate_day(end, "end")
    if first and last and first > last:
        raise InvalidInput(f"start {first} is after end {last}")
    return ApiRequest(
        "GET", "/files/v1/jobs", params=page_params(page_size, page_token, start=first, end=last)
    )
