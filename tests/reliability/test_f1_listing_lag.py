"""Finding 1: a listing that lags the job's counters must never produce a short result.

The emulator's ``listing_lag`` keeps new job members out of listings for a while after
the job's counters already count them done (Mathpix accepts and defers).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_mathpix.common.job_report import JobFinish, finish_jobs
from airflow_provider_mathpix.common.outputs import JobOutputs
from airflow_provider_mathpix.contract.events import JobFinished
from airflow_provider_mathpix.exceptions import MathpixError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.manifests import read_manifest
from airflow_provider_mathpix.operators._download import OutputDownloader, _job_targets
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from airflow_provider_mathpix.operators.outputs import MathpixDownloadOutputsOperator
from tests.system.support import run_dag, task_states, xcom

N = 50


@pytest.mark.timeout(300)
def test_submit_and_download_wait_for_a_lagging_listing(
    airflow_db: Any, emulator: Any, pdf_server: Any, tmp_path: Path
) -> None:
    emulator.configure(listing_lag=8)
    files = [{"source_uri": pdf_server.same(f"lag-{i}"), "custom_id": f"lag-{i}"} for i in range(N)]
    with DAG("mathpix_listing_lag", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
        submit = MathpixSubmitJobOperator(
            task_id="submit", files=files, job_id="job-lag", poll_interval=0.2, manifest_path=f"{tmp_path}/"
        )
        download = MathpixDownloadOutputsOperator(
            task_id="download",
            job_id="job-lag",
            destination=str(tmp_path / "out"),
            formats=["mmd"],
            manifest_path=str(tmp_path / "download.jsonl"),
        )
        submit >> download
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {"submit": "success", "download": "success"}
    result = xcom(dag_run, "submit")
    assert result["files_completed"] == N
    assert len(list(read_manifest(result["manifest_uri"]))) == N  # was a 0-line manifest
    assert xcom(dag_run, "download")["outputs_written"] == N  # was 0 outputs
    assert len(list((tmp_path / "out").iterdir())) == N


def _completed_job(emulator: Any, pdf_server: Any) -> dict[str, Any]:
    with MathpixHook() as hook:
        hook.submit_job(
            [{"source_uri": pdf_server.same(f"s-{i}"), "custom_id": f"s-{i}"} for i in range(5)],
            job_id="job-s",
        )
        deadline = time.monotonic() + 60
        while (job := hook.get_job("job-s")).get("status") != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    return job


@pytest.mark.timeout(120)
def test_a_listing_that_never_catches_up_fails_naming_the_shortfall(
    emulator: Any, pdf_server: Any, tmp_path: Path
) -> None:
    emulator.configure(listing_lag=3600)
    job = _completed_job(emulator, pdf_server)
    event = JobFinished.from_record(job)
    with MathpixHook() as hook, pytest.raises(MathpixError) as info:
        finish_jobs(
            hook,
            "job-s",
            [event],
            outputs=JobOutputs(exts=["mmd"], api_base=emulator.url),
            finish=JobFinish(manifest_path=f"{tmp_path}/", listing_timeout=1),
            log=None,
        )
    assert "lists 0 completed files" in str(info.value) and "short by 5" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # nothing written short

    hook = MathpixHook()
    downloader = OutputDownloader(hook, ObjectStoragePath(f"file://{tmp_path}/out"), str(tmp_path), ["mmd"])
    with pytest.raises(MathpixError) as info:
        asyncio.run(downloader.run(_job_targets(hook, "job-s", listing_timeout=1)))
    assert "short by 5" in str(info.value)


@pytest.mark.timeout(180)
def test_ledger_records_each_document_once_when_the_listing_catches_up_part_way(
    emulator: Any, pdf_server: Any, tmp_path: Path
) -> None:
    """A short listing read again must not feed the conversion ledger twice.

    ``a`` is listed at once; ``b`` joins the job later and stays out of the listing for a
    while, so the first manifest attempt lists ``a`` only, is found short and is read again.
    """
    from airflow_provider_mathpix.incremental import content_digest, versioned_custom_id
    from airflow_provider_mathpix.ledger import MAGIC, LedgerRecorder, ledger_folder, read_converted

    digests = {name: content_digest(pdf_server.same(name), f"etag-{name}") for name in ("a", "b")}
    with MathpixHook() as hook:
        hook.submit_job(
            [{"source_uri": pdf_server.same("a"), "custom_id": versioned_custom_id("a.pdf", digests["a"])}],
            job_id="job-ledger",
        )
        deadline = time.monotonic() + 60
        while hook.get_job("job-ledger").get("status") != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.5)  # ``a`` is now older than the lag set next, so it stays listed
        emulator.configure(listing_lag=1.0)
        hook.submit_job(
            [{"source_uri": pdf_server.same("b"), "custom_id": versioned_custom_id("b.pdf", digests["b"])}],
            job_id="job-ledger",
        )
        while (job := hook.get_job("job-ledger")).get("files_completed") != 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert len(list(hook.iter_job_files("job-ledger", status="completed"))) == 1  # b not listed yet
        folder = ledger_folder(str(tmp_path / "ledger"))
        finish_jobs(
            hook,
            "job-ledger",
            [JobFinished.from_record(job)],
            outputs=JobOutputs(exts=["mmd"], api_base=emulator.url),
            finish=JobFinish(
                manifest_path=f"{tmp_path}/", listing_timeout=60, recorder=LedgerRecorder(folder)
            ),
            log=logging.getLogger("test_ledger"),
        )
    segment = tmp_path / "ledger" / "job-ledger.ledger"
    assert segment.read_bytes()[: len(MAGIC)] == MAGIC
    assert len(segment.read_bytes()) == len(MAGIC) + 2 * len(digests["a"])  # each document once
    converted = read_converted(folder)
    assert len(converted) == 2 and digests["a"] in converted and digests["b"] in converted
