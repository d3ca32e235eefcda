"""The ``custom_id`` digests one job has seen, held compactly (12 bytes each) for the duplicate check.

:class:`~airflow_provider_mathpix.contract.job_limits.JobItemChecker` refuses a
``custom_id`` repeated anywhere in a job; in a Python ``set`` each digest costs
about 90 bytes (the bytes object and its slot), 90 MB for a million-item walk. Here the
recent digests sit in a small set and every ``batch`` of them is merged into one sorted
NumPy array, so a million ids cost ~12 MB (plus a 2 MB filter that spares most lookups
their binary search). NumPy is why this lives outside ``contract/`` (stdlib only): the rule and its
message stay there, this is only where the digests are kept.
"""

from __future__ import annotations

import numpy as np

from airflow_provider_mathpix.contract.job_limits import DIGEST_SIZE

_DTYPE = f"S{DIGEST_SIZE}"

#: Digests kept in the set before a merge: bounds the set to ~0.8 MB, while a merge into
#: a million sorted digests costs ~60 ms of CPU (two sorted runs, merged by timsort).
MERGE_BATCH = 8192

#: Bits of the filter that spares most lookups their binary search (2 MB): with a million
#: digests ~6 % of new ids are searched for, ~22 % at four million.
FILTER_BITS = 1 << 24


class CompactDigests:
    """A set of fixed-size digests: ``digest in seen`` and ``seen.add(digest)``."""

    def __init__(self, batch: int = MERGE_BATCH) -> None:
        self._recent: set[bytes] = set()
        self._sorted = np.empty(0, dtype=_DTYPE)
        self._batch = batch
        #: One bit per slot, set for every merged digest (made at the first merge).
        self._filter = bytearray()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def __contains__(self, digest: object) -> bool:
        if digest in self._recent:
            return True
        if not len(self._sorted) or not isinstance(digest, bytes):
            return False
        slot = int.from_bytes(digest[:3], "little")  # a digest is uniformly random bytes
        if not self._filter[slot >> 3] & (1 << (slot & 7)):
            return False  # never merged
        index = int(np.searchsorted(self._sorted, digest))
        # NumPy drops trailing NUL bytes of an ``S`` element when it hands it out.
        return index < len(self._sorted) and bytes(self._sorted[index]).ljust(DIGEST_SIZE, b"\0") == digest

    def add(self, digest: bytes) -> None:
        self._recent.add(digest)
        if len(self._recent) >= self._batch:
            self._merge()

    def _merge(self) -> None:
        fresh = np.array(list(self._recent), dtype=_DTYPE)
        self._recent.clear()
        fresh.sort()
        if not self._filter:
            self._filter = bytearray(FILTER_BITS // 8)
        # The filter's slots of the batch at once: the first three bytes, little-endian.
        head = fresh.view(np.uint8).reshape(len(fresh), DIGEST_SIZE)[:, :3].astype(np.uint32)
        slots = head[:, 0] | head[:, 1] << 8 | head[:, 2] << 16
        bits = np.frombuffer(self._filter, dtype=np.uint8)
        np.bitwise_or.at(bits, slots >> 3, (1 << (slots & 7)).astype(np.uint8))
        size = len(self._sorted)
        # Grown in place (realloc, no second copy of the array); the stable sort (timsort
        # for bytes) merges the two sorted runs with a buffer the size of the smaller one.
        self._sorted.resize(size + len(fresh), refcheck=False)
        self._sorted[size:] = fresh
        self._sorted.sort(kind="stable")
