"""``error_reasons``: every errored file's reason in the manifest, or only XCom's sample's.

Against the emulator: documents it converts (served by a loopback server) and documents
it errors at once (an ``s3://`` bucket with no registered data source), so the listing
says which files errored but only each file's own record says why.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from airflow_provider_mathpix.common.job_report import JobFinish, finish_jobs
from airflow_provider_mathpix.common.outputs import JobOutputs
from airflow_provider_mathpix.common.policy import ERRORS_SAMPLE_SIZE
from airflow_provider_mathpix.contract.events import JobCounters, JobFinished
from airflow_provider_mathpix.contract.status import record_error_text
from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.manifests import read_manifest
from tests.hook.conftest import DocServer, make_pdf

FILE_GET = "GET /files/v1/{name}"


def _job(hook: MathpixHook, job_id: str, doc_server: DocServer, completed: int, errored: int) -> JobFinished:
    items = [
        {"source_uri": doc_server.url(f"/{job_id}-{i}.pdf", make_pdf(1)), "custom_id": f"ok-{i}"}
        for i in range(completed)
    ]
    items += [
        {"source_uri": f"s3://unregistered/{job_id}-{i}.pdf", "custom_id": f"bad-{i:02d}"}
        for i in range(errored)
    ]
    hook.submit_job(items, job_id=job_id)
    deadline = time.monotonic() + 60
    while (job := hook.get_job(job_id))["status"] != "completed":
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.05)
    assert (job["files_completed"], job["files_errored"]) == (completed, errored)
    return JobFinished(
        job_id,
        "completed",
        JobCounters(file_count=completed + errored, files_completed=completed, files_errored=errored),
    )


def _finish(
    hook: MathpixHook, emulator: Any, name: str, parts: list[JobFinished], path: Any, reasons: str
) -> tuple[dict[str, Any], int]:
    """The XCom value, and how many file records were fetched to build it."""
    before = emulator.stats()["requests_by_route"].get(FILE_GET, 0)
    xcom = finish_jobs(
        hook,
        name,
        parts,
        outputs=JobOutputs(exts=["md"], api_base=emulator.url),
        finish=JobFinish(
            manifest_path=str(path), max_error_ratio=1.0, fail_on_file_errors=False, error_reasons=reasons
        ),
        log=logging.getLogger(__name__),
    )
    return xcom, emulator.stats()["requests_by_route"].get(FILE_GET, 0) - before


@pytest.mark.parametrize("reasons", ["all", "sample"])
def test_manifest_records_in_each_mode(
    hook: MathpixHook, emulator: Any, doc_server: DocServer, tmp_path: Any, reasons: str
) -> None:
    job_id = f"reasons-{reasons}"
    event = _job(hook, job_id, doc_server, completed=2, errored=23)

    xcom, fetched = _finish(hook, emulator, job_id, [event], tmp_path / "m.jsonl", reasons)

    records = list(read_manifest(xcom["manifest_uri"]))
    done = [r for r in records if r["status"] == "completed"]
    errored = [r for r in records if r["status"] == "error"]
    assert len(done) == 2 and all(r["error"] is None and r["outputs"]["md"] for r in done)
    assert all("error_fetched" not in r for r in done)  # nothing to fetch for a completed file
    listed = list(hook.iter_job_files(job_id, status="error"))
    assert [r["file_id"] for r in errored] == [item["file_id"] for item in listed]
    for record, item in zip(errored, listed, strict=True):
        # Ids and names come from the listing in both modes.
        assert (record["custom_id"], record["filename"], record["outputs"]) == (
            item["custom_id"],
            item["filename"],
            {},
        )
    with_reason = len(errored) if reasons == "all" else ERRORS_SAMPLE_SIZE
    for record in errored[:with_reason]:
        assert record["error_fetched"] is True
        assert record["error"] == record_error_text(hook.get_file(record["file_id"]))
        assert "data_source_not_found" in record["error"]
    for record in errored[with_reason:]:
        assert (record["error"], record["error_fetched"]) == (None, False)
    # One record fetched per reason written: all of them, or the sample's only.
    assert fetched == with_reason
    # XCom's sample names its files' reasons either way.
    sampled = errored[:ERRORS_SAMPLE_SIZE]
    assert [s["file_id"] for s in xcom["errors_sample"]] == [r["file_id"] for r in sampled]
    assert all("data_source_not_found" in s["error"] for s in xcom["errors_sample"])
    assert (xcom["file_count"], xcom["files_errored"]) == (25, 23)


def test_sample_mode_spans_the_parts_of_a_split_job(
    hook: MathpixHook, emulator: Any, doc_server: DocServer, tmp_path: Any
) -> None:
    first = _job(hook, "reasons-split.p0001", doc_server, completed=1, errored=4)
    second = _job(hook, "reasons-split.p0002", doc_server, completed=1, errored=23)

    xcom, fetched = _finish(hook, emulator, "reasons-split", [first, second], tmp_path / "m.jsonl", "sample")

    errored = [r for r in read_manifest(xcom["manifest_uri"]) if r["status"] == "error"]
    assert [r["job_id"] for r in errored] == ["reasons-split.p0001"] * 4 + ["reasons-split.p0002"] * 23
    # The sample is ten files across both jobs: the first job's four, then six of the second.
    assert [r["error_fetched"] for r in errored] == [True] * 10 + [False] * 17
    assert [s["file_id"] for s in xcom["errors_sample"]] == [r["file_id"] for r in errored[:10]]
    assert all("data_source_not_found" in s["error"] for s in xcom["errors_sample"])
    assert fetched == 10


@pytest.mark.parametrize("bad", ["some", "ALL", "", None, 1, True])
def test_bad_mode_is_refused_before_any_request(emulator: Any, tmp_path: Any, bad: Any) -> None:
    before = emulator.stats()["requests"]
    with pytest.raises(MathpixValidationError, match=r"manifest_error_reasons must be 'all' .* or 'sample'"):
        JobFinish(manifest_path=str(tmp_path / "m.jsonl"), error_reasons=bad)
    assert emulator.stats()["requests"] == before
