"""Requests of jobs: POST /files/v1/jobs (one chunk), GET /files/v1/jobs and its files (one page).

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import datetime
import io
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.ids import validate_id
from airflow_provider_mathpix.contract.job_limits import MAX_ITEMS_PER_CALL
from airflow_provider_mathpix.contract.options import validate_options
from airflow_provider_mathpix.contract.request import ApiRequest, page_params


def job_options(options: Mapping[str, Any], *, loopback_callbacks: bool = False) -> dict[str, Any]:
    """Validate job-wide options once per submission (not once per chunk)."""
    return validate_options(options, "", allow_item_keys=False, loopback_callbacks=loopback_callbacks)


#: The encoding httpx gives a ``json=`` body: compact, UTF-8, no NaN.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

_JSON = {"Content-Type": "application/json"}


class JobBody:
    """The body of one POST /files/v1/jobs call, encoded item by item as the items arrive.

    ``{"job_id": ..., "files": [...], **options}``, the same bytes ``json.dumps`` of that
    dict gives with httpx's settings, but a chunk of 50,000 items is never a list of
    50,000 dicts plus its JSON: each item is encoded when added and only the bytes stay.
    The finished :class:`ApiRequest` carries them as ``content``, so every attempt of the
    call re-sends the identical body.
    """

    def __init__(self, job_id: str, options: Mapping[str, Any]) -> None:
        self._buffer = io.BytesIO()
        self._buffer.write(b'{"job_id":' + _ENCODE(validate_id(job_id, "job_id")).encode() + b',"files":[')
        rest = _ENCODE(dict(options)).encode() if options else b""
        self._tail = b"]," + rest[1:] if rest else b"]}"
        self.count = 0

    def add(self, item: Mapping[str, Any]) -> None:
        """Append one item (already checked by :class:`JobItemChecker`)."""
        if self.count >= MAX_ITEMS_PER_CALL:
            raise InvalidInput(f"files has more than {MAX_ITEMS_PER_CALL} items; at most that many per call")
        if self.count:
            self._buffer.write(b",")
        self._buffer.write(_ENCODE(item).encode())
        self.count += 1

    def request(self) -> ApiRequest:
        """The call carrying the items added so far (at least one)."""
        if not self.count:
            raise InvalidInput("files must contain at least one item")
        self._buffer.write(self._tail)
        return ApiRequest("POST", "/files/v1/jobs", content=self._buffer.getvalue(), headers=_JSON)


def submit_job_request(
    job_id: str, files: Iterable[Mapping[str, Any]], options: Mapping[str, Any]
) -> ApiRequest:
    """POST /files/v1/jobs for one chunk; ``files`` already checked by :class:`JobItemChecker`."""
    body = JobBody(job_id, options)
    for item in files:
        body.add(item)
    return body.request()


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
