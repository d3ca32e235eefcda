"""Job items, chunking and the job plan: one job_id, every item once, bad items named."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.ids import new_job_id, validate_id
from airflow_provider_mathpix.contract.job_limits import (
    DEFAULT_MAX_ITEMS_PER_REQUEST,
    MAX_ITEMS_PER_CALL,
    JobItemChecker,
    chunked,
    validate_max_items_per_request,
)
from airflow_provider_mathpix.hooks._jobs import JobPlan


@given(st.lists(st.integers(), max_size=200), st.integers(min_value=1, max_value=50))
def test_chunked_preserves_order_and_bounds(values: list[int], size: int) -> None:
    chunks = list(chunked(values, size))
    assert [v for c in chunks for v in c] == values
    assert all(1 <= len(c) <= size for c in chunks)
    assert all(len(c) == size for c in chunks[:-1])


def test_chunked_is_lazy() -> None:
    consumed = []

    def source() -> Iterator[int]:
        for i in itertools.count():
            consumed.append(i)
            yield i

    first = next(chunked(source(), 3))
    assert first == [0, 1, 2] and len(consumed) == 3


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_chunked_rejects_bad_sizes(size: Any) -> None:
    with pytest.raises(InvalidInput, match="chunk size"):
        next(chunked([1], size))


BAD_ITEMS: list[tuple[Any, str]] = [
    ("s3://b/k", r"files\[1\] must be a mapping"),
    ({"custom_id": "c"}, r"files\[1\] \(custom_id 'c'\).source_uri is required"),
    (
        {"source_uri": "ftp://x/y", "custom_id": "c"},
        r"files\[1\] \(custom_id 'c'\).source_uri .*unsupported scheme",
    ),
    ({"source_uri": "s3://b/k", "custom_id": "c d"}, r"files\[1\].*custom_id"),
    ({"source_uri": "s3://b/k", "conversion_formats": {"md": True}}, r"files\[1\]: unknown key\(s\)"),
    ({"source_uri": "s3://b/k", "page_ranges": "x"}, r"files\[1\].page_ranges"),
    ({"source_uri": "s3://b/k", "destination_uri": "http://example.com/"}, r"files\[1\].destination_uri"),
    ({"source_uri": "s3://b/k", "custom_id": "first"}, r"files\[1\] \(custom_id 'first'\): .*more than once"),
]


@pytest.mark.parametrize(("bad", "rule"), BAD_ITEMS)
def test_bad_items_name_index_and_custom_id(bad: Any, rule: str) -> None:
    checker = JobItemChecker()
    checker.check({"source_uri": "s3://b/a.pdf", "custom_id": "first"}, 0)
    with pytest.raises(InvalidInput, match=rule):
        checker.check(bad, 1)


def test_local_images_need_a_destination_per_item() -> None:
    checker = JobItemChecker(needs_destination=True)
    checker.check({"source_uri": "s3://b/a", "destination_uri": "s3://b/out"}, 0)
    with pytest.raises(InvalidInput, match=r"files\[1\]: image_output_mode='local'"):
        checker.check({"source_uri": "s3://b/b"}, 1)


def _items(n: int) -> Iterator[dict[str, str]]:
    for i in range(n):
        yield {"source_uri": f"s3://bucket/doc-{i}.pdf", "custom_id": f"doc-{i}"}


def test_plan_splits_one_job_into_chunks() -> None:
    plan = JobPlan(_items(25), None, 10, {"conversion_formats": {"md": True}})
    reqs = list(plan.requests())
    assert [len(r.payload()["files"]) for r in reqs] == [10, 10, 5]
    assert {r.payload()["job_id"] for r in reqs} == {plan.job_id}
    assert all(r.payload()["conversion_formats"] == {"md": True} for r in reqs)
    ids = [f["custom_id"] for r in reqs for f in r.payload()["files"]]
    assert ids == [f"doc-{i}" for i in range(25)]
    assert plan.result() == {"job_id": plan.job_id, "file_count": 25, "calls": 3}


def test_plan_validates_a_list_whole_before_the_first_request() -> None:
    items = [*list(_items(30)), {"source_uri": "ftp://x/y", "custom_id": "late"}]
    with pytest.raises(InvalidInput, match=r"files\[30\] \(custom_id 'late'\)"):
        JobPlan(items, "j", 10, {})


def test_plan_finds_duplicates_across_chunks_of_a_stream() -> None:
    stream = itertools.chain(_items(15), iter([{"source_uri": "s3://b/x", "custom_id": "doc-3"}]))
    plan = JobPlan(stream, "j", 10, {})
    requests = plan.requests()
    next(requests)
    with pytest.raises(InvalidInput, match=r"files\[15\] \(custom_id 'doc-3'\).*more than once"):
        next(requests)


@pytest.mark.parametrize(
    ("items", "job_id", "size", "options", "rule"),
    [
        ([], None, None, {}, "at least one item"),
        ("s3://b/k", None, None, {}, "iterable of item mappings"),
        ({"source_uri": "s3://b/k"}, None, None, {}, "iterable of item mappings"),
        ([{"source_uri": "s3://b/k"}], "bad id", None, {}, "job_id"),
        ([{"source_uri": "s3://b/k"}], None, 0, {}, "max_items_per_request"),
        ([{"source_uri": "s3://b/k"}], None, 200_001, {}, "max_items_per_request"),
        ([{"source_uri": "s3://b/k"}], None, None, {"source_uri": "s3://b/k"}, "per-file key"),
        ([{"source_uri": "s3://b/k"}], None, None, {"custom_id": "x"}, "per-file key"),
        (
            [{"source_uri": "s3://b/k"}],
            None,
            None,
            {"conversion_formats": {"RTF!": True}},
            "must be a format name",
        ),
        ([{"source_uri": "s3://b/k"}], None, None, {"image_output_mode": "local"}, "destination_uri"),
    ],
)
def test_bad_job_submissions(items: Any, job_id: Any, size: Any, options: dict[str, Any], rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule):
        list(JobPlan(items, job_id, size, options).requests())


def test_empty_stream_is_rejected() -> None:
    plan = JobPlan(iter([]), None, None, {})
    with pytest.raises(InvalidInput, match="at least one item"):
        list(plan.requests())


def test_default_chunk_is_under_the_ceiling() -> None:
    assert validate_max_items_per_request(None) == DEFAULT_MAX_ITEMS_PER_REQUEST
    assert DEFAULT_MAX_ITEMS_PER_REQUEST < MAX_ITEMS_PER_CALL


def test_generated_job_ids_are_valid_and_distinct() -> None:
    a, b = new_job_id(), new_job_id()
    assert a != b and validate_id(a, "job_id") == a
