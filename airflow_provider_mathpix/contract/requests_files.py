"""Requests of single files: POST /files/v1/uri, POST /files/v1 (upload), GET /files/v1/{file_id}.{ext}.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.ids import validate_id
from airflow_provider_mathpix.contract.options import validate_options, validate_text
from airflow_provider_mathpix.contract.request import ApiRequest, idempotency_headers
from airflow_provider_mathpix.contract.uris import classify_uri


def _check_file_ids(options: Mapping[str, Any], where: str) -> None:
    if options.get("custom_id") is not None and options.get("job_id") is None:
        raise InvalidInput(f"{where}: custom_id requires job_id (custom_id is per-job)")
    if options.get("job_id") is not None:
        validate_id(options["job_id"], "job_id")
    if options.get("image_output_mode") is not None and options.get("destination_uri") is None:
        raise InvalidInput(f"{where}: image_output_mode='local' needs destination_uri")


def submit_file_request(
    source_uri: str, *, idempotency_key: str | None = None, loopback_callbacks: bool = False, **options: Any
) -> ApiRequest:
    """POST /files/v1/uri."""
    classify_uri(source_uri, "source_uri")  # required: never let None vanish as an unset option
    _check_file_ids(options, "submit_file")
    job_id = options.pop("job_id", None)
    body = validate_options(
        {"source_uri": source_uri, **options}, "", allow_item_keys=True, loopback_callbacks=loopback_callbacks
    )
    if job_id is not None:
        body["job_id"] = job_id
    return ApiRequest("POST", "/files/v1/uri", json=body, headers=idempotency_headers(idempotency_key))


def upload_file_request(
    filename: str, *, idempotency_key: str | None = None, loopback_callbacks: bool = False, **options: Any
) -> ApiRequest:
    """POST /files/v1 (multipart): form fields ``filename``, ``job_id``, ``custom_id``, ``options_json``."""
    validate_text(filename, "filename")
    if "source_uri" in options:
        raise InvalidInput("upload_file: source_uri is for submit_file; upload sends the bytes")
    _check_file_ids(options, "upload_file")
    job_id = options.pop("job_id", None)
    custom_id = options.pop("custom_id", None)
    rest = validate_options(options, "", allow_item_keys=True, loopback_callbacks=loopback_callbacks)
    form: dict[str, str] = {"filename": filename}
    if job_id is not None:
        form["job_id"] = job_id
    if custom_id is not None:
        form["custom_id"] = validate_id(custom_id, "custom_id")
    if rest:
        form["options_json"] = json.dumps(rest)
    return ApiRequest("POST", "/files/v1", form=form, headers=idempotency_headers(idempotency_key))


_EXT_RE = re.compile(r"[a-z0-9]+(\.[a-z0-9]+)*")


def download_request(file_id: str, ext: str) -> ApiRequest:
    """GET /files/v1/{file_id}.{ext}; a leading dot on ``ext`` is tolerated."""
    validate_id(file_id, "file_id")
    if not isinstance(ext, str) or not _EXT_RE.fullmatch(ext.removeprefix(".")):
        raise InvalidInput(f"ext must look like 'md', 'tex.zip' or 'lines.json', got {ext!r}")
    return ApiRequest("GET", f"/files/v1/{file_id}.{ext.removeprefix('.')}")
