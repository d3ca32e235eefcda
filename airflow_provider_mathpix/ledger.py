"""The conversion ledger: which (source, content) pairs earlier runs converted.

Where the truth lives, and why there:

- In storage the DAG author chooses (``ledger_path``: a folder, typically beside the
  outputs in the destination bucket; local paths work too), so it survives the loss of
  any worker and every worker sees the same one. Never Airflow Variables or XCom: the
  metadata database is not a place for a million per-document entries.
- One segment per job, ``<ledger_path>/<job_id>.ledger``, written only once the job's
  results are known (from the same listing of completed files that feeds the manifest)
  and written whole: buffered, then one object PUT (atomic on S3, GCS and Azure) or, on
  a local disk, a temporary file renamed into place. A reader never sees half a segment.
  Segments are append-only by name, so two runs finishing at once never overwrite each
  other; a cleared-and-rerun day rewrites its own segment with a superset.
- A segment is ``MPXLEDG1`` followed by 16-byte digests of (source URI, content
  identity) (:func:`airflow_provider_mathpix.incremental.content_digest`), one per
  completed file. Only completed files are recorded: an errored document is tried again
  by the next run.

Reading is one listing of the folder and one streamed read per segment into a single
sorted NumPy array of fixed 16-byte strings: 16 bytes per converted document, no Python
object per document (1,000,000 documents: 16 MB; see ``benchmarks/incremental_check.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from airflow_provider_mathpix.exceptions import MathpixError, MathpixValidationError
from airflow_provider_mathpix.incremental import DIGEST_SIZE, split_versioned_custom_id
from airflow_provider_mathpix.storage import write_whole

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

MAGIC = b"MPXLEDG1"
SEGMENT_SUFFIX = ".ledger"
_DTYPE = f"S{DIGEST_SIZE}"
#: Digests read per chunk of a segment (1 MiB).
_READ_DIGESTS = 65536


class LedgerCorrupt(MathpixError):
    """A ledger segment is not one this provider wrote (wrong header or a truncated record)."""


class DigestBuffer:
    """A growable array of fixed-size digests (amortised doubling, one NumPy buffer)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, dtype=_DTYPE)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _reserve(self, extra: int) -> None:
        need = self._size + extra
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data)), dtype=_DTYPE)
            grown[: self._size] = self._data[: self._size]
            self._data = grown

    def append(self, digest: bytes) -> None:
        self._reserve(1)
        self._data[self._size] = digest
        self._size += 1

    def extend_raw(self, raw: bytes | memoryview) -> None:
        """Append the digests packed in ``raw`` (a multiple of the digest size)."""
        chunk = np.frombuffer(raw, dtype=_DTYPE)
        self._reserve(len(chunk))
        self._data[self._size : self._size + len(chunk)] = chunk
        self._size += len(chunk)

    def array(self) -> np.ndarray:
        return self._data[: self._size]


def _sorted_unique(digests: np.ndarray) -> np.ndarray:
    """Sorted without duplicates, in place where possible (``np.unique`` makes several copies)."""
    digests.sort()
    keep = np.empty(len(digests), dtype=bool)
    keep[0] = True
    np.not_equal(digests[1:], digests[:-1], out=keep[1:])
    return digests if keep.all() else digests[keep]


class ConvertedSet:
    """The digests of every (source, content) pair converted so far: sorted, unique, compact."""

    def __init__(self, digests: np.ndarray | None = None) -> None:
        self._sorted = (
            _sorted_unique(digests) if digests is not None and len(digests) else np.empty(0, _DTYPE)
        )

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, digest: object) -> bool:
        if not isinstance(digest, bytes) or len(self._sorted) == 0:
            return False
        index = int(np.searchsorted(self._sorted, digest))
        # NumPy hands back fixed-size strings without their trailing NUL bytes.
        return index < len(self._sorted) and bytes(self._sorted[index]).ljust(DIGEST_SIZE, b"\0") == digest

    @property
    def nbytes(self) -> int:
        return int(self._sorted.nbytes)


# ---------------------------------------------------------------------- locations
def ledger_folder(
    ledger_path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None
) -> ObjectStoragePath:
    """The ledger folder as an ObjectStoragePath (local path, bucket URI, or a given path)."""
    from airflow_provider_mathpix._compat import ObjectStoragePath
    from airflow_provider_mathpix.storage import to_object_storage_path

    if isinstance(ledger_path, ObjectStoragePath):
        return ledger_path
    text = os.fspath(ledger_path)
    if not text.strip():
        raise MathpixValidationError("ledger_path must be a non-empty folder (local path or bucket URI)")
    if "://" not in text:
        return ObjectStoragePath(f"file://{os.path.abspath(text)}")
    return to_object_storage_path(text, conn_id)


# ---------------------------------------------------------------------- reading
def read_converted(folder: ObjectStoragePath) -> ConvertedSet:
    """Every digest of every segment under ``folder`` (an absent folder is an empty ledger).

    One listing of the folder gives the segments and their sizes, so the array is
    allocated once at its final size and each segment is streamed straight into it.
    """
    segments = _list_segments(folder)
    total = sum(max(size - len(MAGIC), 0) // DIGEST_SIZE for _, size in segments)
    buffer = DigestBuffer(max(total, 1))
    for path, _ in segments:
        _read_segment(folder / path, buffer)
    return ConvertedSet(buffer.array())


def _list_segments(folder: ObjectStoragePath) -> list[tuple[str, int]]:
    """``(name, size)`` of each segment: one listing, no request per segment."""
    try:
        entries = folder.fs.ls(folder.path, detail=True)
    except FileNotFoundError:
        return []
    out = []
    for entry in entries:
        name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
        if entry.get("type") == "file" and name.endswith(SEGMENT_SUFFIX) and not name.startswith("."):
            out.append((name, int(entry.get("size") or 0)))
    return sorted(out)


def _read_segment(path: ObjectStoragePath, buffer: DigestBuffer) -> None:
    with path.open("rb") as stream:
        if stream.read(len(MAGIC)) != MAGIC:
            raise LedgerCorrupt(f"{path.as_uri()} is not a Mathpix ledger segment (bad header)")
        pending = b""
        while True:
            raw = stream.read(_READ_DIGESTS * DIGEST_SIZE)
            if not raw:
                break
            if pending:
                raw = pending + raw
            whole = len(raw) - len(raw) % DIGEST_SIZE
            buffer.extend_raw(memoryview(raw)[:whole])
            pending = raw[whole:]
    if pending:
        raise LedgerCorrupt(f"{path.as_uri()} ends with a truncated record ({len(pending)} bytes)")


# ---------------------------------------------------------------------- writing
def write_segment(folder: ObjectStoragePath, name: str, digests: np.ndarray) -> ObjectStoragePath:
    """Write ``<folder>/<name>.ledger`` whole: never a partial object at its final name."""
    path = folder / f"{name}{SEGMENT_SUFFIX}"
    with write_whole(path) as out:
        out.write(MAGIC)
        out.write(np.ascontiguousarray(digests, dtype=_DTYPE).tobytes())
    return path


class LedgerRecorder:
    """Collects a finished job's completed files as they stream into the manifest, then commits.

    ``add`` is fed every manifest record; ``commit`` (called once the listing is complete)
    writes the job's segment. A listing cut short (an API error mid-way) commits nothing.
    """

    def __init__(self, folder: ObjectStoragePath, log: Any = None) -> None:
        self.folder = folder
        self.log = log
        self._digests = DigestBuffer()
        self.written: ObjectStoragePath | None = None

    def add(self, record: Mapping[str, Any]) -> None:
        if record.get("status") != "completed":
            return
        split = split_versioned_custom_id(record.get("custom_id"))
        if split is not None:
            self._digests.append(split[1])

    def reset(self) -> None:
        """Forget what was fed so far (the listing is being read again from the start)."""
        self._digests = DigestBuffer()

    def commit(self, job_name: str) -> None:
        self.written = write_segment(self.folder, job_name, self._digests.array())
        if self.log is not None:
            self.log.info(
                "Recorded %s converted documents of job %s in the ledger %s",
                f"{len(self._digests):,}",
                job_name,
                self.written.as_uri(),
            )
