"""Buckets in, buckets out: walk a source prefix into job items, map destinations.

Most documents live in buckets and most results must land in buckets (Mathpix's SCS
migration guide: walk a source prefix, submit one job, each document's outputs under
``<output prefix>/<custom_id>/``). This module is the provider's side of that:

- :func:`iter_source_items` lists ``s3://``, ``gs://`` or Azure Blob prefixes through the
  amazon / google / azure provider hooks (Airflow's own connection handling, no
  hand-written cloud clients) and yields one job item per object, page by page. It
  never holds the listing: a million keys flow through it into the hook's chunked
  job submission with flat memory.
- :func:`check_data_source` asks the API (``GET /files/v1/data-sources``) whether a
  bucket is registered, so a job over an unregistered bucket fails before submission
  instead of as 200,000 errored files.
- :func:`to_object_storage_path` and :func:`destination_for` map a destination written in
  any of the accepted forms onto an ``ObjectStoragePath`` (to write) or the Mathpix
  ``destination_uri`` layout (``<prefix>/<custom_id>/``).

Why the hooks and not ``ObjectStoragePath.iterdir()``/``rglob`` for listing: fsspec
filesystems list a whole directory into memory before yielding the first entry (a flat
prefix of a million keys is a million dicts); the hooks' clients page lazily.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, TYPE_CHECKING, Any, Literal
from urllib.parse import quote, unquote, urlsplit

from airflow_provider_mathpix.contract.ids import custom_id_from_key
from airflow_provider_mathpix.contract.items import destination_for
from airflow_provider_mathpix.exceptions import MathpixError, MathpixValidationError

if TYPE_CHECKING:
    from airflow_provider_mathpix._compat import ObjectStoragePath

AZURE_BLOB_HOST_SUFFIX = ".blob.core.windows.net"

#: Default Airflow connection per storage kind (the providers' own defaults).
DEFAULT_CONN_IDS: Mapping[str, str] = {
    "s3": "aws_default",
    "gs": "google_cloud_default",
    "azure": "wasb_default",
}
#: The pip extra of this package that brings each kind's provider.
PROVIDER_EXTRAS: Mapping[str, str] = {"s3": "amazon", "gs": "google", "azure": "microsoft-azure"}
#: Mathpix's data-source ``provider`` names.
MATHPIX_PROVIDERS: Mapping[str, str] = {"s3": "aws", "gs": "gcp", "azure": "azure"}

#: Characters left as they are when a key is placed in a ``source_uri``; everything else
#: (whitespace, ``%``, ``#``, ``?``, non-ASCII) is percent-encoded so the URI stays valid.
_KEY_SAFE_CHARS = "/!$&'()*+,;=:@~-._"

#: ``ObjectStoragePath.protocol`` values that mean the local filesystem.
LOCAL_PROTOCOLS = ("", "file", "local")

OnEmpty = Literal["fail", "succeed"]


class SourcePrefixEmpty(MathpixError):
    """The source prefix matched no object (and ``on_empty="fail"``)."""


class DataSourceNotRegistered(MathpixError):
    """The bucket is not registered as a Mathpix data source, so Mathpix could not read or write it."""


class SourcePrefixUnreadable(MathpixError):
    """Listing the source prefix failed (no such bucket, no permission, unreachable storage)."""


class StorageProviderMissing(MathpixError, ImportError):
    """The Airflow provider package for a storage kind is not installed."""


@dataclass(frozen=True)
class StorageLocation:
    """A bucket prefix, cloud-neutral: ``kind`` is ``s3`` | ``gs`` | ``azure``."""

    kind: str
    bucket: str  # bucket, or Azure container
    key: str  # key or key prefix ("" = whole bucket)
    account: str | None = None  # Azure storage account, when known from the URI

    def mathpix_uri(self, key: str | None = None, account: str | None = None) -> str:
        """The Mathpix form of ``key`` (default: this location's key), percent-encoded."""
        encoded = quote(self.key if key is None else key, safe=_KEY_SAFE_CHARS)
        if self.kind == "azure":
            acct = account or self.account
            if not acct:
                raise MathpixValidationError(
                    f"cannot build an Azure Blob URI for container {self.bucket!r}: storage account unknown"
                )
            return f"https://{acct}{AZURE_BLOB_HOST_SUFFIX}/{self.bucket}/{encoded}"
        return f"{self.kind}://{self.bucket}/{encoded}"


# ---------------------------------------------------------------------- pure parsing
def parse_location(uri: str, field: str = "source_prefix") -> StorageLocation:
    """Parse a bucket URI in any accepted form (pure; raises naming ``field``).

    Accepted: ``s3://bucket/prefix``, ``gs://bucket/prefix``,
    ``https://{account}.blob.core.windows.net/{container}/prefix``,
    ``abfs://container/prefix`` and ``abfs://container@{account}.dfs.core.windows.net/prefix``
    (also ``abfss``, ``wasb``, ``wasbs``). Anything else names the accepted schemes.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise MathpixValidationError(f"{field} must be a non-empty bucket URI")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("s3", "gs", "gcs"):
        if not parts.netloc:
            raise MathpixValidationError(f"{field} {uri!r} has no bucket ({scheme}://bucket/prefix)")
        return StorageLocation("gs" if scheme == "gcs" else scheme, parts.netloc, parts.path.lstrip("/"))
    if scheme == "https" and (parts.hostname or "").lower().endswith(AZURE_BLOB_HOST_SUFFIX):
        account = (parts.hostname or "")[: -len(AZURE_BLOB_HOST_SUFFIX)]
        container, _, key = parts.path.lstrip("/").partition("/")
        if not account or not container:
            raise MathpixValidationError(
                f"{field} {uri!r}: expected https://{{account}}{AZURE_BLOB_HOST_SUFFIX}/{{container}}/prefix"
            )
        return StorageLocation("azure", container, unquote(key), account=account)
    if scheme in ("abfs", "abfss", "wasb", "wasbs", "az"):
        container, _, host = parts.netloc.partition("@")
        if not container:
            raise MathpixValidationError(f"{field} {uri!r} has no container ({scheme}://container/prefix)")
        return StorageLocation(
            "azure", container, parts.path.lstrip("/"), account=host.split(".", 1)[0] if host else None
        )
    raise MathpixValidationError(
        f"{field} {uri!r} uses an unsupported scheme {scheme or '(none)'!r}; use s3://, gs://, "
        f"https://{{account}}{AZURE_BLOB_HOST_SUFFIX}/{{container}}/… or abfs://{{container}}/…"
    )


def location_of(
    source: str | ObjectStoragePath, field: str = "source_prefix"
) -> tuple[StorageLocation, str | None]:
    """A location and the connection id an ``ObjectStoragePath`` carries (None for a string)."""
    if isinstance(source, str):
        return parse_location(source, field), None
    protocol = str(getattr(source, "protocol", "") or "")
    if protocol in LOCAL_PROTOCOLS:
        raise MathpixValidationError(f"{field} {str(source)!r} is a local path; a bucket prefix is needed")
    bucket = str(getattr(source, "bucket", ""))
    key = str(getattr(source, "key", ""))
    loc = parse_location(f"{protocol}://{bucket}/{key}", field)
    return loc, getattr(source, "conn_id", None)


def folder_prefix(key: str) -> str:
    """Treat a prefix as a folder: ``in`` lists ``in/…``, not ``in-old/…`` (what a DAG author means)."""
    return key if not key or key.endswith("/") else key + "/"


@lru_cache(maxsize=64)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append(f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(relative_key: str, pattern: str) -> bool:
    """Glob on a key relative to the prefix: ``*`` within a segment, ``**/`` any depth (pure)."""
    return _glob_regex(pattern).match(relative_key) is not None


def key_selected(relative_key: str, pattern: str | None, suffixes: Sequence[str] | None) -> bool:
    """Whether a listed key becomes an item: not a folder marker, matches the glob and a suffix."""
    if not relative_key or relative_key.endswith("/"):
        return False
    if suffixes and not relative_key.lower().endswith(tuple(s.lower() for s in suffixes)):
        return False
    return pattern is None or glob_match(relative_key, pattern)


def basename_for(relative_key: str) -> str:
    """Output basename for a key: its file name without extension (``a/c-001.pdf`` → ``c-001``)."""
    name = posixpath.basename(relative_key)
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


def item_for(
    loc: StorageLocation,
    key: str,
    prefix: str,
    *,
    account: str | None = None,
    destination_prefix: str | None = None,
) -> dict[str, str]:
    """The job item for one listed key (pure)."""
    relative = key[len(prefix) :]
    custom_id = custom_id_from_key(relative)
    item = {"source_uri": loc.mathpix_uri(key, account=account), "custom_id": custom_id}
    if destination_prefix:
        item["destination_uri"] = destination_for(destination_prefix, custom_id)
        item["destination_basename"] = basename_for(relative)
    return item


def validate_walk_options(
    pattern: str | None, suffixes: Sequence[str] | None, on_empty: str, destination_prefix: str | None
) -> None:
    """Reject bad walk options before any request, naming the field."""
    if pattern is not None and (not isinstance(pattern, str) or not pattern):
        raise MathpixValidationError("pattern must be a non-empty glob string such as '**/*.pdf'")
    if suffixes is not None and (
        isinstance(suffixes, str) or not all(isinstance(s, str) and s for s in suffixes)
    ):
        raise MathpixValidationError("suffixes must be a list of non-empty strings such as ['.pdf']")
    if on_empty not in ("fail", "succeed"):
        raise MathpixValidationError(f"on_empty must be 'fail' or 'succeed', got {on_empty!r}")
    if destination_prefix is not None:
        dest = parse_location(destination_prefix, "destination_prefix")
        if dest.kind == "azure" and not destination_prefix.lower().startswith("https://"):
            raise MathpixValidationError(
                "destination_prefix for Azure must be the Mathpix form "
                f"https://{{account}}{AZURE_BLOB_HOST_SUFFIX}/{{container}}/…, got {destination_prefix!r}"
            )


# ---------------------------------------------------------------------- data sources
def find_data_source(
    data_sources: Sequence[Mapping[str, Any]], provider: str, bucket: str, account: str | None = None
) -> Mapping[str, Any] | None:
    """The registration for ``provider`` + ``bucket`` in an API listing, if any (pure).

    Azure registrations may be listed as ``container`` or ``account/container``; with
    ``account`` known, an ``account/container`` entry must name the same account.
    """
    for source in data_sources:
        if source.get("provider") != provider:
            continue
        listed = str(source.get("bucket", ""))
        if listed == bucket:
            return source
        if provider == "azure" and "/" in listed:
            listed_account, _, container = listed.partition("/")
            if container == bucket and (account is None or listed_account.lower() == account.lower()):
                return source
    return None


def check_data_source(
    hook: Any, uri: str, *, data_sources: Sequence[Mapping[str, Any]] | None = None
) -> Mapping[str, Any]:
    """Return the data source registered for ``uri``'s bucket, or raise :class:`DataSourceNotRegistered`.

    Asks the API's list (``hook.list_data_sources()``) unless ``data_sources`` is
    given (to check a source and a destination with one request). For Azure the
    container is the bucket.
    """
    loc = parse_location(uri, "uri")
    provider, bucket = MATHPIX_PROVIDERS[loc.kind], loc.bucket
    sources = hook.list_data_sources() if data_sources is None else data_sources
    found = find_data_source(sources, provider, bucket, loc.account)
    if found is None:
        raise DataSourceNotRegistered(
            f"{uri!r}: bucket {bucket!r} ({provider}) is not registered as a Mathpix data source; "
            "register it once (MathpixCreateDataSourceOperator or POST /files/v1/data-sources) "
            "or pass check_data_sources=False"
        )
    return found


# ---------------------------------------------------------------------- destinations (writing)
def to_object_storage_path(
    destination: str | ObjectStoragePath, conn_id: str | None = None
) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` to write outputs to, from any accepted destination form.

    Local paths stay local. ``s3://``/``gs://`` get the scheme's default connection
    unless ``conn_id`` is given; an Azure ``https://{account}.blob.core.windows.net/{c}/…``
    URL becomes ``abfs://{c}/…`` on the ``wasb`` connection. A given
    ``ObjectStoragePath`` keeps its own connection.
    """
    from airflow_provider_mathpix._compat import ObjectStoragePath

    if not isinstance(destination, str):
        return destination
    if not destination.strip():
        raise MathpixValidationError("destination must be a non-empty path or bucket URI")
    scheme = urlsplit(destination).scheme.lower()
    if scheme in ("", "file"):
        return ObjectStoragePath(destination)
    loc = parse_location(destination, "destination")
    conn = conn_id or DEFAULT_CONN_IDS[loc.kind]
    if loc.kind == "azure":
        _require_provider("azure")
        return ObjectStoragePath(f"abfs://{loc.bucket}/{loc.key}", conn_id=conn)
    _require_provider(loc.kind)
    return ObjectStoragePath(f"{loc.kind}://{loc.bucket}/{loc.key}", conn_id=conn)


def missing_provider(kind: str, exc: ImportError) -> StorageProviderMissing:
    """The error naming the extra to install for a storage kind whose provider is absent."""
    extra = PROVIDER_EXTRAS[kind]
    return StorageProviderMissing(
        f"{kind} storage needs the Airflow {extra} provider: pip install 'airflow-provider-mathpix[{extra}]' "
        f"({exc})"
    )


def is_local_path(path: ObjectStoragePath) -> bool:
    """Whether an ``ObjectStoragePath`` is on the local filesystem."""
    return str(path.protocol) in LOCAL_PROTOCOLS


_PROVIDER_MODULES = {
    "s3": "airflow.providers.amazon.aws.fs.s3",
    "gs": "airflow.providers.google.cloud.fs.gcs",
    "azure": "airflow.providers.microsoft.azure.fs.adls",
}


def _require_provider(kind: str) -> None:
    import importlib

    try:
        importlib.import_module(_PROVIDER_MODULES[kind])
    except ImportError as exc:
        raise missing_provider(kind, exc) from exc


# ---------------------------------------------------------------------- whole writes
@contextlib.contextmanager
def write_whole(path: ObjectStoragePath) -> Iterator[IO[bytes]]:
    """Open ``path`` for writing so that no reader ever sees a partial object at its name.

    Local files are written to a hidden temporary file beside the target and renamed
    over it once complete (``os.replace`` is atomic); a kill mid-write leaves only the
    temporary file. Object stores publish an object only when its upload completes
    (S3 single PUT or completed multipart upload, GCS resumable upload, Azure block
    list commit): on an error the upload is discarded instead of being completed, and
    a killed process never completes it. So whatever is found at a final name is whole,
    which is what makes ``trust_existing`` safe.
    """
    if is_local_path(path):
        with write_local_whole(path.path) as local:
            yield local
        return
    out = path.open("wb")
    try:
        yield out
    except BaseException:
        _abandon(out)
        raise
    out.close()


@contextlib.contextmanager
def write_local_whole(final: str) -> Iterator[IO[bytes]]:
    """:func:`write_whole` for a local file named by a plain path (no filesystem object)."""
    whole = LocalWholeWrite(final)
    try:
        yield whole.file
    except BaseException:
        whole.discard()
        raise
    whole.commit()


class LocalWholeWrite:
    """A local file written under a hidden temporary name beside ``final``, renamed over it once whole.

    The steps behind :func:`write_local_whole` (and so :func:`write_whole` on local disk),
    with plain-path input, so the download engine writes each local output with os calls
    only (an ``ObjectStoragePath`` per output costs more than the write). The temporary name is
    unique (``mkstemp``), so two writers of one name never share it; :meth:`commit`
    flushes to the disk before the rename, so after a crash the final name holds the
    whole output or its previous one.
    """

    def __init__(self, final: str) -> None:
        self.final = final
        parent = os.path.dirname(final) or "."
        os.makedirs(parent, exist_ok=True)
        fd, self.temp = tempfile.mkstemp(prefix=f".{os.path.basename(final)}.", suffix=".part", dir=parent)
        self.file: IO[bytes] = os.fdopen(fd, "wb")

    def commit(self) -> None:
        """Publish the file at its final name (atomic ``os.replace``); on any failure, discard it."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.temp, self.final)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Close and remove the temporary file: nothing appears at the final name."""
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.temp)


def _abandon(out: Any) -> None:
    """Drop an unfinished object-store upload without completing it.

    fsspec's ``close()`` (also called when the file object is garbage-collected)
    completes the upload with whatever was written, so the file is discarded (s3fs aborts
    its multipart upload, gcsfs deletes its resumable session) and marked closed.
    ``ObjectStoragePath.open`` wraps the fsspec file (for lineage), hence ``_obj``.
    """
    raw = getattr(out, "_obj", out)
    discard = getattr(raw, "discard", None)
    if callable(discard):
        with contextlib.suppress(Exception):
            discard()
    with contextlib.suppress(Exception):
        raw.closed = True
