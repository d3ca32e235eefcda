"""Pure rules of the Mathpix contract: identifiers, URIs, request bodies, errors, retries.

Nothing here imports Airflow or does I/O, so every rule of ``mathpix-api.md`` is tested
in microseconds and shared by the hook, the operators and the storage walker. This is
the ONE place that builds request bodies: the hook only sends what these functions
return. Every rejection raises :class:`MathpixValidationError` naming the field and the
rule, so a DAG author learns what to fix before a request is ever sent.
"""

from __future__ import annotations

import hashlib
import re

from airflow_provider_mathpix.exceptions import MathpixValidationError

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
        raise MathpixValidationError(f"{field} must be a string, got {type(value).__name__}")
    if not value:
        raise MathpixValidationError(f"{field} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise MathpixValidationError(
            f"{field} is {len(value)} characters long; at most {MAX_ID_LENGTH} are allowed"
        )
    if not _ID_RE.fullmatch(value):
        bad = sorted(set(_ID_BAD_CHAR_RE.findall(value)))
        raise MathpixValidationError(
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
        raise MathpixValidationError("key must be a non-empty string to derive a custom_id")
    if len(key) <= MAX_ID_LENGTH and _ID_RE.fullmatch(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:_KEY_HASH_LENGTH]
    readable = _ID_BAD_CHAR_RE.sub("_", key)[: MAX_ID_LENGTH - _KEY_HASH_LENGTH - 1]
    return f"{readable}-{digest}"
