"""Requests of webhook configuration: POST /files/v1/webhook-config/test.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_mathpix.contract.callbacks import validate_callback_headers, validate_callback_url
from airflow_provider_mathpix.contract.request import ApiRequest


def test_webhook_request(
    callback_url: str, callback_headers: Mapping[str, str] | None = None, *, loopback_callbacks: bool = False
) -> ApiRequest:
    """POST /files/v1/webhook-config/test."""
    body: dict[str, Any] = {
        "callback_url": validate_callback_url(callback_url, loopback_callbacks=loopback_callbacks)
    }
    if callback_headers is not None:
        body["callback_headers"] = validate_callback_headers(callback_headers)
    return ApiRequest("POST", "/files/v1/webhook-config/test", json=body)
