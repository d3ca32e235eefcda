"""Incremental walks: list a source prefix WITH each object's content identity and time.

A scheduled DAG over ``s3://docs/incoming/`` must not re-submit (and Mathpix must not
re-bill) documents an earlier run already converted. What names "this document, this
content" is the pair (source URI, content identity), read from the SAME listing that
finds the keys -- no extra request per object:

- S3: the ``ETag`` (the MD5 of a single-part upload, a digest of the parts otherwise);
- GCS: ``md5Hash``, or the object ``generation`` for composite objects without one;
- Azure Blob: ``Content-MD5`` when the blob has one, else its ``ETag``.

Each item's ``custom_id`` is then ``<readable key id>:<32 hex>``, the hex being a
128-bit digest of that pair (:func:`content_digest`). It makes the submission
idempotent the way Mathpix deduplicates, on ``(job_id, custom_id)``: a retry after a
worker died post-submit lists the same pairs and re-attaches to the same files, while
a changed document gets a new ``custom_id`` and so a new conversion. It also lets the
ledger (:mod:`airflow_provider_mathpix.ledger`) be written from the job's own listing
of completed files: the digest is in every ``custom_id``.

``modified_after`` (inclusive) and ``modified_before`` (exclusive) select on the store's
last-modified time, so consecutive data intervals partition the objects.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from airflow_provider_mathpix.contract.ids import MAX_ID_LENGTH, custom_id_from_key
from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.prefix_walk import walk_bucket
from airflow_provider_mathpix.storage import (
    DEFAULT_CONN_IDS,
    basename_for,
    destination_for,
    location_of,
    validate_walk_options,
)

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: Bytes of the (source URI, content identity) digest carried by a custom_id and the ledger.
DIGEST_SIZE = 16
_DIGEST_HEX = DIGEST_SIZE * 2
#: Longest readable part of a versioned custom_id (``:`` + 32 hex must still fit in 256).
_READABLE_MAX = MAX_ID_LENGTH - _DIGEST_HEX - 1
_VERSIONED_RE = re.compile(rf"(?P<doc>.+):(?P<hex>[0-9a-f]{{{_DIGEST_HEX}}})\Z")


@dataclass
class WalkStats:
    """What an incremental walk did with the listing (counters only: no per-object state)."""

    listed: int = 0
    outside_window: int = 0
    already_converted: int = 0
    submitted: int = 0


# ---------------------------------------------------------------------- identity and ids (pure)
def content_digest(source_uri: str, identity: str) -> bytes:
    """128-bit digest of (source URI, content identity): the unit the ledger remembers."""
    text = f"{source_uri}\n{identity}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(text, digest_size=DIGEST_SIZE).digest()


def document_id_for(relative_key: str) -> str:
    """The document's stable id (same for every version of its content): readable, charset-safe."""
    doc = custom_id_from_key(relative_key)
    if len(doc) <= _READABLE_MAX:
        return doc
    digest = hashlib.sha256(relative_key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{doc[: _READABLE_MAX - 17]}-{digest}"


def versioned_custom_id(relative_key: str, digest: bytes) -> str:
    """``<document id>:<digest hex>``: one custom_id per (document, content)."""
    return f"{document_id_for(relative_key)}:{digest.hex()}"


def split_versioned_custom_id(custom_id: str | None) -> tuple[str, bytes] | None:
    """``(document id, digest)`` of a versioned custom_id, None for any other id."""
    match = _VERSIONED_RE.match(custom_id or "")
    if match is None:
        return None
    return match.group("doc"), bytes.fromhex(match.group("hex"))


def document_id_of(custom_id: str) -> str:
    """The document id of a job member: the versioned id's readable part, else the custom_id."""
    split = split_versioned_custom_id(custom_id)
    return split[0] if split else custom_id


def to_utc(value: datetime | str | None, field: str) -> datetime | None:
    """A templated bound as an aware UTC datetime (naive is UTC); raises naming ``field``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise MathpixValidationError(
                f"{field} must be an ISO 8601 date-time such as 2026-05-01T00:00:00+00:00, got {value!r}"
            ) from exc
    if not isinstance(value, datetime):
        raise MathpixValidationError(f"{field} must be a datetime or ISO 8601 string, got {value!r}")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def in_window(modified: datetime | None, after: datetime | None, before: datetime | None) -> bool:
    """``after <= modified < before`` (an object without a time is kept only without bounds)."""
    if after is None and before is None:
        return True
    if modified is None:
        return False
    modified = to_utc(modified, "modified") or modified
    return (after is None or modified >= after) and (before is None or modified < before)


# ---------------------------------------------------------------------- the walk
def time_window(
    modified_after: datetime | str | None, modified_before: datetime | str | None
) -> tuple[datetime | None, datetime | None]:
    """``(after, before)`` as UTC datetimes; raises naming the fields when after >= before."""
    after = to_utc(modified_after, "modified_after")
    before = to_utc(modified_before, "modified_before")
    if after is not None and before is not None and after >= before:
        raise MathpixValidationError(
            f"modified_after ({after.isoformat()}) must be earlier than "
            f"modified_before ({before.isoformat()})"
        )
    return after, before


@dataclass(frozen=True)
class Selection:
    """What a walk keeps: the time window, the ledger's check, and where counters go."""

    after: datetime | None
    before: datetime | None
    already_converted: Callable[[bytes], bool] | None
    stats: WalkStats
    destination_prefix: str | None = None


def select_item(
    relative: str, source_uri: str, identity: str, modified: datetime | None, sel: Selection
) -> dict[str, str] | None:
    """The job item of one listed document (already past the key filters), or None if skipped.

    Counts it in ``sel.stats``. Shared by the bucket walk and the local-folder walk so both
    give the same custom_ids and the same counters.
    """
    sel.stats.listed += 1
    if not in_window(modified, sel.after, sel.before):
        sel.stats.outside_window += 1
        return None
    digest = content_digest(source_uri, identity)
    if sel.already_converted is not None and sel.already_converted(digest):
        sel.stats.already_converted += 1
        return None
    sel.stats.submitted += 1
    custom_id = versioned_custom_id(relative, digest)
    # ``filename`` (free text for Mathpix) carries the source into the job's listing,
    # so the manifest and the warehouse row say where each document came from.
    item = {"source_uri": source_uri, "custom_id": custom_id, "filename": source_uri}
    if sel.destination_prefix:
        item["destination_uri"] = destination_for(sel.destination_prefix, custom_id)
        item["destination_basename"] = basename_for(relative)
    return item


def iter_incremental_items(
    source_prefix: str | ObjectStoragePath,
    *,
    conn_id: str | None = None,
    pattern: str | None = None,
    suffixes: Sequence[str] | None = None,
    destination_prefix: str | None = None,
    modified_after: datetime | str | None = None,
    modified_before: datetime | str | None = None,
    already_converted: Callable[[bytes], bool] | None = None,
    stats: WalkStats | None = None,
    on_empty: str = "fail",
) -> Iterator[dict[str, str]]:
    """Like :func:`storage.iter_source_items`, with content-versioned custom_ids and filters.

    ``already_converted(digest)`` says whether a (source, content) pair was converted by
    an earlier run (the ledger); such objects are counted in ``stats`` and skipped. When
    objects were listed but every one was skipped, the walk just ends (nothing new is a
    success); when nothing matched at all, ``on_empty`` decides as for the plain walk.
    Options are checked when this is called, not on first iteration.
    """
    loc, path_conn_id = location_of(source_prefix)
    validate_walk_options(pattern, suffixes, on_empty, destination_prefix)
    after, before = time_window(modified_after, modified_before)
    conn = conn_id or path_conn_id or DEFAULT_CONN_IDS[loc.kind]
    sel = Selection(after, before, already_converted, stats or WalkStats(), destination_prefix)
    windowed = after is not None or before is not None
    return walk_bucket(
        loc,
        conn,
        pattern=pattern,
        suffixes=suffixes,
        make_item=lambda obj, relative, account: select_item(
            relative,
            loc.mathpix_uri(obj.key, account=account),
            obj.identity,
            obj.modified if windowed else None,  # parsed only for a time window
            sel,
        ),
        on_empty=on_empty,
        empty_hint="; set allow_empty=True to accept an empty prefix",
    )
