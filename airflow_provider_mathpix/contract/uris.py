"""Source and destination URIs: which schemes Mathpix reads and writes, and what each must name.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from airflow_provider_mathpix.contract.errors import InvalidInput

#: Schemes Mathpix can read from / write to. ``azure`` is an ``https://`` URL whose host
#: is ``{account}.blob.core.windows.net``: it needs a registered data source, unlike a
#: plain public ``https://`` URL.
URI_KINDS = ("s3", "gs", "azure", "https")

_AZURE_HOST_RE = re.compile(r"[a-z0-9]{3,24}\.blob\.core\.windows\.net", re.IGNORECASE)

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}

_WHITESPACE_RE = re.compile(r"\s")


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (the only hosts plain http may reach)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def classify_uri(uri: object, field: str, *, require_key: bool = True) -> str:
    """Return the kind of a source/destination URI (one of :data:`URI_KINDS`), else raise.

    ``require_key``: a source names an object (``s3://bucket/key``), a destination may be a
    bare bucket or prefix. ``http://`` is accepted only for loopback hosts: the real API
    rejects it, a local emulator serves test documents that way, and no remote host ever
    sees an unencrypted fetch this provider asked for.
    """
    if not isinstance(uri, str) or not uri:
        raise InvalidInput(f"{field} must be a non-empty string URI")
    if _WHITESPACE_RE.search(uri):
        raise InvalidInput(f"{field} {uri!r} must not contain whitespace")
    scheme = uri[:2].lower()
    if scheme in ("s3", "gs") and uri[2:5] == "://":
        # Split by hand, not urlsplit: object keys may hold '?' and '#', which are not a
        # query or fragment here (and this runs once per item of million-file jobs).
        bucket, _, key = uri[5:].partition("/")
        if not bucket:
            raise InvalidInput(f"{field} {uri!r} has no bucket ({scheme}://bucket/key)")
        if require_key and not key.strip("/"):
            raise InvalidInput(f"{field} {uri!r} names a bucket but no object key")
        return scheme
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and is_loopback_host(parts.hostname)):
        if not parts.hostname:
            raise InvalidInput(f"{field} {uri!r} has no host")
        if scheme == "https" and _AZURE_HOST_RE.fullmatch(parts.hostname):
            segments = [s for s in parts.path.split("/") if s]
            if not segments:
                raise InvalidInput(
                    f"{field} {uri!r} is an Azure Blob URL without a container "
                    "(https://{account}.blob.core.windows.net/{container}/{blob})"
                )
            if require_key and len(segments) < 2:
                raise InvalidInput(f"{field} {uri!r} names an Azure container but no blob")
            return "azure"
        return "https"
    raise InvalidInput(
        f"{field} {uri!r} uses an unsupported scheme; use s3://, gs://, "
        "https://{account}.blob.core.windows.net/... or a public https:// URL"
    )
