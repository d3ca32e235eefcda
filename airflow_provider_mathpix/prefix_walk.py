"""Walk a source prefix: list it through the provider hooks, keep the keys asked for, make items.

One walk serves every source: the plain bucket walk (:func:`iter_source_items`), the
incremental one (:mod:`~airflow_provider_mathpix.incremental`) and the local-folder one
(:mod:`~airflow_provider_mathpix.local_source`) differ only in where the listing comes
from and how a listed object becomes a job item, so the filtering, the error mapping and
the "matched nothing" rule are written once, in :func:`walk_listing`.

Listing goes through the amazon / google / azure provider hooks (Airflow's own
connection handling, no hand-written cloud clients) and not through
``ObjectStoragePath.iterdir()``/``rglob``: fsspec filesystems list a whole directory into
memory before yielding the first entry (a flat prefix of a million keys is a million
dicts), while the hooks' clients page lazily. Every object's content identity and time
come from the same listing page as its key, so no walk makes a request per object.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix.exceptions import MathpixError
from airflow_provider_mathpix.storage import (
    DEFAULT_CONN_IDS,
    OnEmpty,
    SourcePrefixEmpty,
    SourcePrefixUnreadable,
    StorageLocation,
    folder_prefix,
    item_for,
    key_selected,
    location_of,
    missing_provider,
    validate_walk_options,
)

if TYPE_CHECKING:
    from airflow_provider_mathpix._compat import ObjectStoragePath


#: Objects listed per request (S3's maximum; GCS and Azure accept it too).
LIST_PAGE_SIZE = 1000


#: A listing's last-modified time as the store gave it: a datetime, the text of one
#: (S3's, left unparsed by :func:`list_s3_objects`), or a callable reading it (GCS's).
Stamp = datetime | str | Callable[[], "datetime | None"] | None


@dataclass(frozen=True)
class ListedObject:
    """One object of a listing: key, content identity and last-modified time (UTC).

    The time is parsed only when :attr:`modified` is read, which only a time window
    (``modified_after``/``modified_before``) does: a plain walk never pays for it.
    """

    key: str
    identity: str
    stamp: Stamp

    @property
    def modified(self) -> datetime | None:
        stamp = self.stamp() if callable(self.stamp) else self.stamp
        return listing_time(stamp) if isinstance(stamp, str) else stamp


def listing_time(text: str) -> datetime:
    """An ISO 8601 time of a listing (``2026-05-01T10:00:00.000Z``) as an aware datetime (naive is UTC)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:  # not ISO 8601: botocore's own parser, which reads every form S3 uses
        from botocore.utils import parse_timestamp

        parsed = parse_timestamp(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _keep_text(text: str) -> str:
    return text


@functools.cache
def _shared_loader(data_path: str | None) -> Any:
    """One botocore data loader per process: the service models are read-only data."""
    from botocore.loaders import create_loader

    return create_loader(data_path)


def tune_listing_session(session: Any) -> Any:
    """A fresh boto3 session made cheap to list with; returns it.

    - Its responses' timestamps stay text: botocore parses every ``LastModified`` of a
      listing with dateutil, about half the CPU of a walk that never reads them
      (:attr:`ListedObject.modified` parses the text when a time window asks).
    - Its service models come from one loader per process: each new botocore session
      would otherwise parse S3's model again (~10 MB per walk).

    Only this session changes (the S3Hook makes a new one per client), so no other client
    is affected. A boto3 without the botocore session attribute is left as it is (slower,
    same result).
    """
    core = getattr(session, "_session", None)
    if core is None or not hasattr(core, "register_component"):
        return session
    from botocore.parsers import ResponseParserFactory

    factory = ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=_keep_text)
    core.register_component("response_parser_factory", factory)
    core.register_component("data_loader", _shared_loader(core.get_config_variable("data_path")))
    return session


# ---------------------------------------------------------------------- listing through the hooks
def list_s3_objects(bucket: str, prefix: str, conn_id: str) -> Iterator[dict[str, Any]]:
    """The raw ``list_objects_v2`` entries (``Key``, ``ETag``, ``LastModified`` as text…), page by page."""
    try:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    except ImportError as exc:
        raise missing_provider("s3", exc) from exc

    class ListingS3Hook(S3Hook):  # type: ignore[misc]
        """The amazon provider's S3Hook (its connection, credentials, endpoint_url, config), tuned to list."""

        def get_session(self, *args: Any, **kwargs: Any) -> Any:
            return tune_listing_session(super().get_session(*args, **kwargs))

    client = ListingS3Hook(aws_conn_id=conn_id).get_conn()
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
    )
    for page in pages:
        yield from page.get("Contents", ())


def list_gcs_blobs(bucket: str, prefix: str, conn_id: str) -> Iterator[Any]:
    """The listed ``Blob`` objects (``name``, ``md5_hash``, ``generation``, ``updated``…), lazily paged."""
    try:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook
    except ImportError as exc:
        raise missing_provider("gs", exc) from exc
    client = GCSHook(gcp_conn_id=conn_id).get_conn()
    yield from client.list_blobs(bucket, prefix=prefix or None, page_size=LIST_PAGE_SIZE)


def azure_service(conn_id: str) -> Any:
    """The ``BlobServiceClient`` of a ``wasb`` connection."""
    try:
        from airflow.providers.microsoft.azure.hooks.wasb import WasbHook
    except ImportError as exc:
        raise missing_provider("azure", exc) from exc
    return WasbHook(wasb_conn_id=conn_id).get_conn()


def list_azure_blobs(service: Any, container: str, prefix: str) -> Iterator[Any]:
    """The listed ``BlobProperties`` (``name``, ``etag``, ``content_settings``…), lazily paged."""
    yield from service.get_container_client(container).list_blobs(
        name_starts_with=prefix or None, results_per_page=LIST_PAGE_SIZE
    )


def _s3_objects(bucket: str, prefix: str, conn_id: str) -> Iterator[ListedObject]:
    for obj in list_s3_objects(bucket, prefix, conn_id):
        yield ListedObject(obj["Key"], f"etag:{obj.get('ETag', '').strip(chr(34))}", obj.get("LastModified"))


def _gcs_objects(bucket: str, prefix: str, conn_id: str) -> Iterator[ListedObject]:
    for blob in list_gcs_blobs(bucket, prefix, conn_id):
        identity = f"md5:{blob.md5_hash}" if blob.md5_hash else f"generation:{blob.generation}"
        yield ListedObject(blob.name, identity, functools.partial(getattr, blob, "updated"))


def _azure_objects(service: Any, container: str, prefix: str) -> Iterator[ListedObject]:
    for blob in list_azure_blobs(service, container, prefix):
        md5 = getattr(blob.content_settings, "content_md5", None)
        identity = f"md5:{bytes(md5).hex()}" if md5 else f"etag:{str(blob.etag).strip(chr(34))}"
        yield ListedObject(blob.name, identity, blob.last_modified)


def list_objects(
    loc: StorageLocation, prefix: str, conn_id: str
) -> tuple[Iterator[ListedObject], str | None]:
    """The objects under ``prefix`` (streamed, page by page) and the Azure account, if any.

    The content identity is what the store says names this content: S3's ``ETag``, GCS's
    ``md5Hash`` (its ``generation`` for composite objects without one), Azure's
    ``Content-MD5`` or else its ``ETag``.
    """
    if loc.kind == "s3":
        return _s3_objects(loc.bucket, prefix, conn_id), loc.account
    if loc.kind == "gs":
        return _gcs_objects(loc.bucket, prefix, conn_id), loc.account
    service = azure_service(conn_id)
    return _azure_objects(service, loc.bucket, prefix), loc.account or service.account_name


# ---------------------------------------------------------------------- the one walk
#: Makes a listed object (past the key filters) into a job item, or None to skip it.
MakeItem = Callable[[ListedObject, str], "dict[str, str] | None"]


def walk_listing(
    objects: Iterator[ListedObject],
    *,
    prefix: str,
    pattern: str | None,
    suffixes: Sequence[str] | None,
    make_item: MakeItem,
    unreadable: Callable[[Exception], MathpixError],
    on_empty: str,
    nothing_matched: str,
    empty_hint: str,
    read_errors: tuple[type[Exception], ...] = (Exception,),
) -> Iterator[dict[str, str]]:
    """The job items of a listing: keys relative to ``prefix`` past ``pattern``/``suffixes``.

    A listing that fails midway raises ``unreadable(exc)`` for ``read_errors`` (the
    provider's own errors pass through). When no key matched, ``on_empty="fail"`` raises
    :class:`SourcePrefixEmpty` saying ``nothing_matched``, the filters, then ``empty_hint``;
    keys that matched but were all skipped by ``make_item`` (already converted, outside a
    time window) are not "empty": nothing new is a success.
    """
    matched = 0
    try:
        for obj in objects:
            relative = obj.key[len(prefix) :]
            if not key_selected(relative, pattern, suffixes):
                continue
            matched += 1
            item = make_item(obj, relative)
            if item is not None:
                yield item
    except MathpixError:
        raise
    except read_errors as exc:
        raise unreadable(exc) from exc
    if matched == 0 and on_empty == "fail":
        raise SourcePrefixEmpty(nothing_matched + filters_note(pattern, suffixes) + empty_hint)


def walk_bucket(
    loc: StorageLocation,
    conn_id: str,
    *,
    pattern: str | None,
    suffixes: Sequence[str] | None,
    make_item: Callable[[ListedObject, str, str | None], dict[str, str] | None],
    on_empty: str,
    empty_hint: str,
) -> Iterator[dict[str, str]]:
    """:func:`walk_listing` over a bucket prefix; ``make_item`` also gets the Azure account."""
    prefix = folder_prefix(loc.key)
    try:
        objects, account = list_objects(loc, prefix, conn_id)
    except MathpixError:
        raise
    except Exception as exc:
        raise unreadable(loc, prefix, conn_id, exc) from exc
    yield from walk_listing(
        objects,
        prefix=prefix,
        pattern=pattern,
        suffixes=suffixes,
        make_item=lambda obj, relative: make_item(obj, relative, account),
        unreadable=lambda exc: unreadable(loc, prefix, conn_id, exc),
        on_empty=on_empty,
        nothing_matched=f"source_prefix {loc.mathpix_uri(prefix, account=account)!r} matched no object",
        empty_hint=empty_hint,
    )


def unreadable(loc: StorageLocation, prefix: str, conn_id: str, exc: Exception) -> SourcePrefixUnreadable:
    """The error for a listing that failed (no bucket, no permission, unreachable storage)."""
    where = f"{loc.kind}://{loc.bucket}/{prefix}" if loc.kind != "azure" else f"container {loc.bucket!r}"
    return SourcePrefixUnreadable(
        f"cannot list source_prefix {where} with connection {conn_id!r}: {type(exc).__name__}: {exc}"
    )


def filters_note(pattern: str | None, suffixes: Sequence[str] | None) -> str:
    """The filters of a walk, as said after "matched no object"."""
    return (f" (pattern={pattern!r})" if pattern else "") + (
        f" (suffixes={list(suffixes)!r})" if suffixes else ""
    )


def iter_source_items(
    source_prefix: str | ObjectStoragePath,
    *,
    conn_id: str | None = None,
    pattern: str | None = None,
    suffixes: Sequence[str] | None = None,
    destination_prefix: str | None = None,
    on_empty: OnEmpty = "fail",
) -> Iterator[dict[str, str]]:
    """Yield one Mathpix job item per object under ``source_prefix``, streaming.

    Each item is ``{"source_uri", "custom_id"}`` (plus ``destination_uri`` =
    ``<destination_prefix>/<custom_id>/`` and ``destination_basename`` = the file's
    stem when ``destination_prefix`` is given). ``source_uri`` is the form Mathpix
    expects for the cloud (``s3://``, ``gs://``, ``https://{account}.blob.core.windows.net``);
    ``custom_id`` comes from the key relative to the prefix, so a rerun yields the same
    ids and Mathpix deduplicates. It never holds the listing: a million keys flow through
    it into the hook's chunked job submission with flat memory.

    The prefix is a folder (``s3://b/in`` lists ``in/…``). ``pattern`` is a glob on the
    relative key (``**/*.pdf``); ``suffixes`` keeps keys ending in one of them
    (case-insensitive). ``conn_id`` defaults per scheme (``aws_default``,
    ``google_cloud_default``, ``wasb_default``); an ``ObjectStoragePath`` keeps its own.
    When nothing matches: ``on_empty="fail"`` raises :class:`SourcePrefixEmpty` (after the
    listing, before anything is submitted), ``"succeed"`` just ends.

    Options are checked when this is called, not on first iteration.
    """
    loc, path_conn_id = location_of(source_prefix)
    validate_walk_options(pattern, suffixes, on_empty, destination_prefix)
    conn = conn_id or path_conn_id or DEFAULT_CONN_IDS[loc.kind]
    prefix = folder_prefix(loc.key)
    return walk_bucket(
        loc,
        conn,
        pattern=pattern,
        suffixes=suffixes,
        make_item=lambda obj, _relative, account: item_for(
            loc, obj.key, prefix, account=account, destination_prefix=destination_prefix
        ),
        on_empty=on_empty,
        empty_hint="; set on_empty='succeed' to accept an empty prefix",
    )
