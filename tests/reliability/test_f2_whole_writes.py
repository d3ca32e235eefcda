"""Finding 2: no reader ever sees a partial output or manifest at its final name.

Real SIGKILLs of a subprocess in the middle of a write (local disk and moto S3), an
error in the middle of a write, and ``trust_existing=True`` after a kill: it must
download what a killed run did not finish instead of counting it as done.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_mathpix.manifests import write_manifest
from airflow_provider_mathpix.testing.storage_servers import create_bucket, list_keys

#: Runs in a subprocess: write 1,000 manifest lines (or 1 MB of an output), say so, then hang.
WRITER = textwrap.dedent(
    """
    import os, sys, time
    from airflow.sdk import ObjectStoragePath
    from airflow_provider_mathpix.manifests import write_manifest
    from airflow_provider_mathpix.operators._download import _store

    kind, target, ready = sys.argv[1], sys.argv[2], sys.argv[3]
    path = ObjectStoragePath(target)

    def signal_and_hang():
        open(ready, "w").close()
        time.sleep(3600)

    if kind == "manifest":
        def records():
            for i in range(5000):
                if i == 1000:
                    signal_and_hang()
                yield {"file_id": f"f-{i}", "status": "completed", "pad": "x" * 200}
        write_manifest(path, records())
    else:
        class SlowSpool:
            sent = 0
            def seek(self, *a): return 0
            def read(self, n=-1):
                if self.sent >= 1024 * 1024 * 6:
                    signal_and_hang()
                self.sent += 1024 * 1024
                return b"%" * (1024 * 1024)
        _store(SlowSpool(), path, 10 * 1024 * 1024, False)
    """
)


def _kill_mid_write(kind: str, target: str, tmp_path: Path, env: dict[str, str] | None = None) -> None:
    ready = tmp_path / f"{kind}.ready"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, kind, target, str(ready)], env={**os.environ, **(env or {})}
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, f"writer exited early ({proc.returncode})"
            assert time.monotonic() < deadline, "writer never got mid-way"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["manifest", "output"])
def test_sigkill_mid_write_leaves_nothing_at_the_final_local_name(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "out" / ("job.jsonl" if kind == "manifest" else "doc.pdf")
    _kill_mid_write(kind, f"file://{target}", tmp_path)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] != []  # the killed write's temporary file is there...
    assert all(p.name.startswith(".") and p.name.endswith(".part") for p in target.parent.iterdir())


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["manifest", "output"])
def test_sigkill_mid_write_leaves_nothing_in_s3(
    kind: str, tmp_path: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_bucket(s3_server, "whole")
    key = "out/job.jsonl" if kind == "manifest" else "out/doc.pdf"
    _kill_mid_write(kind, f"s3://aws_default@whole/{key}", tmp_path, env=s3_server.airflow_env)
    assert list_keys(s3_server, "whole") == []


def _failing_records(n: int) -> Any:
    for i in range(n):
        yield {"file_id": f"f-{i}", "pad": "x" * 2000}
    raise RuntimeError("listing failed mid-way")


def test_an_error_mid_manifest_publishes_nothing_locally(tmp_path: Path) -> None:
    target = tmp_path / "job.jsonl"
    target.write_text('{"previous": "manifest"}\n')
    with pytest.raises(RuntimeError):
        write_manifest(ObjectStoragePath(f"file://{target}"), _failing_records(5000))
    assert target.read_text() == '{"previous": "manifest"}\n'  # the old one, whole
    assert [p.name for p in tmp_path.iterdir()] == ["job.jsonl"]


@pytest.mark.timeout(180)
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("lines", [100, 5000])
@pytest.mark.parametrize("cloud", ["s3", "gs", "azure"])
def test_an_error_mid_manifest_publishes_nothing_in_a_bucket(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, cloud: str, lines: int
) -> None:
    import gc

    from airflow_provider_mathpix.storage import to_object_storage_path

    server = request.getfixturevalue({"s3": "s3_server", "gs": "gcs_server", "azure": "azure_server"}[cloud])
    for name, value in server.airflow_env.items():
        monkeypatch.setenv(name, value)
    bucket = f"whole-err-{lines}"
    create_bucket(server, bucket)
    # 100 lines stay in the client's buffer (one upload at close); 5,000 lines of 2 KB
    # pass its 5 MB block, so a multipart/resumable/block upload was under way. Neither
    # may be completed, not even when the abandoned file object is garbage-collected.
    with pytest.raises(RuntimeError):
        write_manifest(to_object_storage_path(server.uri(bucket, "m/job.jsonl")), _failing_records(lines))
    gc.collect()
    assert list_keys(server, bucket) == []


@pytest.mark.timeout(300)
def test_trust_existing_after_a_kill_downloads_whole_outputs(
    emulator: Any, pdf_server: Any, tmp_path: Path
) -> None:
    from airflow_provider_mathpix.hooks.mathpix import MathpixHook
    from airflow_provider_mathpix.operators._download import OutputDownloader, _job_targets

    with MathpixHook() as hook:
        hook.submit_job(
            [{"source_uri": pdf_server.same(f"d{i}"), "custom_id": f"d{i}"} for i in range(3)], job_id="job-k"
        )
        deadline = time.monotonic() + 60
        while hook.get_job("job-k").get("status") != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        expected = {
            f"d{i}.mmd": hook.download_output(hook.get_job_file("job-k", f"d{i}")["file_id"], "mmd")
            for i in range(3)
        }
    # A killed earlier run: one output's write was interrupted (its temporary file remains).
    dest = tmp_path / "dest"
    _kill_mid_write("output", f"file://{dest / 'd0.mmd'}", tmp_path)
    assert not (dest / "d0.mmd").exists()

    hook = MathpixHook()
    downloader = OutputDownloader(
        hook, ObjectStoragePath(f"file://{dest}"), str(dest), ["mmd"], trust_existing=True
    )
    totals = asyncio.run(downloader.run(_job_targets(hook, "job-k")))
    assert (totals.written, totals.skipped, totals.failed) == (3, 0, 0)
    assert {name: (dest / name).read_bytes() for name in expected} == expected
    assert json.dumps(sorted(p.name for p in dest.iterdir() if not p.name.startswith("."))) == json.dumps(
        sorted(expected)
    )
