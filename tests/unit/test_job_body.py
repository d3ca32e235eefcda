"""A job chunk's body, encoded item by item, and the compact store of the job's custom_id digests."""

from __future__ import annotations

import json

import pytest

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.job_limits import DIGEST_SIZE, JobItemChecker, custom_id_digest
from airflow_provider_mathpix.contract.requests_jobs import JobBody, submit_job_request
from airflow_provider_mathpix.hooks._jobs import JobPlan
from airflow_provider_mathpix.hooks.custom_ids import CompactDigests


def _httpx_json(value: object) -> bytes:
    """What httpx sent for ``json=value`` (its encode_json): the bytes the old bodies had."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


ITEMS = [
    {"source_uri": "s3://b/in/a.pdf", "custom_id": "a"},
    {"source_uri": "s3://b/in/é ü.pdf", "custom_id": "e-u", "filename": "naïve — “quoted”"},
    {"source_uri": "s3://b/in/c.pdf", "custom_id": "c", "page_ranges": "1-3"},
]


OPTIONS = {"conversion_formats": {"md": True, "docx": True}, "rm_spaces": False}


@pytest.mark.parametrize("options", [{}, OPTIONS])
def test_the_body_is_byte_for_byte_the_json_of_the_old_body(options: dict[str, object]) -> None:
    body = JobBody("job-1", options)
    for item in ITEMS:
        body.add(item)
    request = body.request()
    assert request.content == _httpx_json({"job_id": "job-1", "files": ITEMS, **options})
    assert request.json is None and request.headers == {"Content-Type": "application/json"}
    assert request.payload() == {"job_id": "job-1", "files": ITEMS, **options}
    assert "content" not in repr(request)  # 4 MB of body never lands in a log line
    assert submit_job_request("job-1", ITEMS, options) == request


def test_a_body_needs_an_item_and_a_valid_job_id() -> None:
    with pytest.raises(InvalidInput, match="at least one item"):
        JobBody("job-1", {}).request()
    with pytest.raises(InvalidInput, match="job_id"):
        JobBody("bad id", {})


def test_the_plan_sends_each_chunk_as_encoded_bytes() -> None:
    items = ({"source_uri": f"s3://b/{i}.pdf", "custom_id": f"d{i}"} for i in range(7))
    plan = JobPlan(items, "job-7", 3, {"conversion_formats": {"md": True}})
    bodies = [request.content for request in plan.requests()]
    expected = [
        _httpx_json(
            {
                "job_id": "job-7",
                "files": [{"source_uri": f"s3://b/{i}.pdf", "custom_id": f"d{i}"} for i in chunk],
                "conversion_formats": {"md": True},
            }
        )
        for chunk in (range(3), range(3, 6), range(6, 7))
    ]
    assert bodies == expected and plan.result()["file_count"] == 7


def test_compact_digests_remember_every_digest_across_merges() -> None:
    seen = CompactDigests(batch=4)
    digests = [custom_id_digest(f"id-{i}") for i in range(50)]
    # NumPy strips trailing NUL bytes of a stored ``S16`` element: such a digest must still match.
    digests.append(b"\x07" * (DIGEST_SIZE - 2) + b"\0\0")
    for digest in digests:
        assert digest not in seen
        seen.add(digest)
    assert len(seen) == len(digests)
    assert all(digest in seen for digest in digests)
    assert custom_id_digest("never-added") not in seen
    assert b"\x07" * (DIGEST_SIZE - 2) + b"\0\1" not in seen
    assert "not bytes" not in seen


def test_a_repeat_long_after_its_first_use_is_refused_with_the_same_message() -> None:
    checker = JobItemChecker(seen=CompactDigests(batch=8))
    for index in range(100):  # the first id now sits in the sorted array, not the recent set
        checker.check({"source_uri": f"s3://b/{index}.pdf", "custom_id": f"doc-{index}"}, index)
    with pytest.raises(InvalidInput, match=r"files\[100\] \(custom_id 'doc-3'\): .*appears more than once"):
        checker.check({"source_uri": "s3://b/again.pdf", "custom_id": "doc-3"}, 100)
