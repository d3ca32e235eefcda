"""MathpixDownloadOutputsOperator into each cloud (and local disk), in real DAG runs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.operators.outputs import (
    MathpixDownloadOutputsOperator,
    destination_asset,
    destination_display,
    validate_formats,
)
from airflow_provider_mathpix.testing.storage_servers import StorageServer, list_keys, put_objects

from .support import one_task_dag, register, submit_and_wait, warm_up_dag_runs

N_FILES = 4


@pytest.fixture
def completed_job(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    sample_pdf: bytes,
) -> dict[str, Any]:
    """A completed job of N_FILES PDFs read from S3 (custom_ids doc-0.pdf …), md requested."""
    src = make_bucket(s3_server, "src")
    put_objects(s3_server, src, {f"in/doc-{i}.pdf": sample_pdf for i in range(N_FILES)})
    register(s3_server, src)
    return submit_and_wait(s3_server.uri(src, "in"), job_id=f"job-{uuid.uuid4().hex[:8]}")


def _run(dag_id: str, **kwargs: Any) -> Any:
    from tests.system.support import run_dag

    return run_dag(
        one_task_dag(
            dag_id,
            lambda: MathpixDownloadOutputsOperator(task_id="download", format_poll_interval=0.1, **kwargs),
        )
    )


def xcom_manifest(run: Any) -> dict[str, Any]:
    """A failed task pushes no XCom: find its manifest where the operator puts it by default."""
    import os

    home = os.environ["AIRFLOW_HOME"]
    matches = sorted(Path(home, "mathpix", "manifests").glob(f"*{run.dag_id}*download*.jsonl"))
    assert len(matches) == 1, matches
    return {"manifest_uri": str(matches[0])}


def _manifest(result: dict[str, Any]) -> list[dict[str, Any]]:
    from airflow_provider_mathpix.manifests import read_manifest

    return list(read_manifest(result["manifest_uri"]))


# ---------------------------------------------------------------------- pure parts


def test_validate_formats() -> None:
    assert validate_formats(["md", ".docx", "md", "tex.zip"]) == ["md", "docx", "tex.zip"]
    for bad in ("md", [], ["MD!"], [3]):
        with pytest.raises(MathpixValidationError, match="formats"):
            validate_formats(bad)


def test_destination_display_and_asset(tmp_path: Path) -> None:
    assert destination_display("s3://b/out/") == "s3://b/out"
    assert destination_display(str(tmp_path)) == f"file://{tmp_path}"
    assert destination_asset("gs://b/out/").uri == "gs://b/out"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one of job_id or file_ids"),
        ({"job_id": "j", "file_ids": ["f"]}, "exactly one of job_id or file_ids"),
        ({"job_id": "bad id"}, "job_id"),
        ({"file_ids": "f1"}, "file_ids must be a list"),
        ({"job_id": "j", "formats": "md"}, "formats"),
        ({"job_id": "j", "concurrency": 0}, "concurrency"),
        ({"job_id": "j", "destination": "ftp://x/y"}, "destination"),
        ({"job_id": "j", "format_poll_interval": 0}, "format_poll_interval"),
        ({"job_id": "j", "destination": "s3://b/{{ ds }}", "emit_asset": True}, "emit_asset"),
    ],
)
def test_bad_arguments_fail_at_parse_time(kwargs: dict[str, Any], match: str) -> None:
    kwargs.setdefault("destination", "s3://bucket/out")
    with pytest.raises(MathpixValidationError, match=match):
        MathpixDownloadOutputsOperator(task_id="d", **kwargs)


# ---------------------------------------------------------------------- into each cloud


def test_download_into_each_cloud_then_rerun_skips(
    storage_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    completed_job: dict[str, Any],
    airflow_db: None,
) -> None:
    from tests.system.support import task_states, xcom

    out = make_bucket(storage_server, "dl")
    dest = storage_server.uri(out, "results/2026")
    kwargs = {"job_id": completed_job["job_id"], "formats": ["md", "mmd"], "destination": dest}

    first = _run(f"dl_{storage_server.kind}", **kwargs)
    assert task_states(first) == {"download": "success"}
    result = xcom(first, "download")
    assert result == {
        "destination": dest,
        "files": N_FILES,
        "outputs_written": 2 * N_FILES,
        "outputs_skipped": 0,
        "outputs_failed": 0,
        "bytes_written": result["bytes_written"],
        "manifest_uri": result["manifest_uri"],
        "errors_sample": [],
    }
    assert result["bytes_written"] > 0
    expected = {f"results/2026/doc-{i}.pdf.{ext}" for i in range(N_FILES) for ext in ("md", "mmd")}
    assert set(list_keys(storage_server, out)) == expected
    records = _manifest(result)
    assert {r["uri"] for r in records} == {f"{storage_server.uri(out, k)}" for k in expected}
    assert {r["status"] for r in records} == {"written"}

    # A rerun finds every output present with the same size: nothing is rewritten.
    # One output is damaged (different size) beforehand: exactly that one is rewritten.
    put_objects(storage_server, out, {"results/2026/doc-0.pdf.md": b"truncated"})
    second = _run(f"dl_{storage_server.kind}", **kwargs)
    again = xcom(second, "download")
    assert (again["outputs_written"], again["outputs_skipped"]) == (1, 2 * N_FILES - 1)
    assert {r["status"] for r in _manifest(again) if r["uri"].endswith("doc-0.pdf.md")} == {"written"}


def test_download_listed_file_ids_to_local_disk(
    tmp_path: Path, completed_job: dict[str, Any], airflow_db: None
) -> None:
    from airflow_provider_mathpix.hooks.mathpix import MathpixHook
    from tests.system.support import xcom

    file_ids = [f["file_id"] for f in MathpixHook().iter_job_files(completed_job["job_id"])][:2]
    manifest = tmp_path / "manifests" / "download.jsonl"
    run = _run(
        "dl_local",
        file_ids=file_ids,
        formats=["mmd"],
        destination=str(tmp_path / "out"),
        concurrency=1,
        manifest_path=str(manifest),
    )
    result = xcom(run, "download")
    assert result["files"] == 2 and result["outputs_written"] == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{f}.mmd" for f in file_ids)
    assert result["manifest_uri"] == f"file://{manifest}"
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert sorted(r["file_id"] for r in lines) == sorted(file_ids)


def test_format_never_requested_fails_the_task_after_writing_the_rest(
    tmp_path: Path, completed_job: dict[str, Any], airflow_db: None
) -> None:
    from tests.system.support import task_states

    run = _run(
        "dl_unrequested",
        job_id=completed_job["job_id"],
        formats=["mmd", "docx"],  # docx was never requested: 415 unsupported_format
        destination=str(tmp_path / "out"),
        manifest_path=str(tmp_path / "m.jsonl"),
    )
    assert task_states(run) == {"download": "failed"}
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".mmd"] * N_FILES
    records = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert sorted((r["ext"], r["status"]) for r in records) == sorted(
        [("mmd", "written")] * N_FILES + [("docx", "error")] * N_FILES
    )
    assert {r["error"] for r in records if r["status"] == "error"} == {"unsupported_format"}


def test_failed_download_names_the_reason_not_only_the_code(
    tmp_path: Path, completed_job: dict[str, Any], airflow_db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.system.support import task_states

    run = _run(
        "dl_reason",
        job_id=completed_job["job_id"],
        formats=["mmd", "docx"],
        destination=str(tmp_path / "out"),
        manifest_path=str(tmp_path / "m.jsonl"),
    )
    assert task_states(run) == {"download": "failed"}
    reason = "'docx' was not requested for this file (conversion_formats)"
    records = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert {r["reason"] for r in records if r["status"] == "error"} == {reason}
    assert reason in capsys.readouterr().out  # the task's failure message says it too


def test_waits_out_format_not_ready(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    mathpix_emulator_factory: Callable[..., Any],
    sample_pdf: bytes,
    tmp_path: Path,
    airflow_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """md finishes 8 s after the file: without patience the download fails, with it, it waits."""
    from airflow_provider_mathpix.testing.storage_servers import merged_bucket_store_config
    from tests.system.support import connection_uri_env, task_states, xcom

    # Pay Airflow's one-time task start-up (seconds) before the clock of the format lag starts.
    warm_up_dag_runs()
    slow = mathpix_emulator_factory(storage=merged_bucket_store_config({"s3": s3_server}), format_lag=8.0)
    for key, value in connection_uri_env(slow.url).items():
        monkeypatch.setenv(key, value)
    src = make_bucket(s3_server, "slow")
    put_objects(s3_server, src, {"in/a.pdf": sample_pdf})
    register(s3_server, src)
    job = submit_and_wait(s3_server.uri(src, "in"), job_id="slow-formats")

    impatient = _run(
        "dl_no_wait", job_id=job["job_id"], formats=["md"], destination=str(tmp_path / "x"), format_timeout=0
    )
    assert task_states(impatient) == {"download": "failed"}
    assert [r["error"] for r in _manifest(xcom_manifest(impatient))] == ["format_not_ready"]

    run = _run("dl_wait", job_id=job["job_id"], formats=["md"], destination=str(tmp_path / "out"))
    assert task_states(run) == {"download": "success"}
    assert xcom(run, "download")["outputs_written"] == 1
    assert (tmp_path / "out" / "a.pdf.md").stat().st_size > 0


def test_emit_asset_records_an_asset_event(
    tmp_path: Path, completed_job: dict[str, Any], airflow_db: None
) -> None:
    """The destination becomes an Asset event a downstream DAG can be scheduled on."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from tests.system.support import task_states

    dest = str(tmp_path / "published")
    run = _run("dl_asset", job_id=completed_job["job_id"], formats=["mmd"], destination=dest, emit_asset=True)
    assert task_states(run) == {"download": "success"}
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == destination_display(dest))
        ).all()
        assert len(events) == 1
        extra = events[0].extra
    assert extra["files"] == N_FILES and extra["outputs_written"] == N_FILES
    assert extra["manifest_uri"].endswith(".jsonl")


def test_manifest_write_failure_is_reported(tmp_path: Path) -> None:
    """A manifest that cannot be written fails clearly, and never blocks the producers."""
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_mathpix.exceptions import MathpixError
    from airflow_provider_mathpix.operators._download import _ManifestFeed

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    feed = _ManifestFeed(ObjectStoragePath(f"file://{blocker}/manifest.jsonl"))
    for i in range(20_000):  # more than the feed's queue holds: the writer must keep draining
        feed.put({"i": i})
    with pytest.raises(MathpixError, match="could not write the download manifest"):
        feed.close()


def test_manifest_feed_writes_every_record(tmp_path: Path) -> None:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_mathpix.operators._download import _ManifestFeed

    path = tmp_path / "m" / "manifest.jsonl"
    feed = _ManifestFeed(ObjectStoragePath(f"file://{path}"))
    for i in range(25_000):
        feed.put({"i": i})
    assert feed.close() == 25_000
    assert [json.loads(line)["i"] for line in path.read_text().splitlines()] == list(range(25_000))


def test_trust_existing_rerun_downloads_nothing(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    completed_job: dict[str, Any],
    bucket_emulator: Any,
    airflow_db: None,
) -> None:
    from tests.system.support import xcom

    out = make_bucket(s3_server, "trust")
    kwargs = {"job_id": completed_job["job_id"], "formats": ["mmd"], "destination": s3_server.uri(out, "o")}
    assert xcom(_run("dl_trust_first", **kwargs), "download")["outputs_written"] == N_FILES

    before = bucket_emulator.stats()["requests"]
    again = xcom(_run("dl_trust_again", trust_existing=True, **kwargs), "download")
    requests = bucket_emulator.stats()["requests"] - before
    assert (again["outputs_written"], again["outputs_skipped"]) == (0, N_FILES)
    assert requests < N_FILES  # the job listing only: no output was downloaded


def test_object_storage_path_destination_keeps_its_connection(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    completed_job: dict[str, Any],
    airflow_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An ObjectStoragePath destination is written with its own conn_id, not the scheme default."""
    from airflow.sdk import ObjectStoragePath

    from tests.system.support import task_states, xcom

    out = make_bucket(s3_server, "osp")
    monkeypatch.setenv("AIRFLOW_CONN_PUBLISHING_S3", s3_server.airflow_env["AIRFLOW_CONN_AWS_DEFAULT"])
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT")
    dest = ObjectStoragePath(f"s3://{out}/published", conn_id="publishing_s3")
    run = _run("dl_osp", job_id=completed_job["job_id"], formats=["mmd"], destination=dest)
    assert task_states(run) == {"download": "success"}
    assert xcom(run, "download")["destination"] == f"s3://{out}/published"
    assert len(list_keys(s3_server, out, "published/")) == N_FILES
