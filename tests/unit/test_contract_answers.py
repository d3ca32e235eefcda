"""Error envelopes, retry classification and Retry-After parsing."""

from __future__ import annotations

import datetime
import json

import pytest

from airflow_provider_mathpix.contract.answers import ErrorInfo, envelope_error, parse_error_body
from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.contract.retry import is_retryable, parse_retry_after


def _body(payload: object) -> bytes:
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("status", "body", "code", "message"),
    [
        (
            404,
            _body(
                {
                    "error": "data_source_not_found",
                    "error_info": {"id": "data_source_not_found", "message": "No DS"},
                }
            ),
            "data_source_not_found",
            "No DS",
        ),
        (
            400,
            _body({"error": "bad_request", "message": "source_uri missing"}),
            "bad_request",
            "source_uri missing",
        ),
        (401, _body({"error_info": {"id": "unauthorized", "message": "bad key"}}), "unauthorized", "bad key"),
        (
            404,
            _body({"error": "format_not_ready", "status": "split"}),
            "format_not_ready",
            "format_not_ready",
        ),
        (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "http_502", "HTTP 502: 502 Bad Gateway"),
        (503, b"", "http_503", "HTTP 503 with an empty body"),
        (500, _body(["not", "an", "envelope"]), "http_500", "HTTP 500"),
        (500, _body({"detail": "x"}), "http_500", "HTTP 500"),
    ],
)
def test_parse_error_body(status: int, body: bytes, code: str, message: str) -> None:
    info = parse_error_body(status, body)
    assert info.code == code
    assert info.message.startswith(message)


def test_v3_error_under_200() -> None:
    info = envelope_error({"error": "Invalid image URL", "error_info": {"id": "image_download_error"}})
    assert info == ErrorInfo("image_download_error", "Invalid image URL")
    assert envelope_error({"batch_id": 3}) is None
    sentence_only = envelope_error({"error": "Something broke badly"})
    assert sentence_only is not None and sentence_only.code == "unknown_error"


@pytest.mark.parametrize(
    ("status", "code", "retry"),
    [
        (None, "connection_error", True),
        (None, "timeout", True),
        (429, "rate_limited", True),
        (429, "http_429", True),
        (429, "quota_exceeded", False),
        (429, "http_max_requests", True),
        (500, "http_500", True),
        (502, "http_502", True),
        (503, "storage_throttled", True),
        (503, "unavailable", True),
        (500, "internal_error", True),
        (200, "unavailable", True),  # the code decides even where the status does not say 5xx
        (200, "internal_error", True),
        (504, "http_504", True),
        (200, "sys_exception", True),
        (200, "image_download_error", False),
        (400, "bad_request", False),
        (401, "unauthorized", False),
        (403, "data_source_access_denied", False),
        (404, "not_found", False),
        (404, "format_not_ready", False),
        (409, "conflict", False),
        (415, "unsupported_format", False),
    ],
)
def test_retry_classification(status: int | None, code: str, retry: bool) -> None:
    assert is_retryable(status, code) is retry


def test_retry_after_forms() -> None:
    now = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after(" 0.5 ", now) == 0.5
    assert parse_retry_after("-4", now) == 0.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:10 GMT", now) == 10.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    for junk in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(junk, now) is None


def test_redirects_and_v3_errors_are_failures() -> None:
    import httpx

    from airflow_provider_mathpix.exceptions import MathpixAPIError
    from airflow_provider_mathpix.hooks._transport import check_answer

    req = ApiRequest("GET", "/files/v1/jobs")
    with pytest.raises(MathpixAPIError) as info:
        check_answer(req, 302, httpx.Headers({"location": "https://elsewhere.example"}), b"", raw=False)
    assert (info.value.code, info.value.http_status) == ("http_302", 302)
    with pytest.raises(MathpixAPIError) as limited:
        check_answer(req, 429, httpx.Headers({"retry-after": "7"}), b'{"error": "rate_limited"}', raw=False)
    assert limited.value.retry_after == 7.0 and limited.value.code == "rate_limited"
    v3 = ApiRequest("POST", "/v3/batch", v3=True)
    body = b'{"error": "Invalid JSON", "error_info": {"id": "json_syntax", "message": "Invalid JSON"}}'
    with pytest.raises(MathpixAPIError) as bad:
        check_answer(v3, 200, httpx.Headers(), body, raw=False)
    assert (bad.value.code, bad.value.http_status) == ("json_syntax", 200)
    assert check_answer(req, 200, httpx.Headers(), b'{"error": null, "jobs": []}', raw=False) == {
        "error": None,
        "jobs": [],
    }
    with pytest.raises(MathpixAPIError, match="not JSON"):
        check_answer(req, 200, httpx.Headers(), b"<html>", raw=False)
