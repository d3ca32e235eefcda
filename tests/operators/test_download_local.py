"""The download engine into local disk: os-level whole writes (temporary file, fsync, rename).

Outputs to a local destination are written by :func:`_store_local` (no filesystem object
per output; a SIGKILL mid-write is ``tests/reliability/test_f2_whole_writes.py``'s, through
``_store``). What must hold: the bytes at a final name are the whole output, a failure
at any point leaves nothing new at the final name (an older file stays as it was) and no
temporary file behind, and skip / trust semantics are those of every destination.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mathpix._compat import ObjectStoragePath
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.operators._download import OutputDownloader, _job_targets, _store_local
from airflow_provider_mathpix.storage import LocalWholeWrite, write_whole


class FailingSpool(io.BytesIO):
    """A spool whose second read fails: the copy breaks after part of the body was written."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise OSError("disk went away mid-write")
        return super().read(4)


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_store_local_writes_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    final = tmp_path / "out" / "doc.md"
    assert _store_local(io.BytesIO(b"# whole output\n"), str(final), 15, skip_existing=True) == "written"
    assert final.read_bytes() == b"# whole output\n"
    assert _names(final.parent) == ["doc.md"]


def test_a_failure_mid_write_leaves_nothing_at_the_final_name(tmp_path: Path) -> None:
    final = tmp_path / "doc.md"
    with pytest.raises(OSError, match="mid-write"):
        _store_local(FailingSpool(b"0123456789"), str(final), 10, skip_existing=False)
    assert _names(tmp_path) == []  # neither the final name nor the temporary file


def test_a_failure_mid_write_keeps_the_previous_output_whole(tmp_path: Path) -> None:
    final = tmp_path / "doc.md"
    final.write_bytes(b"previous")
    with pytest.raises(OSError, match="mid-write"):
        _store_local(FailingSpool(b"0123456789"), str(final), 10, skip_existing=True)
    assert final.read_bytes() == b"previous"
    assert _names(tmp_path) == ["doc.md"]


def test_skip_needs_the_same_size(tmp_path: Path) -> None:
    final = tmp_path / "doc.md"
    final.write_bytes(b"abc")
    assert _store_local(io.BytesIO(b"xyz"), str(final), 3, skip_existing=True) == "skipped"
    assert final.read_bytes() == b"abc"
    assert _store_local(io.BytesIO(b"wxyz"), str(final), 4, skip_existing=True) == "written"
    assert final.read_bytes() == b"wxyz"
    assert _store_local(io.BytesIO(b"1234"), str(final), 4, skip_existing=False) == "written"
    assert final.read_bytes() == b"1234"


def test_a_failed_rename_removes_the_temporary_file(tmp_path: Path) -> None:
    final = tmp_path / "doc.md"
    final.mkdir()  # a directory where the file should go: os.replace fails
    (final / "inside").write_bytes(b"")
    whole = LocalWholeWrite(str(final))
    whole.file.write(b"body")
    with pytest.raises(OSError):
        whole.commit()
    assert _names(tmp_path) == ["doc.md"] and final.is_dir()


def test_write_whole_local_discards_on_error(tmp_path: Path) -> None:
    final = tmp_path / "sub" / "doc.md"
    with pytest.raises(RuntimeError), write_whole(ObjectStoragePath(f"file://{final}")) as out:
        out.write(b"half")
        raise RuntimeError("stop")
    assert _names(final.parent) == []
    with write_whole(ObjectStoragePath(f"file://{final}")) as out:
        out.write(b"whole")
    assert final.read_bytes() == b"whole" and _names(final.parent) == ["doc.md"]


def _completed_job(pdf_server: Any, job_id: str, n: int) -> dict[str, bytes]:
    """Submit ``n`` files (md), wait for them; their md outputs by ``<custom_id>.md``."""
    with MathpixHook() as hook:
        hook.submit_job(
            [{"source_uri": pdf_server.same(f"d{i}"), "custom_id": f"d{i}"} for i in range(n)],
            job_id=job_id,
            conversion_formats={"md": True},
        )
        deadline = time.monotonic() + 60
        while hook.get_job(job_id).get("status") != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        outputs = {}
        for i in range(n):
            file_id = hook.get_job_file(job_id, f"d{i}")["file_id"]
            while True:  # the format finishes just after its file
                try:
                    outputs[f"d{i}.md"] = bytes(hook.download_output(file_id, "md"))
                    break
                except Exception:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
        return outputs


def _download(dest: str, formats: list[str], **kwargs: Any) -> tuple[Any, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    hook = MathpixHook()
    downloader = OutputDownloader(
        hook,
        ObjectStoragePath(dest),
        dest,
        formats,
        format_poll_interval=0.05,
        format_timeout=30,
        record=records.append,
        **kwargs,
    )
    totals = asyncio.run(downloader.run(_job_targets(hook, "job-local")))
    return totals, records


@pytest.mark.timeout(180)
def test_engine_into_local_disk_writes_whole_then_skips_then_rewrites_a_damaged_one(
    emulator: Any, pdf_server: Any, tmp_path: Path
) -> None:
    expected = _completed_job(pdf_server, "job-local", 3)
    out = tmp_path / "out"

    totals, records = _download(f"file://{out}", ["md"])
    assert (totals.written, totals.skipped, totals.failed) == (3, 0, 0)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == expected  # no temporary file left
    assert totals.bytes_written == sum(len(b) for b in expected.values())
    assert {r["status"] for r in records} == {"written"}

    (out / "d0.md").write_bytes(b"damaged")
    totals, records = _download(str(out), ["md"])  # a plain path, as DAG authors also write it
    assert (totals.written, totals.skipped, totals.failed) == (1, 2, 0)
    assert {r["uri"].rsplit("/", 1)[1] for r in records if r["status"] == "written"} == {"d0.md"}
    assert {p.name: p.read_bytes() for p in out.iterdir()} == expected

    # trust_existing: presence alone counts, whatever the size (one stat, no download).
    (out / "d1.md").write_bytes(b"x")
    totals, _ = _download(str(out), ["md"], trust_existing=True)
    assert (totals.written, totals.skipped, totals.failed) == (0, 3, 0)
    assert (out / "d1.md").read_bytes() == b"x"


@pytest.mark.timeout(180)
def test_engine_failure_leaves_no_file_and_no_temporary_file(
    emulator: Any, pdf_server: Any, tmp_path: Path
) -> None:
    _completed_job(pdf_server, "job-local", 2)
    out = tmp_path / "out"
    # docx was never requested: every docx download fails (unsupported_format).
    totals, records = _download(str(out), ["docx", "md"])
    assert (totals.written, totals.failed) == (2, 2)
    assert {r["error"] for r in records if r["status"] == "error"} == {"unsupported_format"}
    assert [e["error"] for e in totals.errors_sample] == ["unsupported_format"] * 2
    assert sorted(os.listdir(out)) == ["d0.md", "d1.md"]
