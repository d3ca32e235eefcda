"""A job listing checked against the job's own counters: never short, never endless.

Mathpix accepts and defers, so ``GET /files/v1/jobs/{id}/files`` may trail the
counters of ``GET /files/v1/jobs/{id}`` (a job reports 50/50 completed while listing
none of them yet). A manifest or a download built from such a listing would succeed
short, silently. And a broken listing (fresh page tokens forever) would never end.
So every consumer of a listing compares what it listed with the counters: more records
than ``file_count`` is an ``invalid_response``; fewer than the counters is waited out
(re-listing, bounded by ``listing_timeout``) and then a failure naming the shortfall.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixError

#: Seconds to wait for a listing to catch up with the job's counters.
LISTING_TIMEOUT = 600.0
#: Seconds between two listings while waiting.
LISTING_RECHECK = 2.0


class ListingShort(MathpixError):
    """The listing holds fewer files than the job's counters say (it may still catch up)."""

    def __init__(self, job_id: str, status: str, listed: int, expected: int) -> None:
        self.job_id, self.status, self.listed, self.expected = job_id, status, listed, expected
        super().__init__(
            f"job {job_id}: Mathpix lists {listed:,} {status} files but the job's counters say "
            f"{expected:,} (short by {expected - listed:,})"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (ListingShort, (self.job_id, self.status, self.listed, self.expected))


def too_many(job_id: str, listed: int, file_count: int) -> MathpixAPIError:
    return MathpixAPIError(
        "invalid_response",
        200,
        f"job {job_id}: the listing returned more than the job's file_count ({listed:,} records "
        f"for {file_count:,} files); stopped instead of paging on",
        method="GET",
        path=f"/files/v1/jobs/{job_id}/files",
    )


def counted(
    records: Iterable[Mapping[str, Any]], job_id: str, status: str, expected: int, file_count: int
) -> Iterator[Mapping[str, Any]]:
    """``records`` as they come; raises past ``file_count``, and at the end if short of ``expected``."""
    listed = 0
    for record in records:
        listed += 1
        if listed > file_count:
            raise too_many(job_id, listed, file_count)
        yield record
    if listed < expected:
        raise ListingShort(job_id, status, listed, expected)


async def acounted(
    records: AsyncIterator[Mapping[str, Any]], job_id: str, file_count: int
) -> AsyncIterator[Mapping[str, Any]]:
    """Async twin of :func:`counted` without the shortfall check (its caller re-lists instead)."""
    listed = 0
    async for record in records:
        listed += 1
        if listed > file_count:
            raise too_many(job_id, listed, file_count)
        yield record


def gave_up(short: ListingShort, waited: float) -> MathpixError:
    return MathpixError(
        f"{short} after waiting {waited:g} s (listing_timeout) for the listing to catch up; "
        "nothing was written short. Rerun the task later, or raise listing_timeout"
    )
