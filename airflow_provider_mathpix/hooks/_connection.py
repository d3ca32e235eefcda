"""Turn an Airflow connection's fields into validated client settings (no I/O).

Kept apart from the hook so every rule (missing key, plain http to a remote host, bad
extras) is tested without a connection store or a network, and fails before any request
with a message naming the connection id and the field. Not part of ``contract``: these
are rules of this provider's connection, not of the Mathpix API, and they raise the
provider's own ``MathpixValidationError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_mathpix.contract.uris import is_loopback_host
from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.hooks.connection_form import (
    CONN_FIELDS,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_DEADLINE,
    DEFAULT_RETRY_MAX_WAIT,
    DEFAULT_TIMEOUT,
    UI_FIELD_BEHAVIOUR,
)

__all__ = [
    "CONN_FIELDS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_RETRY_DEADLINE",
    "DEFAULT_RETRY_MAX_WAIT",
    "DEFAULT_TIMEOUT",
    "UI_FIELD_BEHAVIOUR",
    "ClientSettings",
    "settings_from_connection",
]


@dataclass(frozen=True)
class ClientSettings:
    """Everything a client needs. ``app_key`` is excluded from ``repr`` so it never leaks."""

    conn_id: str
    base_url: str
    app_key: str = field(repr=False)
    app_id: str | None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_max_wait: float = DEFAULT_RETRY_MAX_WAIT
    retry_deadline: float = DEFAULT_RETRY_DEADLINE
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT


def settings_from_connection(
    conn_id: str,
    *,
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    extra: str | Mapping[str, Any] | None,
) -> ClientSettings:
    """Validate a Mathpix connection's fields (``password`` = app_key, ``login`` = app_id)."""
    where = f"Mathpix connection {conn_id!r}"
    if not password or not password.strip():
        raise MathpixValidationError(f"{where}: the App Key (password field) is empty; set the app_key there")
    app_key = password.strip()
    _check_key(where, app_key)
    return ClientSettings(
        conn_id=conn_id,
        base_url=_base_url(where, host, port),
        app_key=app_key,
        app_id=(login or "").strip() or None,
        **_extras(where, extra),
    )


def _check_key(where: str, key: str) -> None:
    """A header value must be printable ASCII; the message gives a position, never the key.

    Why here: httpx would refuse it at send time with "Illegal header value b'…'", an
    escaped copy of the key that log maskers do not recognise (and the failure would be retried).
    """
    for index, char in enumerate(key):
        if not " " <= char <= "~":
            kind = "a control character" if char.isascii() else "a non-ASCII character"
            raise MathpixValidationError(
                f"{where}: the App Key (password field) contains {kind} at position {index + 1}; "
                "an app_key is printable ASCII (paste it again without line breaks)"
            )


def _check_port(where: str, port: object, origin: str) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise MathpixValidationError(f"{where}: {origin} port must be from 1 to 65535, got {port!r}")


def _base_url(where: str, host: str | None, port: int | None) -> str:
    if port is not None:
        _check_port(where, port, "the")
    raw = (host or "").strip()
    if not raw:
        return DEFAULT_BASE_URL
    if any(not " " < char <= "~" for char in raw):
        # A space or CR/LF would end up in the request line (a path of "/X-Evil: 1/…").
        raise MathpixValidationError(
            f"{where}: host {raw!r} contains whitespace, a control or a non-ASCII character; "
            "give a URL such as https://api.mathpix.com"
        )
    if "://" not in raw:
        raw = f"https://{raw}"
    try:
        parts = urlsplit(raw)
        parsed_port = parts.port
    except ValueError as exc:
        raise MathpixValidationError(
            f"{where}: host {host!r} is not a valid URL ({exc}; port from 1 to 65535)"
        ) from None
    if parsed_port is not None:
        _check_port(where, parsed_port, f"host {host!r}:")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise MathpixValidationError(
            f"{where}: host {host!r} must be an https:// URL such as {DEFAULT_BASE_URL}"
        )
    if scheme == "http" and not is_loopback_host(parts.hostname):
        raise MathpixValidationError(
            f"{where}: host {host!r} uses plain http:// to a remote host; the app_key would travel in "
            "clear text. Use https:// (http:// is accepted only for localhost/127.0.0.1 emulators)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise MathpixValidationError(
            f"{where}: host {host!r} must not carry credentials, a query or a fragment"
        )
    netloc = parts.netloc
    if port is not None and parsed_port is None:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _extras(where: str, extra: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError:
            raise MathpixValidationError(f"{where}: extra must be a JSON object") from None
    extra = extra or {}
    if not isinstance(extra, Mapping):
        raise MathpixValidationError(f"{where}: extra must be a JSON object")
    out: dict[str, Any] = {}
    for name, kind, low in (
        ("timeout", float, 0.0),
        ("request_timeout", float, 0.0),
        ("max_retries", int, -1),
        ("retry_max_wait", float, -1e-9),
        ("retry_deadline", float, 0.0),
    ):
        if extra.get(name) in (None, ""):
            continue
        value = extra[name]
        try:
            number = kind(value)
            if kind is int and float(value) != number:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise MathpixValidationError(f"{where}: extra {name!r} must be a number, got {value!r}") from None
        if not math.isfinite(number):
            # NaN slips through every comparison and inf overflows timers: refuse both here.
            raise MathpixValidationError(f"{where}: extra {name!r} must be a finite number, got {value!r}")
        if number <= low:
            raise MathpixValidationError(f"{where}: extra {name!r} must be {'> 0' if low == 0 else '>= 0'}")
        out[name] = number
    return out
