"""The Mathpix error envelope, in one place.

Files API errors are ``{"error": code, "error_info": {"id": code, "message": ...}}``
with the HTTP status of the code (``mathpix-api.md``). ``/v3`` answers differ: most
errors come back under HTTP 200 with ``error`` holding a sentence and ``error_info.id``
the code; only ``http_unauthorized`` (401) and ``http_max_requests`` (429) use statuses.
Every route raises :class:`ApiError` and ``http.error_response`` renders it with the
shapes written here, once.
"""

from __future__ import annotations

import json
from typing import Any

#: HTTP status of every Files API error code the emulator emits.
STATUS_OF: dict[str, int] = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "data_source_access_denied": 403,
    "not_found": 404,
    "data_source_not_found": 404,
    "format_not_ready": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "unsupported_format": 415,
    "quota_exceeded": 429,
    "rate_limited": 429,
    "internal_error": 500,
    "bad_gateway": 502,
    "unavailable": 503,
    "storage_throttled": 503,
    "gateway_timeout": 504,
}

#: v3 codes that keep a real HTTP status; every other v3 error is HTTP 200.
V3_STATUS_OF: dict[str, int] = {"http_unauthorized": 401, "http_max_requests": 429}


class ApiError(Exception):
    """An error answer. ``extra`` adds top-level keys (e.g. ``status`` on ``format_not_ready``)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS_OF.get(code, 400)
        self.extra = extra or {}
        self.headers = headers or {}


class V3Error(ApiError):
    """A ``/v3`` error: rendered with the v3 shape and (mostly) HTTP 200."""

    def __init__(self, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(code, message, status=V3_STATUS_OF.get(code, 200), headers=headers)


def envelope(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The Files API error body."""
    body: dict[str, Any] = {"error": code, "error_info": {"id": code, "message": message}}
    body.update(extra)
    return body


def v3_envelope(code: str, message: str) -> dict[str, Any]:
    """The v3 error body: ``error`` is the sentence, ``error_info.id`` the code."""
    return {"error": message, "error_info": {"id": code, "message": message}}


def dumps(body: Any) -> bytes:
    """Compact JSON bytes (one encoder for every answer)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
