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
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix.contract.ids import MAX_ID_LENGTH, custom_id_from_key
from airflow_provider_mathpix.exceptions import MathpixError, MathpixValidationError
from airflow_provider_mathpix.storage import (
    DEFAULT_CONN_IDS,
    SourcePrefixEmpty,
    StorageLocation,
    _azure_service,
    basename_for,
    destination_for,
    filters_note,
    folder_prefix,
    key_selected,
    list_azure_blobs,
    list_gcs_blobs,
    list_s3_objects,
    location_of,
    unreadable,
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


@dataclass(frozen=True)
class ListedObject:
    """One object of a listing: key, content identity and last-modified time (UTC)."""

    key: str
    identity: str
    modified: datetime | None


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


# ---------------------------------------------------------------------- listings with identity
def _s3_objects(bucket: str, prefix: str, conn_id: str) -> Iterator[ListedObject]:
    for obj in list_s3_objects(bucket, prefix, conn_id):
        yield ListedObject(obj["Key"], f"etag:{obj.get('ETag', '').strip(chr(34))}", obj.get("LastModified"))


def _gcs_objects(bucket: str, prefix: str, conn_id: str) -> Iterator[ListedObject]:
    for blob in list_gcs_blobs(bucket, prefix, conn_id):
        identity = f"md5:{blob.md5_hash}" if blob.md5_hash else f"generation:{blob.generation}"
        yield ListedObject(blob.name, identity, blob.updated)


def _azure_objects(service: Any, container: str, prefix: str) -> Iterator[ListedObject]:
    for blob in list_azure_blobs(service, container, prefix):
        md5 = getattr(blob.content_settings, "content_md5", None)
        identity = f"md5:{bytes(md5).hex()}" if md5 else f"etag:{str(blob.etag).strip(chr(34))}"
        yield ListedObject(blob.name, identity, blob.last_modified)


def list_objects(
    loc: StorageLocation, prefix: str, conn_id: str
) -> tuple[Iterator[ListedObject], str | None]:
    """The objects under ``prefix`` (streamed, page by page) and the Azure account, if any."""
    if loc.kind == "s3":
        return _s3_objects(loc.bucket, prefix, conn_id), loc.account
    if loc.kind == "gs":
        return _gcs_objects(loc.bucket, prefix, conn_id), loc.account
    service = _azure_service(conn_id)
    return _azure_objects(service, loc.bucket, prefix), loc.account or service.account_name


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
    return _walk(
        loc,
        conn,
        pattern,
        suffixes,
        destination_prefix,
        after,
        before,
        already_converted,
        stats or WalkStats(),
        on_empty,
    )


def _walk(
    loc: StorageLocation,
    conn_id: str,
    pattern: str | None,
    suffixes: Sequence[str] | None,
    destination_prefix: str | None,
    after: datetime | None,
    before: datetime | None,
    already_converted: Callable[[bytes], bool] | None,
    stats: WalkStats,
    on_empty: str,
) -> Iterator[dict[str, str]]:
    prefix = folder_prefix(loc.key)
    sel = Selection(after, before, already_converted, stats, destination_prefix)
    try:
        objects, account = list_objects(loc, prefix, conn_id)
        for obj in objects:
            relative = obj.key[len(prefix) :]
            if not key_selected(relative, pattern, suffixes):
                continue
            item = select_item(
                relative,
                loc.mathpix_uri(obj.key, account=account),
                obj.identity,
                obj.modified,
                sel,
            )
            if item is not None:
                yield item
    except MathpixError:
        raise
    except Exception as exc:
        raise unreadable(loc, prefix, conn_id, exc) from exc
    if stats.listed == 0 and on_empty == "fail":
        raise SourcePrefixEmpty(
            f"source_prefix {loc.kind}://{loc.bucket}/{prefix} matched no object"
            + filters_note(pattern, suffixes)
            + "; set allow_empty=True to accept an empty prefix"
        )
