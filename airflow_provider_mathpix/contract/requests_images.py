"""Requests of /v3 image batches: POST /v3/batch and GET /v3/batch/{batch_id}.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_mathpix.contract.callbacks import validate_callback_headers, validate_callback_url
from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.options import (
    KNOWN_OCR_OPTIONS,
    check_not_a_typo,
    validate_json_mapping,
)
from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.contract.uris import classify_uri

_IMAGE_OPTION_KEYS = frozenset(
    {
        "formats",
        "ocr_behavior",
        "data_options",
        "callback",
        "metadata",
        "alphabets_allowed",
        "confidence_threshold",
        "region",
    }
)


def _validate_image_url(value: object, field: str) -> None:
    kind = classify_uri(value, field)
    if kind not in ("https", "azure"):
        raise InvalidInput(f"{field} must be an https:// image URL, got {value!r}")


def _validate_image_options(
    options: Mapping[str, Any], where: str, loopback_callbacks: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        field = f"{where}.{key}" if where else key
        if key == "formats":
            if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
                raise InvalidInput(f"{field} must be a non-empty list such as ['text', 'data']")
            value = list(value)
        elif key == "ocr_behavior" and value not in ("latex", "text"):
            raise InvalidInput(f"{field} must be 'latex' or 'text', got {value!r}")
        elif key == "confidence_threshold" and (
            not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1
        ):
            raise InvalidInput(f"{field} must be a number from 0 to 1, got {value!r}")
        elif key == "callback":
            if not isinstance(value, Mapping) or "post" not in value:
                raise InvalidInput(f"{field} must be a mapping like {{'post': 'https://...'}}")
            validate_callback_url(value["post"], f"{field}.post", loopback_callbacks=loopback_callbacks)
            if value.get("headers") is not None:
                validate_callback_headers(value["headers"], f"{field}.headers")
            value = dict(value)
        elif key in ("data_options", "metadata"):
            validate_json_mapping(value, field)
        else:
            check_not_a_typo(key, where or "options", _IMAGE_OPTION_KEYS | KNOWN_OCR_OPTIONS)
        out[key] = value
    return out


def submit_image_batch_request(
    urls: Mapping[str, Any], *, loopback_callbacks: bool = False, **options: Any
) -> ApiRequest:
    """POST /v3/batch: ``urls`` maps a key to an image URL or to ``{"url", ...per-image options}``."""
    if not isinstance(urls, Mapping) or not urls:
        raise InvalidInput("urls must be a non-empty mapping of key -> image URL")
    body_urls: dict[str, Any] = {}
    for key, value in urls.items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"urls key {key!r} must be a non-empty string")
        if isinstance(value, Mapping):
            if "url" not in value:
                raise InvalidInput(f"urls[{key!r}].url is required")
            _validate_image_url(value["url"], f"urls[{key!r}].url")
            per_image = _validate_image_options(
                {k: v for k, v in value.items() if k != "url"}, f"urls[{key!r}]", loopback_callbacks
            )
            body_urls[key] = {"url": value["url"], **per_image}
        else:
            _validate_image_url(value, f"urls[{key!r}]")
            body_urls[key] = value
    body = {"urls": body_urls, **_validate_image_options(options, "", loopback_callbacks)}
    try:
        json.dumps(body)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"image batch options must be JSON-serialisable: {exc}") from None
    return ApiRequest("POST", "/v3/batch", json=body, v3=True)


def get_image_batch_request(batch_id: int | str) -> ApiRequest:
    if isinstance(batch_id, bool) or not (
        (isinstance(batch_id, int) and batch_id >= 0) or (isinstance(batch_id, str) and batch_id.isdigit())
    ):
        raise InvalidInput(f"batch_id must be a non-negative number, got {batch_id!r}")
    return ApiRequest("GET", f"/v3/batch/{batch_id}", v3=True)
