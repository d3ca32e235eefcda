"""HTTP plumbing shared by the sync and async paths: TLS, headers, the one error mapping.

Everything here is independent of sync vs async, so the two paths of the hook differ
only in ``await``: an answer (status, headers, body) is judged by :func:`check_answer`
in both, and a transport failure becomes an API error by :func:`transport_error`.
"""

from __future__ import annotations

import functools
import json
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

from airflow_provider_mathpix import __version__
from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks._connection import ClientSettings
from airflow_provider_mathpix.models import (
    ApiRequest,
    envelope_error,
    is_loopback_host,
    parse_error_body,
    parse_retry_after,
)

USER_AGENT = f"airflow-provider-mathpix/{__version__}"


@functools.lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    """The process-wide TLS context handed to every client as ``verify=``.

    Built once because each ``httpx.Client()`` with default settings loads the CA
    bundle again (~0.9 MB and ~20 ms of CPU each): a triggerer running 1,000 Mathpix
    triggers would otherwise spend ~0.9 GB on copies of the same certificates. Same
    trust store as httpx's own default (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``).
    """
    return httpx.create_ssl_context()


def client_kwargs(settings: ClientSettings) -> dict[str, Any]:
    """Constructor arguments for ``httpx.Client`` and ``httpx.AsyncClient`` alike."""
    return {
        "base_url": settings.base_url,
        "headers": {"app_key": settings.app_key, "User-Agent": USER_AGENT, "Accept": "application/json"},
        "timeout": httpx.Timeout(settings.timeout),
        "verify": ssl_context(),
        "follow_redirects": False,  # a redirect would re-send the app_key to wherever it points
    }


def request_headers(req: ApiRequest, settings: ClientSettings) -> dict[str, str]:
    """Per-request headers: Idempotency-Key, and app_id on /v3 only (the Files API ignores it)."""
    headers = dict(req.headers)
    if req.v3:
        if not settings.app_id:
            raise MathpixValidationError(
                f"Mathpix connection {settings.conn_id!r}: the App ID (login field) is empty; "
                f"{req.method} {req.path} needs the app_id"
            )
        headers["app_id"] = settings.app_id
    return headers


def api_error(req: ApiRequest, status: int | None, code: str, message: str) -> MathpixAPIError:
    return MathpixAPIError(code, status, message, method=req.method, path=req.path)


def check_answer(req: ApiRequest, status: int, headers: httpx.Headers, body: bytes, *, raw: bool) -> Any:
    """Return the answer's payload (JSON, or ``body`` when ``raw``), or raise ``MathpixAPIError``.

    The single error mapping of the provider: non-2xx → envelope code (or
    ``http_<status>``), and a /v3 body carrying ``error`` is a failure even under HTTP 200.
    ``retry_after`` is attached for the retry policy.
    """
    if not 200 <= status < 300:  # 3xx too: redirects are not followed (they would carry the key along)
        info = parse_error_body(status, body)
        error = api_error(req, status, info.code, info.message)
        error.retry_after = parse_retry_after(headers.get("retry-after"))
        raise error
    if raw:
        return body
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        raise api_error(req, status, "invalid_response", f"HTTP {status} answer is not JSON") from None
    if req.v3 and isinstance(payload, dict):
        info_v3 = envelope_error(payload)
        if info_v3 is not None:
            raise api_error(req, status, info_v3.code, info_v3.message)
    return payload


def transport_error(req: ApiRequest, exc: httpx.TransportError, base_url: str = "") -> MathpixAPIError:
    """No answer at all: timeouts and dropped or refused connections (always retryable)."""
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection_error"
    detail = str(exc) or type(exc).__name__
    return api_error(req, None, code, f"{type(exc).__name__}: {detail}{_plain_http_hint(exc, base_url)}")


def _plain_http_hint(exc: httpx.TransportError, base_url: str) -> str:
    """Why TLS failed against a loopback server: it speaks plain http (the bundled emulator does).

    A host without a scheme means https (the URI form ``mathpix://:KEY@127.0.0.1:8080``
    cannot say otherwise), so pointing a connection at a local emulator that way fails
    with an opaque SSL error; name the fix instead.
    """
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not is_loopback_host(parts.hostname or ""):
        return ""
    if "WRONG_VERSION_NUMBER" not in str(exc) and "record layer" not in str(exc):
        return ""
    plain = f"http://{parts.netloc}{parts.path}"
    return (
        f". {base_url} answered without TLS: it is a plain-http server (like the bundled emulator). "
        f"A host without a scheme means https://; set the connection's host to {plain} "
        f"(in the URI form, percent-encode the scheme: mathpix://:KEY@http%3A%2F%2F{parts.netloc})"
    )
