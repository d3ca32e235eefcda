"""Splitting one logical job into several Mathpix jobs (``max_files_per_job``), pure.

Why several jobs: a job is the unit Mathpix reports on, and some teams want smaller
ones (quicker first results, a bounded blast radius, a per-job quota). Why these
names: a retried task must re-submit each item to the SAME job, or Mathpix (which
deduplicates on ``(job_id, custom_id)``) would create and charge the files again. The
split is therefore a pure function of the ordered item stream -- part ``k`` holds items
``(k-1)*N`` to ``k*N-1`` and is named ``<job_id>.p<k>`` -- and both the explicit
``files`` list and every bucket listing (S3, GCS and Azure list in key order) give the
same order on every try.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from airflow_provider_mathpix.contract.ids import MAX_ID_LENGTH, validate_id

T = TypeVar("T")

#: At most this many characters of part ids are listed in XCom (``job_ids``): with the
#: ten-entry ``errors_sample`` the job XCom stays under 10 KB whatever the part count.
#: Past it, ``job_ids`` holds the first parts and ``job_count`` says how many there are;
#: every id is derivable with :func:`part_job_id`.
MAX_LISTED_JOB_IDS_CHARS = 2_000
_HASH_LENGTH = 16


def part_job_id(job_id: str, index: int) -> str:
    """The id of part ``index`` (1-based) of ``job_id``: ``<job_id>.p0001``.

    Always a valid Mathpix id: when ``job_id`` is too long for the suffix, its tail is
    replaced by a hash of the whole ``job_id`` (so two long ids sharing a prefix still
    name different parts).
    """
    if index < 1:
        raise ValueError(f"part index starts at 1, got {index}")
    suffix = f".p{index:04d}"
    if len(job_id) + len(suffix) <= MAX_ID_LENGTH:
        return validate_id(job_id + suffix, "job_id")
    digest = hashlib.sha256(job_id.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
    head = job_id[: MAX_ID_LENGTH - len(suffix) - _HASH_LENGTH - 1]
    return validate_id(f"{head}-{digest}{suffix}", "job_id")


def part_index(job_id: str, part_id: str) -> int:
    """The 1-based index of ``part_id`` among the parts of ``job_id`` (inverse of :func:`part_job_id`)."""
    _, sep, number = part_id.rpartition(".p")
    if sep and number.isdigit() and part_job_id(job_id, int(number) or 1) == part_id:
        return int(number)
    raise ValueError(f"{part_id!r} is not a part of job {job_id!r}")


def part_job_ids(job_id: str, count: int) -> list[str]:
    """Every part id, in order."""
    return [part_job_id(job_id, k) for k in range(1, count + 1)]


def iter_parts(items: Iterable[T], size: int) -> Iterator[Iterator[T]]:
    """Lazily cut ``items`` into consecutive parts of at most ``size``.

    Nothing is read ahead beyond one item: each part is an iterator over the shared
    stream, so the caller must consume part ``k`` before asking for part ``k+1`` (the
    hook's chunked submission does). No part is ever empty.
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    stream = iter(items)
    for first in stream:
        yield itertools.chain([first], itertools.islice(stream, size - 1))


def listed_job_ids(job_ids: list[str]) -> list[str]:
    """The part ids XCom can hold: all of them, or the first ones up to the size budget."""
    listed: list[str] = []
    used = 0
    for job_id in job_ids:
        used += len(job_id) + 4  # quotes, comma and space in the JSON
        if used > MAX_LISTED_JOB_IDS_CHARS:
            break
        listed.append(job_id)
    return listed


def parts_xcom(job_ids: list[str]) -> dict[str, Any]:
    """The keys a split job adds to the job XCom of ``design.md``."""
    return {"job_ids": listed_job_ids(job_ids), "job_count": len(job_ids)}
