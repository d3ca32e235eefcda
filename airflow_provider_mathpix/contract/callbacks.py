"""Webhook settings: callback URL (SSRF guard), headers and events.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.uris import is_loopback_host

CALLBACK_EVENTS = frozenset({"file.completed", "file.error", "job.completed"})

_FORBIDDEN_CALLBACK_HEADERS = frozenset(
    {"host", "content-type", "content-length", "transfer-encoding", "connection", "user-agent"}
)

MAX_CALLBACK_HEADERS = 10

MAX_CALLBACK_HEADER_BYTES = 4096


def validate_callback_url(
    url: object, field: str = "callback_url", *, loopback_callbacks: bool = False
) -> str:
    """HTTPS only, and never a private, loopback or link-local address (SSRF guard).

    ``loopback_callbacks``: the hook sets it only when the API itself is on a loopback
    host (a local emulator), so tests can receive webhooks on 127.0.0.1 while a real
    Mathpix is never handed a private address.
    """
    if not isinstance(url, str) or not url:
        raise InvalidInput(f"{field} must be a non-empty https:// URL")
    parts = urlsplit(url)
    if loopback_callbacks and parts.scheme.lower() in ("http", "https") and is_loopback_host(parts.hostname):
        return url
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise InvalidInput(f"{field} {url!r} must be an https:// URL with a host")
    host = parts.hostname.lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise InvalidInput(f"{field} {url!r} points at a private host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return url
    if not ip.is_global:
        raise InvalidInput(f"{field} {url!r} points at a private or reserved address")
    return url


def validate_callback_headers(headers: object, field: str = "callback_headers") -> dict[str, str]:
    """At most 10 headers and 4 KB, none that the delivery itself owns."""
    if not isinstance(headers, Mapping):
        raise InvalidInput(f"{field} must be a mapping of header name to value")
    if len(headers) > MAX_CALLBACK_HEADERS:
        raise InvalidInput(f"{field} has {len(headers)} headers; at most {MAX_CALLBACK_HEADERS}")
    size = 0
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            raise InvalidInput(f"{field} names and values must be non-empty strings")
        lowered = name.lower()
        if lowered in _FORBIDDEN_CALLBACK_HEADERS or lowered.startswith("mathpix-"):
            raise InvalidInput(f"{field} may not set {name!r} (reserved for the delivery)")
        size += len(name.encode()) + len(value.encode())
    if size > MAX_CALLBACK_HEADER_BYTES:
        raise InvalidInput(f"{field} total {size} bytes; at most {MAX_CALLBACK_HEADER_BYTES}")
    return dict(headers)


def validate_callback_events(events: object, field: str = "callback_events") -> list[str]:
    """A list of event names; ``[]`` is the documented off switch (no delivery, callback_url kept)."""
    if isinstance(events, str) or not isinstance(events, (list, tuple, set, frozenset)):
        raise InvalidInput(f"{field} must be a list of {sorted(CALLBACK_EVENTS)} (or [] for none)")
    unknown = [e for e in events if not isinstance(e, str) or e not in CALLBACK_EVENTS]
    if unknown:
        raise InvalidInput(f"{field} has unknown events {unknown}; known: {sorted(CALLBACK_EVENTS)}")
    return list(events)
