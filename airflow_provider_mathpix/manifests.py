"""Job manifests: one JSON line per file, streamed into any ``ObjectStoragePath``.

Why a manifest and not XCom: a job can hold 200,000 files, and XCom lives in the
metadata database; it must stay small (ids, counters, a URI). The per-file results
(file_id, custom_id, status, error, output URIs) go to storage -- local disk, ``s3://``,
``gs://``, ``abfs://`` through Airflow's own ObjectStoragePath and provider hooks --
written line by line as the listing pages arrive, so memory stays flat whatever the
job size. A downstream task reads it back with :func:`read_manifest`.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_mathpix._compat import ObjectStoragePath, conf
from airflow_provider_mathpix.storage import to_object_storage_path, write_whole

#: Where manifests go when nothing is configured: under the Airflow home, one per job.
DEFAULT_MANIFEST_DIR = ("mathpix", "manifests")
#: Executors whose tasks all run on one machine (a local default manifest is then readable).
_SINGLE_MACHINE_EXECUTORS = {"", "LocalExecutor", "SequentialExecutor", "DebugExecutor"}

log = logging.getLogger(__name__)


#: Records joined into one ``write()``: each write through Airflow's object-storage file
#: wrapper costs far more than the bytes (it formats the path for lineage every call).
WRITE_BLOCK = 1000
#: One encoder for every record: ``json.dumps`` with options builds a new one per call,
#: a third of the CPU of writing a listing-speed manifest.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def default_manifest_path(job_id: str) -> ObjectStoragePath:
    """Where job ``job_id``'s manifest goes when the DAG author gives no ``manifest_path``.

    In order: ``[mathpix] manifest_base`` (with ``[mathpix] manifest_conn_id``); the
    object-storage XCom backend's ``[common.io] xcom_objectstorage_path`` (shared by
    construction) + ``/mathpix/manifests``; else ``$AIRFLOW_HOME/mathpix/manifests`` on the
    worker's own disk, with a warning when the executor runs tasks on several machines (a
    downstream ``read_manifest`` may land where that disk is not). Keyed by job so the
    operator and a sensor watching the same job write (and a retry rewrites) the same file;
    ``job_id`` is charset-safe (``[A-Za-z0-9_\\-.:]``), so it is a safe file name.
    """
    name = f"{job_id}.jsonl"
    base = conf.get("mathpix", "manifest_base", fallback="") or ""
    if base.strip():
        conn_id = conf.get("mathpix", "manifest_conn_id", fallback="") or None
        return _under(base.strip(), conn_id) / name
    backend = conf.get("core", "xcom_backend", fallback="") or ""
    xcom_path = conf.get("common.io", "xcom_objectstorage_path", fallback="") or ""
    if xcom_path.strip() and backend.endswith("XComObjectStorageBackend"):
        return ObjectStoragePath(xcom_path.strip().rstrip("/")) / "mathpix" / "manifests" / name
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    path = ObjectStoragePath(f"file://{os.path.join(home, *DEFAULT_MANIFEST_DIR, name)}")
    _warn_if_distributed(path)
    return path


def _under(base: str, conn_id: str | None) -> ObjectStoragePath:
    """A folder from config: a local path, ``scheme://bucket/prefix``, or ``scheme://conn@bucket/…``."""
    if "://" not in base:
        return ObjectStoragePath(f"file://{os.path.abspath(base)}")
    if "@" in base.split("://", 1)[1].split("/", 1)[0]:  # the connection is in the URL already
        return ObjectStoragePath(base.rstrip("/"))
    return to_object_storage_path(base.rstrip("/"), conn_id)


def _warn_if_distributed(path: ObjectStoragePath) -> None:
    executors = [
        e.strip().split(":")[-1].rsplit(".", 1)[-1]
        for e in (conf.get("core", "executor", fallback="") or "").split(",")
    ]
    distributed = [e for e in executors if e not in _SINGLE_MACHINE_EXECUTORS]
    if distributed:
        log.warning(
            "The Mathpix manifest goes to this worker's local disk (%s), but the executor (%s) runs "
            "tasks on several machines: a downstream read_manifest on another worker will not find "
            "it. Set [mathpix] manifest_base to shared storage (e.g. s3://my-bucket/mathpix/manifests) "
            "or pass manifest_path= to the operator.",
            manifest_uri(path),
            ", ".join(distributed),
        )


def resolve_manifest_path(
    manifest_path: str | os.PathLike[str] | ObjectStoragePath | None,
    *,
    job_id: str,
    conn_id: str | None = None,
) -> ObjectStoragePath:
    """Turn what the DAG author gave (or nothing) into an ObjectStoragePath.

    A plain local path becomes ``file://``; a URI string gets ``conn_id`` (the storage
    connection); an ObjectStoragePath keeps its own ``conn_id``. A path ending in ``/``
    is a folder: the manifest is ``<folder>/<job_id>.jsonl`` inside it.
    """
    if manifest_path is None:
        return default_manifest_path(job_id)
    if isinstance(manifest_path, ObjectStoragePath):
        path = manifest_path
        is_dir = str(manifest_path).endswith("/")
    else:
        text = os.fspath(manifest_path)
        is_dir = text.endswith("/")
        if "://" not in text:
            path = ObjectStoragePath(f"file://{os.path.abspath(text)}")
        else:
            # The storage layer maps each scheme to its provider's default connection
            # (aws_default, google_cloud_default, wasb_default) unless conn_id is given.
            path = to_object_storage_path(text, conn_id)
    if is_dir:
        path = path / f"{job_id}.jsonl"
    return path


def manifest_uri(path: ObjectStoragePath) -> str:
    """The URI to publish (XCom): ``s3://bucket/key``, without the connection id.

    ``str(path)`` would embed the conn_id as ``s3://aws_default@bucket/key``; readers get
    the connection from :func:`read_manifest`'s ``conn_id`` (or the scheme's default).
    """
    return path.as_uri()


def write_manifest(path: ObjectStoragePath, records: Iterable[Mapping[str, Any]]) -> int:
    """Stream ``records`` into ``path`` as JSON Lines; return how many were written.

    Written in one pass as the records arrive (the caller feeds it listing pages), so a
    million-file job needs the memory of one page. A retry overwrites the file: the
    manifest always describes the job as it is, not as an earlier attempt saw it.
    Written whole (:func:`~airflow_provider_mathpix.storage.write_whole`): if ``records``
    raises, or the process dies, nothing (or the previous manifest) is at ``path``.
    """
    count = 0
    listed = iter(records)
    with write_whole(path) as out:
        while block := [_encode(record) for record in itertools.islice(listed, WRITE_BLOCK)]:
            out.write(("\n".join(block) + "\n").encode("utf-8"))
            count += len(block)
    return count


def read_manifest(path: str | ObjectStoragePath, *, conn_id: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield the records of a manifest one by one (for downstream tasks)."""
    if not isinstance(path, ObjectStoragePath):
        path = to_object_storage_path(path, conn_id)
    with path.open("r", encoding="utf-8") as lines:
        # readline, not iteration: Airflow 3.0's tracking file wrapper is not iterable.
        for line in iter(lines.readline, ""):
            if line.strip():
                yield json.loads(line)
