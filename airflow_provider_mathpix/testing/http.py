"""Request and answer helpers shared by the routes: runtime lookup, auth, JSON bodies in and out."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError, V3Error, dumps, envelope, v3_envelope
from .runtime import Runtime


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def authorize(request: Request) -> Runtime:
    """Files API auth: a non-empty ``app_key`` header (in the allow-list when one is set)."""
    rt = runtime(request)
    key = request.headers.get("app_key")
    if not key:
        raise ApiError("unauthorized", "the app_key header is required")
    if rt.config.app_keys is not None and key not in rt.config.app_keys:
        raise ApiError("unauthorized", "the app_key is not valid")
    return rt


def authorize_v3(request: Request) -> Runtime:
    """v3 auth: ``app_id`` and ``app_key`` both required (401 ``http_unauthorized``)."""
    rt = runtime(request)
    key, app_id = request.headers.get("app_key"), request.headers.get("app_id")
    if not key or not app_id:
        raise V3Error("http_unauthorized", "app_id and app_key headers are required")
    if rt.config.app_keys is not None and key not in rt.config.app_keys:
        raise V3Error("http_unauthorized", "invalid credentials")
    if rt.config.app_ids is not None and app_id not in rt.config.app_ids:
        raise V3Error("http_unauthorized", "invalid credentials")
    return rt


async def json_body(request: Request, *, v3: bool = False) -> Any:
    """The parsed JSON body (``400 bad_request``, or v3 ``json_syntax``, when it is not JSON)."""
    return parse_json(await request.body(), v3=v3)


def parse_json(raw: bytes, *, v3: bool = False) -> Any:
    """Parse a request body; the error is the API's (``bad_request`` / v3 ``json_syntax``)."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        if v3:
            raise V3Error("json_syntax", "the body is not valid JSON") from None
        raise ApiError("bad_request", "the body is not valid JSON") from None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer without FastAPI's encoder (listing pages of 10,000 items stay cheap)."""
    return Response(dumps(body), status_code=status, media_type="application/json", headers=headers)


def error_response(exc: ApiError) -> Response:
    """Render an :class:`ApiError` in the shape its API family uses."""
    if isinstance(exc, V3Error):
        return json_response(v3_envelope(exc.code, exc.message), exc.status, exc.headers)
    return json_response(envelope(exc.code, exc.message, **exc.extra), exc.status, exc.headers)
