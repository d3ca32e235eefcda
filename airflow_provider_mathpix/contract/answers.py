"""Answers: the error envelope of a failed call (and of a /v3 body under HTTP 200).

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorInfo:
    """What an error answer said: the machine code and the API's sentence."""

    code: str
    message: str


def parse_error_body(status: int, body: bytes) -> ErrorInfo:
    """Read the error envelope of a non-2xx answer.

    Code from ``error`` (when it is a code-like word) or ``error_info.id``; message from
    ``error_info.message`` or ``message``. A body that is not an envelope (an HTML page
    from a proxy, nothing at all) keeps its HTTP status as ``http_<status>``, so a 502
    from a load balancer is still recognisable and retryable.
    """
    payload = _json_or_none(body)
    if isinstance(payload, dict):
        info = envelope_error(payload)
        if info is not None:
            return info
    snippet = re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", body[:2000].decode("utf-8", "replace"))).strip()
    detail = f": {snippet[:200]}" if snippet else " with an empty body"
    return ErrorInfo(f"http_{status}", f"HTTP {status}{detail}")


_CODE_RE = re.compile(r"[a-z][a-z0-9_]*")


def envelope_error(payload: Mapping[str, Any]) -> ErrorInfo | None:
    """The error carried by a JSON body, or None when it carries none.

    Also used on HTTP 200 answers from /v3, where ``error`` is a sentence and
    ``error_info.id`` the code.
    """
    error = payload.get("error")
    info = payload.get("error_info")
    info = info if isinstance(info, Mapping) else {}
    if not error and not info:
        return None
    info_id = info.get("id")
    if isinstance(info_id, str) and info_id:
        code = info_id
    elif isinstance(error, str) and _CODE_RE.fullmatch(error):
        code = error
    else:
        code = "unknown_error"
    message = (
        info.get("message") or payload.get("message") or (error if isinstance(error, str) else "") or code
    )
    return ErrorInfo(code, str(message))


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
