"""Jobs against the emulator: chunked submission as one job, pagination, finalize, listing."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import DocServer, make_pdf, wait_until


def _items(n: int, url: str, prefix: str = "doc") -> Iterator[dict[str, str]]:
    for i in range(n):
        yield {"source_uri": url, "custom_id": f"{prefix}-{i:05d}"}


def test_job_split_into_calls_is_one_job_with_every_item_once(
    api: Any, emulator: Any, doc_server: DocServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = doc_server.url("/job/one.pdf", make_pdf(1))
    result = api.submit_job(_items(25, url), max_items_per_request=10, conversion_formats={"md": True})
    assert result["file_count"] == 25 and result["calls"] == 3
    # Airflow 3 logs through structlog to stdout, hence capsys rather than caplog.
    out = capsys.readouterr().out
    assert f"Submitted job {result['job_id']} with 25 items in 3 call(s)" in out
    assert f"Job {result['job_id']}: call 3 sent 5 items (25 so far)" in out
    stats = emulator.stats()
    assert (stats["jobs_created"], stats["files_created"]) == (1, 25)
    listed = api.iter_job_files(result["job_id"], page_size=7)
    assert sorted(f["custom_id"] for f in listed) == [f"doc-{i:05d}" for i in range(25)]
    assert len({f["file_id"] for f in listed}) == 25
    job = wait_until(lambda: (j := api.get_job(result["job_id"]))["status"] == "completed" and j)
    assert (job["file_count"], job["files_completed"], job["files_errored"]) == (25, 25, 0)
    done = api.iter_job_files(result["job_id"], status="completed", page_size=10)
    assert len(done) == 25 and {f["status"] for f in done} == {"completed"}
    assert api.iter_job_files(result["job_id"], status="error") == []


def test_resubmitting_a_job_creates_no_duplicates(api: Any, emulator: Any, doc_server: DocServer) -> None:
    url = doc_server.url("/job/again.pdf", make_pdf(1))
    first = api.submit_job(list(_items(12, url)), job_id="job-rerun", max_items_per_request=5)
    second = api.submit_job(list(_items(12, url)), job_id="job-rerun", max_items_per_request=5)
    assert first["job_id"] == second["job_id"] == "job-rerun"
    stats = emulator.stats()
    assert (stats["files_created"], stats["duplicates_absorbed"]) == (12, 12)
    assert len(api.iter_job_files("job-rerun")) == 12


def test_partial_success_and_job_file_lookup(api: Any, doc_server: DocServer) -> None:
    good = doc_server.url("/job/good.pdf", make_pdf(1))
    items = [
        {"source_uri": good, "custom_id": "good"},
        {"source_uri": good.replace("good.pdf", "missing.pdf"), "custom_id": "bad"},
    ]
    job_id = api.submit_job(items)["job_id"]
    wait_until(lambda: api.get_job(job_id)["status"] == "completed")
    assert api.get_job(job_id)["files_errored"] == 1
    errored = api.iter_job_files(job_id, status="error")
    assert [f["custom_id"] for f in errored] == ["bad"]
    record = api.get_job_file(job_id, "bad")
    assert record["status"] == "error" and record["error"] == "not_found"
    finalized = api.finalize_job(job_id)
    assert finalized["job_id"] == job_id and api.finalize_job(job_id)["job_id"] == job_id
    with pytest.raises(MathpixAPIError) as info:
        api.get_job_file(job_id, "nobody")
    assert info.value.http_status == 404


def test_iter_jobs_pages_newest_first(api: Any, doc_server: DocServer) -> None:
    url = doc_server.url("/job/list.pdf", make_pdf(1))
    made = [api.submit_job([{"source_uri": url}], job_id=f"job-list-{i}")["job_id"] for i in range(5)]
    listed = [j["job_id"] for j in api.iter_jobs(page_size=2)]
    assert sorted(listed) == sorted(made) and listed == list(reversed(made))
    assert api.iter_jobs(start="2000-01-01", end="2000-01-02") == []
    # only one bound is that single day (UTC), not an open range
    today = datetime.datetime.now(datetime.timezone.utc).date()
    yesterday = today - datetime.timedelta(days=1)
    assert len(api.iter_jobs(end=today)) == 5 and len(api.iter_jobs(start=today.isoformat())) == 5
    assert api.iter_jobs(start=yesterday) == []


@pytest.mark.slow
def test_pagination_over_thousands(hook: MathpixHook, emulator: Any) -> None:
    """5,000 files in 3 calls, listed in pages of 700 by both paths; every custom_id exactly once.

    s3:// sources without a data source fail fast inside the emulator (no fetching), so
    the test measures listing, not document processing.
    """
    items = ({"source_uri": f"s3://hook-tests/{i}.pdf", "custom_id": f"k-{i}"} for i in range(5_000))
    job_id = hook.submit_job(items, max_items_per_request=2_000)["job_id"]
    expected = {f"k-{i}" for i in range(5_000)}
    seen = [f["custom_id"] for f in hook.iter_job_files(job_id, page_size=700)]
    assert len(seen) == 5_000 and set(seen) == expected

    async def collect() -> list[str]:
        async with hook:
            return [f["custom_id"] async for f in hook.aiter_job_files(job_id, page_size=700)]

    aseen = asyncio.run(collect())
    assert len(aseen) == 5_000 and set(aseen) == expected


@pytest.mark.parametrize(
    ("items", "kwargs", "rule"),
    [
        ([], {}, "at least one item"),
        ([{"custom_id": "a"}], {}, r"files\[0\] \(custom_id 'a'\).source_uri is required"),
        (
            [{"source_uri": "s3://b/a", "custom_id": "a"}, {"source_uri": "s3://b/b", "custom_id": "a"}],
            {},
            r"files\[1\] \(custom_id 'a'\).*more than once",
        ),
        ([{"source_uri": "file:///etc/passwd"}], {}, "unsupported scheme"),
        ([{"source_uri": "s3://b/a"}], {"job_id": "has space"}, "job_id"),
        ([{"source_uri": "s3://b/a"}], {"max_items_per_request": 500_000}, "max_items_per_request"),
        ([{"source_uri": "s3://b/a"}], {"callback_events": ["job.completed"]}, "need callback_url"),
        (
            [{"source_uri": "s3://b/a"}],
            {"conversion_formats": {"md": True, "mobi/x": True}},
            "must be a format name",
        ),
    ],
)
def test_bad_jobs_send_nothing(
    hook: MathpixHook, emulator: Any, items: Any, kwargs: dict[str, Any], rule: str
) -> None:
    with pytest.raises(MathpixValidationError, match=rule):
        hook.submit_job(items, **kwargs)
    assert emulator.stats()["requests"] == 0


def test_bad_listing_arguments_send_nothing(hook: MathpixHook, emulator: Any) -> None:
    for call in (
        lambda: hook.iter_job_files("j", status="finished"),
        lambda: hook.iter_job_files("j", page_size=0),
        lambda: asyncio.run(anext(hook.aiter_job_files("j/x"))),
        lambda: asyncio.run(anext(hook.aiter_jobs(end="2026-13-01"))),
        lambda: hook.iter_jobs(start="yesterday"),
        lambda: hook.get_job_file("j", "no/slash"),
    ):
        with pytest.raises(MathpixValidationError):
            call()
    assert emulator.stats()["requests"] == 0


def test_a_streamed_job_with_a_late_duplicate_stops_before_that_chunk(
    hook: MathpixHook, emulator: Any
) -> None:
    stream = itertools.chain(
        _items(10, "s3://hook-tests/a.pdf"), [{"source_uri": "s3://b/x", "custom_id": "doc-00002"}]
    )
    with pytest.raises(MathpixValidationError, match=r"files\[10\] \(custom_id 'doc-00002'\)"):
        hook.submit_job(stream, job_id="job-stream", max_items_per_request=10)
    assert emulator.stats()["requests"] == 1  # the first, valid chunk only


@pytest.mark.slow
def test_a_large_streamed_job_uses_the_default_chunking(hook: MathpixHook, emulator: Any) -> None:
    """120,000 items from a generator: 3 calls of at most 50,000, one job, every item listed once."""
    n = 120_000
    items = ({"source_uri": f"s3://hook-tests/big/{i}.pdf", "custom_id": f"big-{i}"} for i in range(n))
    result = hook.submit_job(items)
    assert (result["file_count"], result["calls"]) == (n, 3)
    stats = emulator.stats()
    assert (stats["jobs_created"], stats["files_created"]) == (1, n)
    seen = {f["custom_id"] for f in hook.iter_job_files(result["job_id"], page_size=10_000)}
    assert len(seen) == n and seen == {f"big-{i}" for i in range(n)}


def test_async_listings_are_async_generators() -> None:
    assert inspect.isasyncgenfunction(MathpixHook.aiter_job_files)
    assert inspect.isasyncgenfunction(MathpixHook.aiter_jobs)
