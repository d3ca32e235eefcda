r"""What one job and one call may hold: chunk sizes and the per-item check (duplicate ``custom_id``\s).

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.options import ITEM_KEYS, validate_item_field

T = TypeVar("T")


#: The contract's ceiling per POST /files/v1/jobs call.
MAX_ITEMS_PER_CALL = 200_000

#: The hook's default chunk: well under the ceiling, so one failed call re-sends a
#: modest slice (~10 MB of JSON) rather than 200,000 items.
DEFAULT_MAX_ITEMS_PER_REQUEST = 50_000


def chunked(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield lists of at most ``size`` elements, consuming ``iterable`` lazily.

    Only one chunk is in memory at a time, so a generator of millions of bucket keys
    is never materialised.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise InvalidInput(f"chunk size must be a positive integer, got {size!r}")
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def validate_max_items_per_request(value: object) -> int:
    if value is None:
        return DEFAULT_MAX_ITEMS_PER_REQUEST
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ITEMS_PER_CALL:
        raise InvalidInput(
            f"max_items_per_request must be an integer from 1 to {MAX_ITEMS_PER_CALL}, got {value!r}"
        )
    return value


#: Bytes of the digest that stands for a ``custom_id`` in the duplicate check: 96 bits, so
#: two of a million ids share one with a chance of ~1e-17 (a false refusal, never a miss).
DIGEST_SIZE = 12


def custom_id_digest(custom_id: str) -> bytes:
    """The fixed-size digest remembered for ``custom_id`` (whatever the id's length)."""
    return hashlib.blake2b(custom_id.encode(), digest_size=DIGEST_SIZE).digest()


class SeenDigests(Protocol):
    """Where a checker remembers digests: a ``set[bytes]``, or a compact store of the same two calls."""

    def __contains__(self, digest: object, /) -> bool: ...

    def add(self, digest: bytes, /) -> None: ...


class JobItemChecker:
    """Validate job items one by one, remembering ``custom_id``s to catch duplicates.

    Stateful but pure (no I/O). It keeps a 12-byte digest per ``custom_id`` rather than
    the id itself, in ``seen``: a plain ``set`` by default (about 90 bytes per item), or a
    compact store for walks of millions (the hooks' ``CompactDigests``, ~12 bytes per item).
    A repeat is refused when the item carrying it is checked, so before it is sent.
    ``image_output_mode="local"`` job-wide requires every item to have a ``destination_uri``.
    """

    def __init__(self, *, needs_destination: bool = False, seen: SeenDigests | None = None) -> None:
        self._seen: SeenDigests = set() if seen is None else seen
        self._needs_destination = needs_destination

    def check(self, item: object, index: int) -> dict[str, Any]:
        if not isinstance(item, Mapping):
            raise InvalidInput(f"files[{index}] must be a mapping with a source_uri")
        custom_id = item.get("custom_id")
        where = f"files[{index}]" + (f" (custom_id {custom_id!r})" if custom_id is not None else "")
        if not ITEM_KEYS.issuperset(item):
            unknown = sorted(str(key) for key in item if key not in ITEM_KEYS)
            raise InvalidInput(f"{where}: unknown key(s) {unknown}; an item may carry {sorted(ITEM_KEYS)}")
        if item.get("source_uri") is None:
            raise InvalidInput(f"{where}.source_uri is required")
        out: dict[str, Any] = {}
        for key, value in item.items():
            if value is None:
                continue
            validate_item_field(key, value, f"{where}.{key}")
            out[key] = value
        if self._needs_destination and "destination_uri" not in out:
            raise InvalidInput(f"{where}: image_output_mode='local' needs a destination_uri")
        if custom_id is not None:
            digest = custom_id_digest(custom_id)
            if digest in self._seen:
                raise InvalidInput(
                    f"{where}: custom_id {custom_id!r} appears more than once in this job; "
                    "custom_ids must be unique within a job (an item without one gets a custom_id "
                    "derived from its source_uri, so a source listed twice repeats it)"
                )
            self._seen.add(digest)
        return out
