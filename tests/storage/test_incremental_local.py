"""A local folder as the source: each (path, content) uploaded and converted exactly once.

Mathpix cannot read the worker's disk, so the files go up with ``POST /files/v1`` into the
job, under the same content-versioned custom_ids as a bucket's objects. The same scenarios
as ``test_incremental.py`` run against the Mathpix emulator on a local folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mathpix.testing.storage_servers import StorageServer

from .support import register
from .test_incremental import incremental_dag, run_day


def put_files(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-uri"])
def test_three_days_from_a_local_folder(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
    sample_pdf: bytes,
    tmp_path: Path,
    as_uri: bool,
) -> None:
    """Days 1-3 with arrivals and a changed document, then day 2 cleared and rerun:
    files_created equals the distinct (path, content) pairs and the rerun adds nothing."""
    from tests.system.support import make_pdf, task_states, xcom

    incoming, ledger = tmp_path / "incoming", tmp_path / "ledger"
    incoming.mkdir()
    out = make_bucket(s3_server, "locout")
    register(s3_server, out)
    source = incoming.as_uri() + "/" if as_uri else str(incoming) + "/"
    dag = incremental_dag(
        f"incremental_local_src_{int(as_uri)}", source, str(ledger), s3_server.uri(out, "processed")
    )
    put_files(incoming, {"a.pdf": sample_pdf, "sub/b.pdf": sample_pdf, "notes.txt": b"not a document"})
    first = run_day(dag, 0)
    assert task_states(first) == {"convert": "success"}
    day1 = xcom(first, "convert")
    assert (day1["file_count"], day1["files_completed"], day1["files_skipped"]) == (2, 2, 0)
    assert bucket_emulator.stats()["files_created"] == 2

    # Day 2: c arrives and a changes (new content, same path).
    put_files(incoming, {"c.pdf": sample_pdf, "a.pdf": make_pdf(2, "a, revised")})
    second = run_day(dag, 1)
    day2 = xcom(second, "convert")
    assert (day2["file_count"], day2["files_completed"], day2["files_skipped"]) == (2, 2, 1)  # b skipped

    # Day 3: d arrives.
    put_files(incoming, {"d.pdf": sample_pdf})
    day3 = xcom(run_day(dag, 2), "convert")
    assert (day3["file_count"], day3["files_skipped"]) == (1, 3)  # a', b, c skipped

    # Day 2 cleared and rerun: nothing new uploaded, nothing billed.
    before = bucket_emulator.stats()["files_created"]
    rerun = run_day(dag, 1)
    assert rerun.run_id == second.run_id
    assert task_states(rerun) == {"convert": "success"}
    again = xcom(rerun, "convert")
    assert again["job_id"] == day2["job_id"]
    assert again["status"] == "empty" and again["file_count"] == 0 and again["files_skipped"] == 4
    assert bucket_emulator.stats()["files_created"] == before == 5  # a, b, c, a', d
    assert len(list(ledger.glob("*.ledger"))) == 3


def test_worker_lost_after_upload_on_day_two_duplicates_nothing(
    bucket_emulator: Any, airflow_db: None, sample_pdf: bytes, tmp_path: Path
) -> None:
    """Try 1 of day 2 uploads, then dies before anything is saved (a hard API error on the
    first status check); try 2 walks the same (path, size, mtime), derives the same job_id
    and custom_ids, and Mathpix hands back the files of try 1."""
    from tests.system.support import make_pdf, task_states, xcom

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    dag = incremental_dag(
        "incremental_local_worker_lost",
        str(incoming),
        str(tmp_path / "ledger"),
        None,  # type: ignore[arg-type]  # results stay in Mathpix storage
        retries=1,
        retry_delay=timedelta(seconds=0),
    )
    put_files(incoming, {"a.pdf": sample_pdf, "b.pdf": sample_pdf})
    run_day(dag, 0)
    put_files(incoming, {"c.pdf": sample_pdf, "b.pdf": make_pdf(2, "b, revised")})
    bucket_emulator.set_faults(
        [{"method": "GET", "path": "/files/v1/jobs/*", "kind": "quota_exceeded", "count": 1}]
    )
    day2 = run_day(dag, 1)
    assert task_states(day2) == {"convert": "success"}
    [ti] = day2.get_task_instances()
    assert ti.try_number == 2
    stats = bucket_emulator.stats()
    assert stats["faults_injected"] == 1
    assert stats["files_created"] == 4  # a, b, then c and b' once each
    assert stats["duplicates_absorbed"] == 2  # try 2 re-attached to c and b'
    result = xcom(day2, "convert")
    assert (result["file_count"], result["files_completed"], result["files_skipped"]) == (2, 2, 1)


def test_non_incremental_local_folder_uploads_every_file(
    bucket_emulator: Any, airflow_db: None, sample_pdf: bytes, tmp_path: Path
) -> None:
    """Without skip_converted a local folder is uploaded too (bounded concurrency), and a
    rerun of the same run re-attaches instead of uploading again."""
    from airflow.sdk import DAG

    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
    from tests.system.support import task_states, xcom

    from .test_incremental import DAY1

    put_files(tmp_path, {f"doc-{i}.pdf": sample_pdf for i in range(7)})
    with DAG("local_plain", schedule="@daily", start_date=DAY1, catchup=False) as dag:
        MathpixSubmitJobOperator(
            task_id="convert",
            source_prefix=str(tmp_path),
            upload_concurrency=3,
            poll_interval=0.2,
            timeout=120,
        )
    first = run_day(dag, 0)
    assert task_states(first) == {"convert": "success"}
    assert xcom(first, "convert")["files_completed"] == 7
    run_day(dag, 0)
    stats = bucket_emulator.stats()
    assert (stats["files_created"], stats["duplicates_absorbed"]) == (7, 7)


def test_local_identity_follows_size_and_mtime(tmp_path: Path, sample_pdf: bytes) -> None:
    from airflow_provider_mathpix.incremental import WalkStats, split_versioned_custom_id
    from airflow_provider_mathpix.local_source import iter_local_items

    put_files(tmp_path, {"a.pdf": sample_pdf})
    os.symlink(tmp_path, tmp_path / "loop")  # a folder link back to the root is not followed
    first = [item["custom_id"] for item in iter_local_items(str(tmp_path))]
    assert len(first) == 1
    assert first == [item["custom_id"] for item in iter_local_items(tmp_path.as_uri())]
    from airflow.sdk import ObjectStoragePath

    assert first == [item["custom_id"] for item in iter_local_items(ObjectStoragePath(tmp_path.as_uri()))]
    st = os.stat(tmp_path / "a.pdf")
    os.utime(tmp_path / "a.pdf", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    touched = [item["custom_id"] for item in iter_local_items(str(tmp_path))]
    assert touched != first
    assert split_versioned_custom_id(first[0])[0] == split_versioned_custom_id(touched[0])[0] == "a.pdf"  # type: ignore[index]

    # modified_before is exclusive on the mtime; modified_after inclusive.
    mtime = os.stat(tmp_path / "a.pdf").st_mtime_ns / 1e9
    from datetime import datetime, timezone

    at = datetime.fromtimestamp(mtime, tz=timezone.utc)
    stats = WalkStats()
    assert list(iter_local_items(str(tmp_path), modified_before=at, stats=stats)) == []
    assert (stats.listed, stats.outside_window) == (1, 1)
    assert len(list(iter_local_items(str(tmp_path), modified_after=at - timedelta(seconds=1)))) == 1


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_bad_local_folder_is_refused_before_any_request(
    bucket_emulator: Any, airflow_db: None, sample_pdf: bytes, tmp_path: Path, kind: str
) -> None:
    from airflow_provider_mathpix.exceptions import MathpixValidationError
    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator

    target = tmp_path / "nowhere"
    if kind == "file":
        target.write_bytes(sample_pdf)
    op = MathpixSubmitJobOperator(
        task_id="convert",
        source_prefix=str(target),
        skip_converted=True,
        ledger_path=str(tmp_path / "ledger"),
    )  # parse time: the worker's disk may not be the DAG processor's
    before = bucket_emulator.stats()["requests"]
    with pytest.raises(MathpixValidationError, match="source_prefix") as err:
        op.execute({"ti": None})  # type: ignore[arg-type]
    assert ("does not exist" if kind == "missing" else "is a file, not a folder") in str(err.value)
    assert bucket_emulator.stats()["requests"] == before


def test_local_folder_split_into_parts_uploads_each_file_once(
    bucket_emulator: Any, airflow_db: None, sample_pdf: bytes, tmp_path: Path
) -> None:
    """``max_files_per_job`` with a local folder: consecutive part jobs, each file uploaded once."""
    from airflow.sdk import DAG

    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
    from tests.system.support import task_states, xcom

    from .test_incremental import DAY1

    put_files(tmp_path, {f"doc-{i}.pdf": sample_pdf for i in range(5)})
    with DAG("local_parts", schedule="@daily", start_date=DAY1, catchup=False) as dag:
        MathpixSubmitJobOperator(
            task_id="convert",
            source_prefix=tmp_path.as_uri(),
            max_files_per_job=2,
            poll_interval=0.2,
            timeout=120,
        )
    run = run_day(dag, 0)
    assert task_states(run) == {"convert": "success"}
    result = xcom(run, "convert")
    assert (result["job_count"], result["files_completed"]) == (3, 5)
    stats = bucket_emulator.stats()
    assert (stats["files_created"], stats["jobs_created"]) == (5, 3)


def test_a_failed_upload_fails_the_try_and_the_retry_duplicates_nothing(
    bucket_emulator: Any, airflow_db: None, sample_pdf: bytes, tmp_path: Path
) -> None:
    """One upload refused (a hard API error) fails try 1 after the uploads in flight end;
    try 2 uploads every file again and Mathpix hands back those try 1 created."""
    from tests.system.support import task_states

    put_files(tmp_path, {f"doc-{i}.pdf": sample_pdf for i in range(6)})
    dag = incremental_dag(
        "incremental_local_upload_fails",
        str(tmp_path),
        str(tmp_path.parent / f"{tmp_path.name}-ledger"),
        None,  # type: ignore[arg-type]  # results stay in Mathpix storage
        retries=1,
        retry_delay=timedelta(seconds=0),
    )
    # The first three uploads are held 0.5 s at the emulator, so the fourth (refused) is
    # seen while they are surely in flight, however loaded the machine is.
    bucket_emulator.set_faults(
        [
            {"method": "POST", "path": "/files/v1", "kind": "latency", "latency": 0.5, "count": 3},
            {"method": "POST", "path": "/files/v1", "kind": "quota_exceeded", "count": 1},
        ]
    )
    run = run_day(dag, 0)
    assert task_states(run) == {"convert": "success"}
    [ti] = run.get_task_instances()
    assert ti.try_number == 2
    stats = bucket_emulator.stats()
    assert stats["faults_injected"] == 4
    assert stats["files_created"] == 6
    # The window of 4 uploads was full when the failure was seen: the three in flight ended
    # and created their files; try 2 got exactly those back.
    assert stats["duplicates_absorbed"] == 3
