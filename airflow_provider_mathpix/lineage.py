"""Map the provider's source and destination URIs to OpenLineage datasets.

Why a pure helper: lineage naming is a contract with every other tool in a platform
(Spark, dbt, warehouses). A dataset named ``s3://bucket`` + ``incoming/a.pdf`` here joins
the node another producer emitted for the same object; one named differently is an orphan.
So the rules of the OpenLineage naming spec live in one place, are tested without any
server, and the operators only say *which* URIs they read and wrote.

Naming spec (openlineage.io/docs/spec/naming), dataset = (namespace, name):

=========================  ==========================================================  ============
store                      namespace                                                   name
=========================  ==========================================================  ============
S3                         ``s3://{bucket}``                                           object key
GCS                        ``gs://{bucket}``                                           object key
Azure Blob (WASBS)         ``wasbs://{container}@{account}.dfs.core.windows.net``      object key
ADLS Gen2 (ABFSS)          ``abfss://{container}@{account}.dfs.core.windows.net``      path
local file system          ``file``                                                    path
remote file system / HTTP  ``{scheme}://{host}``                                       path
=========================  ==========================================================  ============

(The WASBS row does say ``.dfs.``: that is the spec's literal text, followed so that our
names match other producers'.) Mathpix's own Azure form,
``https://{account}.blob.core.windows.net/{container}/{blob}``, is mapped to the WASBS row.

Nothing from OpenLineage is imported at module import time: :func:`operator_lineage`
imports ``OperatorLineage`` only when called, and returns ``None`` when the OpenLineage
provider is not installed (Airflow then simply has no lineage for the task).
"""

from __future__ import annotations

import itertools
import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

AZURE_BLOB_SUFFIX = ".blob.core.windows.net"
AZURE_DFS_SUFFIX = ".dfs.core.windows.net"
DEFAULT_MAX_DATASETS = 100

_S3_SCHEMES = ("s3", "s3a", "s3n")
_GCS_SCHEMES = ("gs", "gcs")
_WASB_SCHEMES = ("wasb", "wasbs")
_ABFS_SCHEMES = ("abfs", "abfss", "az", "adl")


@dataclass(frozen=True, order=True)
class LineageDataset:
    """An OpenLineage dataset identifier: a ``namespace`` plus a ``name`` unique within it."""

    namespace: str
    name: str

    @property
    def uri(self) -> str:
        """The URI the spec says the pair combines into (``namespace`` + ``/`` + ``name``)."""
        if self.namespace == "file":
            return f"file://{self.name}"
        return f"{self.namespace}/{self.name.lstrip('/')}"


def _key(path: str) -> str:
    """An object key from a URL path: no leading slash, no trailing slash; the root is ``/``."""
    key = path.lstrip("/").rstrip("/")
    return key or "/"


def _as_text(uri: Any) -> str:
    """A URI string; an ``ObjectStoragePath`` is rebuilt without the ``conn_id@`` it prints."""
    protocol = getattr(uri, "protocol", None)
    if isinstance(protocol, (list, tuple)):
        protocol = protocol[0] if protocol else None
    if isinstance(protocol, str) and hasattr(uri, "bucket") and hasattr(uri, "key"):
        if protocol in ("file", "local"):
            return f"file://{uri.path}"
        return f"{protocol}://{uri.bucket}/{uri.key}"
    return str(uri).strip()


def dataset_for_uri(uri: Any, *, azure_account_name: str | None = None) -> LineageDataset | None:
    """Name one source or destination (``str`` or ``ObjectStoragePath``) per the naming spec.

    ``azure_account_name`` completes an ``abfs://container/path`` ObjectStoragePath, whose
    URI names only the container (the account lives in its connection). A string without
    a scheme is a local path (relative ones are made absolute). Returns ``None`` for an
    empty string.
    """
    if uri is None:
        return None
    text = _as_text(uri)
    if not text:
        return None
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not scheme or "://" not in text:
        # A plain path, as a download destination may be: the local file system, made absolute
        # the way the download operator resolves it.
        return LineageDataset("file", posixpath.normpath(os.path.abspath(text)))
    if scheme in _S3_SCHEMES:
        return LineageDataset(f"s3://{parts.netloc}", _key(parts.path))
    if scheme in _GCS_SCHEMES:
        return LineageDataset(f"gs://{parts.netloc}", _key(parts.path))
    if scheme in ("http", "https") and host.endswith(AZURE_BLOB_SUFFIX):
        account = host.removesuffix(AZURE_BLOB_SUFFIX)
        container, _, blob = parts.path.lstrip("/").partition("/")
        return LineageDataset(f"wasbs://{container}@{account}{AZURE_DFS_SUFFIX}", _key(blob))
    if scheme in _WASB_SCHEMES or scheme in _ABFS_SCHEMES:
        out_scheme = "wasbs" if scheme in _WASB_SCHEMES else "abfss"
        if "@" in parts.netloc:
            container, _, account_host = parts.netloc.partition("@")
            account = account_host.split(".", 1)[0]
            return LineageDataset(f"{out_scheme}://{container}@{account}{AZURE_DFS_SUFFIX}", _key(parts.path))
        # ObjectStoragePath form: abfs://container/path, the account comes from the connection.
        container = parts.netloc
        if azure_account_name:
            return LineageDataset(
                f"{out_scheme}://{container}@{azure_account_name}{AZURE_DFS_SUFFIX}", _key(parts.path)
            )
        return LineageDataset(f"{out_scheme}://{container}", _key(parts.path))
    if scheme == "file":
        path = posixpath.normpath(parts.path or "/")
        if host and host != "localhost":
            return LineageDataset(f"file://{host}", path)
        return LineageDataset("file", path)
    authority = parts.netloc.rsplit("@", 1)[-1]  # never carry credentials into a namespace
    return LineageDataset(f"{scheme}://{authority}", parts.path or "/")


def datasets_for_uris(
    uris: Iterable[Any],
    *,
    max_datasets: int = DEFAULT_MAX_DATASETS,
    azure_account_name: str | None = None,
) -> list[LineageDataset]:
    """Name many locations, de-duplicated, in first-seen order, and at most ``max_datasets``.

    A job may read 200,000 files. Lineage wants the data flow, not a 200,000-node
    fan-in, so when the distinct datasets exceed ``max_datasets`` they are collapsed to
    their parent folders (repeatedly, until they fit or reach the bucket root). Only the
    first ``max_datasets * 10`` URIs are looked at, so a huge ``files=`` list costs
    bounded time.
    """
    seen: dict[LineageDataset, None] = {}
    for index, uri in enumerate(uris):
        if index >= max_datasets * 10:
            break
        dataset = dataset_for_uri(uri, azure_account_name=azure_account_name)
        if dataset is not None:
            seen.setdefault(dataset, None)
    datasets = list(seen)
    while len(datasets) > max_datasets:
        parents = list(dict.fromkeys(_parent(d) for d in datasets))
        if parents == datasets:
            break
        datasets = parents
    return datasets[:max_datasets]


def _parent(dataset: LineageDataset) -> LineageDataset:
    head = posixpath.dirname(dataset.name.rstrip("/"))
    if dataset.namespace == "file":
        return LineageDataset("file", head or "/")
    return LineageDataset(dataset.namespace, head or "/")


def to_openlineage(datasets: Iterable[LineageDataset]) -> list[Any]:
    """Build OpenLineage ``Dataset`` objects (imports the OpenLineage client on call)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return [Dataset(namespace=d.namespace, name=d.name) for d in datasets]


def operator_lineage(
    inputs: Iterable[Any] = (),
    outputs: Iterable[Any] = (),
    *,
    max_datasets: int = DEFAULT_MAX_DATASETS,
    azure_account_name: str | None = None,
) -> Any:
    """An ``OperatorLineage`` for ``get_openlineage_facets_on_complete``, or ``None``.

    ``None`` when the OpenLineage provider is not installed: the operator's method can
    then return this value unconditionally and Airflow treats it as "no lineage".
    """
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    options = {"max_datasets": max_datasets, "azure_account_name": azure_account_name}
    return OperatorLineage(
        inputs=to_openlineage(datasets_for_uris(inputs, **options)),  # type: ignore[arg-type]
        outputs=to_openlineage(datasets_for_uris(outputs, **options)),  # type: ignore[arg-type]
    )


def _item_source(entry: Any) -> Any:
    return entry.get("source_uri") if isinstance(entry, Mapping) else entry


def _item_destination(entry: Any) -> Any:
    return entry.get("destination_uri") if isinstance(entry, Mapping) else None


def job_lineage(
    *,
    source_prefix: Any = None,
    files: Iterable[Any] | None = None,
    destination_prefix: Any = None,
    max_datasets: int = DEFAULT_MAX_DATASETS,
) -> Any:
    """Lineage of a job submission (``MathpixSubmitJobOperator``'s arguments, rendered).

    Inputs: the ``source_prefix`` as one dataset, else each entry of ``files`` (a source URI
    string or an item dict's ``source_uri``). Outputs: the ``destination_prefix``, else the
    items' own ``destination_uri``. ``files`` is consumed lazily and only as far as
    :func:`datasets_for_uris` looks, so a 200,000-item list costs bounded time.
    """
    window = max_datasets * 10
    entries = files if isinstance(files, Sequence) else list(itertools.islice(files or (), window))
    if source_prefix:
        inputs: Iterable[Any] = [source_prefix]
    else:
        inputs = (_item_source(entry) for entry in entries or ())
    if destination_prefix:
        outputs: Iterable[Any] = [destination_prefix]
    else:
        outputs = (d for d in (_item_destination(entry) for entry in entries or ()) if d)
    return operator_lineage(inputs, outputs, max_datasets=max_datasets)
