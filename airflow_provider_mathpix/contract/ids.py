"""Identifiers: the rule for ``custom_id``, ``job_id`` and ``Idempotency-Key``, and ids derived from keys.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from urllib.parse import urlsplit

from airflow_provider_mathpix.contract.errors import InvalidInput

#: Identifiers (``custom_id``, ``job_id``, ``Idempotency-Key``): the contract's charset and length.
MAX_ID_LENGTH = 256

_ID_RE = re.compile(r"[A-Za-z0-9_\-.:]+")

_ID_BAD_CHAR_RE = re.compile(r"[^A-Za-z0-9_\-.:]")

#: Hex digits of SHA-256 appended when a key had to be changed: 64 bits keep collisions
#: improbable (~1e-8 at a million keys) while leaving most of the 256 chars readable.
_KEY_HASH_LENGTH = 16


def validate_id(value: object, field: str) -> str:
    """Return ``value`` if it is a valid Mathpix identifier, else raise naming ``field``.

    Why here and not on the server: a rejected id in a 200,000-item job would fail the
    whole call; catching it before the request names the offending field at once.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidInput(f"{field} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInput(f"{field} is {len(value)} characters long; at most {MAX_ID_LENGTH} are allowed")
    if not _ID_RE.fullmatch(value):
        bad = sorted(set(_ID_BAD_CHAR_RE.findall(value)))
        raise InvalidInput(
            f"{field} {value!r} contains characters outside [A-Za-z0-9_\\-.:]: {''.join(bad)!r}"
        )
    return value


def custom_id_from_key(key: str) -> str:
    """Derive a stable, valid ``custom_id`` from an object key (or any string).

    A key that is already valid is returned unchanged, so ids stay predictable. Otherwise
    every disallowed character becomes ``_`` and, because that mapping (and truncation to
    256 characters) can make two keys collide, a short SHA-256 of the ORIGINAL key is
    appended: ``reports/2024/a b.pdf`` -> ``reports_2024_a_b.pdf-<16 hex>``. Stable across
    runs and processes, so a re-run re-submits the same ``custom_id`` and Mathpix
    deduplicates instead of charging twice.
    """
    if not isinstance(key, str) or not key:
        raise InvalidInput("key must be a non-empty string to derive a custom_id")
    if len(key) <= MAX_ID_LENGTH and _ID_RE.fullmatch(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:_KEY_HASH_LENGTH]
    readable = _ID_BAD_CHAR_RE.sub("_", key)[: MAX_ID_LENGTH - _KEY_HASH_LENGTH - 1]
    return f"{readable}-{digest}"


def new_job_id() -> str:
    """A client-side job id, so every chunk of one submission appends to the same job."""
    return f"job-{uuid.uuid4().hex}"


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key: makes one call's own retries safe when the caller gave none."""
    return f"idem-{uuid.uuid4().hex}"


def custom_id_from_uri(uri: str) -> str:
    """Stable, charset-safe ``custom_id`` for a source URI.

    The scheme is dropped (it carries no meaning for the user) and the rest -- host or
    bucket, then the key -- becomes the readable part: ``s3://docs/a/b.pdf`` ->
    ``docs_a_b.pdf-<hash>``. Two URIs that differ only in characters the charset forbids
    (or only in their query string) still get different ids because the hash is of the
    original text.
    """
    parts = urlsplit(uri)
    body = uri[len(parts.scheme) + 3 :] if parts.scheme and parts.netloc else uri
    return custom_id_from_key(body.strip("/") or uri)
