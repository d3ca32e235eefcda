"""A job's manifest names every errored file's reason, fetched concurrently block by block."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from airflow_provider_mathpix.common import job_report as _results
from airflow_provider_mathpix.common.job_report import JobFinish, finish_jobs
from airflow_provider_mathpix.common.outputs import JobOutputs
from airflow_provider_mathpix.contract.events import JobCounters, JobFinished
from airflow_provider_mathpix.contract.status import record_error_text
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.manifests import read_manifest

N_ERRORED = 23


def _errored_job(hook: MathpixHook, job_id: str) -> None:
    # No data source is registered for the bucket: the emulator errors each file at once.
    items = (
        {"source_uri": f"s3://unregistered/doc-{i}.pdf", "custom_id": f"doc-{i:02d}"}
        for i in range(N_ERRORED)
    )
    hook.submit_job(items, job_id=job_id)
    deadline = time.monotonic() + 30
    while hook.get_job(job_id)["status"] != "completed":
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.05)


@pytest.mark.parametrize("block", [1, 5, 1000])
def test_errored_reasons_in_listing_order_across_blocks(
    hook: MathpixHook, emulator: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(_results, "ERROR_FETCH_BLOCK", block)
    job_id = f"manifest-reasons-{block}"
    _errored_job(hook, job_id)
    event = JobFinished(job_id, "completed", JobCounters(file_count=N_ERRORED, files_errored=N_ERRORED))

    xcom = finish_jobs(
        hook,
        job_id,
        [event],
        outputs=JobOutputs(exts=["md"], api_base=emulator.url),
        finish=JobFinish(
            manifest_path=str(tmp_path / "m.jsonl"), max_error_ratio=1.0, fail_on_file_errors=False
        ),
        log=logging.getLogger(__name__),
    )

    listed = [item["file_id"] for item in hook.iter_job_files(job_id, status="error")]
    records = list(read_manifest(xcom["manifest_uri"]))
    assert [r["file_id"] for r in records] == listed
    for record in records:
        assert record["status"] == "error"
        assert record["error"] == record_error_text(hook.get_file(record["file_id"]))
        assert "data_source_not_found" in record["error"]
    assert [s["file_id"] for s in xcom["errors_sample"]] == listed[:10]
