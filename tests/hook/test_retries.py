"""Retries proven with the emulator's fault injection (waits capped at 10 ms by the connection)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import APP_KEY, make_pdf, set_connection

JOBS = "/files/v1/jobs*"


def _fault(
    kind: str, path: str = "/files/v1/*", count: int | None = 2, method: str = "*", **extra: Any
) -> dict:
    return {"method": method, "path": path, "kind": kind, "rate": 1.0, "count": count, **extra}


@pytest.mark.parametrize(
    "kind", ["429", "429_retry_after", "500", "502", "503", "504", "storage_throttled", "html_502", "drop"]
)
def test_transient_faults_end_in_success(api: Any, emulator: Any, kind: str) -> None:
    emulator.set_faults([_fault(kind, retry_after=1)])
    result = api.submit_job([{"source_uri": "s3://hook-tests/a.pdf", "custom_id": "a"}], job_id="job-r")
    assert result["job_id"] == "job-r"
    stats = emulator.stats()
    assert stats["faults_injected"] == 2 and stats["requests"] == 3
    assert stats["files_created"] == 1


@pytest.mark.parametrize(
    ("kind", "retry_after", "cap", "low", "high"),
    [
        # the header wins over backoff (0.25-0.5 s here), plus up to half of it as jitter
        ("429_retry_after", 0.05, 5.0, 0.05, 0.075),
        ("429_retry_after", 1, 0.02, 0.02, 0.02),  # ...but never beyond retry_max_wait
        ("429", None, 0.02, 0.0, 0.02),  # no header: jittered backoff, capped
    ],
)
def test_retry_after_is_honoured_up_to_the_cap(
    mathpix_emulator_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    retry_after: float | None,
    cap: float,
    low: float,
    high: float,
) -> None:
    import re

    emu = mathpix_emulator_factory(faults=[_fault(kind, count=1, retry_after=retry_after or 1)])
    set_connection(monkeypatch, emu.url, extra={"max_retries": 2, "retry_max_wait": cap})
    with MathpixHook() as hook:
        assert list(hook.iter_jobs()) == []
    out = capsys.readouterr().out
    logged = re.findall(r"retry 1/2 in ([0-9.]+) s", out)
    assert len(logged) == 1, out
    assert low - 0.005 <= float(logged[0]) <= high + 0.005, out  # the log rounds to 10 ms
    assert emu.stats()["faults_injected"] == 1


def test_exhausted_retries_end_in_a_clear_error(api: Any, emulator: Any) -> None:
    emulator.set_faults([_fault("503", count=None)])
    with pytest.raises(MathpixAPIError) as info:
        api.get_job("job-x")
    err = info.value
    assert (err.code, err.http_status, err.method, err.path) == (
        "unavailable",
        503,
        "GET",
        "/files/v1/jobs/job-x",
    )
    assert emulator.stats()["requests"] == 5  # max_retries 4 → 5 attempts
    assert APP_KEY not in str(err) and APP_KEY not in repr(err)


def test_dropped_connections_exhausted(api: Any, emulator: Any) -> None:
    emulator.set_faults([_fault("drop", count=None)])
    with pytest.raises(MathpixAPIError) as info:
        api.submit_file("s3://hook-tests/a.pdf")
    assert info.value.code == "connection_error" and info.value.http_status is None
    assert info.value.path == "/files/v1/uri"


def test_quota_exceeded_is_not_retried(api: Any, emulator: Any) -> None:
    emulator.set_faults([_fault("quota_exceeded", count=None)])
    with pytest.raises(MathpixAPIError) as info:
        api.submit_file("s3://hook-tests/a.pdf")
    assert (info.value.code, info.value.http_status) == ("quota_exceeded", 429)
    assert emulator.stats()["requests"] == 1


def test_client_errors_are_not_retried(api: Any, emulator: Any) -> None:
    with pytest.raises(MathpixAPIError) as info:
        api.get_job("job-unknown")
    assert info.value.http_status == 404 and info.value.code == "not_found"
    assert emulator.stats()["requests"] == 1


def test_upload_is_resent_whole_after_a_fault(api: Any, emulator: Any, tmp_path: Path) -> None:
    pdf = make_pdf(3)
    path = tmp_path / "retry.pdf"
    path.write_bytes(pdf)
    emulator.set_faults([_fault("503", path="/files/v1", method="POST")])
    from_path = api.upload_file(path)
    emulator.set_faults([_fault("drop", path="/files/v1", method="POST", count=1)])
    from_obj = api.upload_file(io.BytesIO(pdf), filename="obj.pdf")
    for file_id in (from_path, from_obj):
        from .conftest import wait_until

        record = wait_until(
            lambda fid=file_id: (r := api.get_file(fid))["status"] in ("completed", "error") and r
        )
        assert record["status"] == "completed" and record["num_pages"] == 3


def test_download_retried_after_a_fault(api: Any, emulator: Any, tmp_path: Path) -> None:
    file_id = api.upload_file(io.BytesIO(make_pdf(1)), filename="d.pdf")
    from .conftest import wait_until

    wait_until(lambda: api.get_file(file_id)["status"] == "completed")
    expected = api.download_output(file_id, "mmd")
    emulator.set_faults([_fault("drop", path=f"/files/v1/{file_id}.mmd", count=1)])
    assert api.download_output(file_id, "mmd", to=tmp_path / "o.mmd") == len(expected)
    assert (tmp_path / "o.mmd").read_bytes() == expected
    emulator.set_faults([_fault("502", path=f"/files/v1/{file_id}.mmd", count=1)])
    assert api.download_output(file_id, "mmd") == expected


def test_v3_errors_under_200_and_429(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, doc_server: Any, png_bytes: bytes
) -> None:
    emu = mathpix_emulator_factory(faults=[_fault("429", path="/v3/batch", method="POST", count=1)])
    set_connection(monkeypatch, emu.url)
    url = doc_server.url("/img/one.png", png_bytes)

    async def run() -> None:
        async with MathpixHook() as hook:
            batch_id = await hook.asubmit_image_batch({"one": url}, formats=["text"])
            assert emu.stats()["faults_injected"] == 1
            assert set((await hook.aget_image_batch(batch_id))["keys"]) == {"one"}
            with pytest.raises(MathpixAPIError) as info:
                await hook.asubmit_image_batch({"one": url}, formats=["no_such_format"])
            assert info.value.http_status == 200 and info.value.code != "http_200"

    asyncio.run(run())


class _Stream:
    """A read-only, non-seekable binary stream (like a socket or a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)
        self.name = "stream.pdf"

    def read(self, size: int = -1) -> bytes:
        return self._buf.read(size)


def test_non_seekable_upload_is_sent_once_and_not_resent_blindly(api: Any, emulator: Any) -> None:
    file_id = api.upload_file(_Stream(make_pdf(1)))  # streams fine when nothing fails
    assert file_id
    emulator.set_faults([_fault("503", path="/files/v1", method="POST", count=1)])
    from airflow_provider_mathpix.exceptions import MathpixError

    with pytest.raises(MathpixError, match="cannot be re-sent: the file object is not seekable"):
        api.upload_file(_Stream(make_pdf(1)))
    assert emulator.stats()["requests"] == 2  # the successful upload and the one failed attempt


def test_timeouts_are_retried_then_reported(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = mathpix_emulator_factory(faults=[_fault("latency", count=1, latency=1.0)])
    set_connection(monkeypatch, emu.url, extra={"timeout": 0.2, "max_retries": 2, "retry_max_wait": 0.01})
    with MathpixHook() as hook:
        assert list(hook.iter_jobs()) == []  # first attempt timed out, the retry answered
        emu.set_faults([_fault("latency", count=None, latency=1.0)])
        with pytest.raises(MathpixAPIError) as info:
            hook.get_job("job-slow")
    assert (info.value.code, info.value.http_status) == ("timeout", None)
    assert emu.stats()["requests"] == 5  # first call: 2 attempts; second: 1 + max_retries (2)


def test_retrying_is_bounded_by_the_deadline(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = mathpix_emulator_factory(faults=[_fault("503", count=None)])
    set_connection(
        monkeypatch, emu.url, extra={"max_retries": 1000, "retry_max_wait": 0.02, "retry_deadline": 0.3}
    )
    with MathpixHook() as hook, pytest.raises(MathpixAPIError) as info:
        hook.get_job("job-x")
    assert info.value.http_status == 503
    assert 2 <= emu.stats()["requests"] < 1001  # stopped by the deadline, long before the attempt cap


def test_lost_answer_on_a_job_call_without_custom_ids_creates_each_file_once(
    api: Any, emulator: Any, doc_server: Any
) -> None:
    """The emulator processes the call, then drops its answer; the hook's retry must not double the job.

    Mathpix ignores Idempotency-Key when there is a job_id, so only ``(job_id, custom_id)`` can
    absorb the re-sent call: the hook derives a custom_id for each item that has none.
    """
    emulator.set_faults([_fault("drop_after", path="/files/v1/jobs", count=1, method="POST")])
    items = [{"source_uri": doc_server.url(f"/lost/{name}.pdf", make_pdf(1))} for name in ("a", "b")]
    result = api.submit_job(items, job_id="lost-answer")
    stats = emulator.stats()
    assert stats["faults_by_kind"] == {"drop_after": 1} and stats["requests"] == 2  # the call was re-sent
    assert stats["files_created"] == 2 and stats["duplicates_absorbed"] == 2  # not 4 files for 2 items
    assert result["file_count"] == 2 and api.get_job("lost-answer")["file_count"] == 2
    custom_ids = {f["custom_id"] for f in api.iter_job_files("lost-answer")}
    assert len(custom_ids) == 2 and all(custom_ids)


def test_lost_answer_on_a_single_file_into_a_job_creates_it_once(
    api: Any, emulator: Any, doc_server: Any
) -> None:
    emulator.set_faults([_fault("drop_after", path="/files/v1/uri", count=1, method="POST")])
    url = doc_server.url("/lost/single.pdf", make_pdf(1))
    file_id = api.submit_file(url, job_id="lost-single")
    stats = emulator.stats()
    assert stats["requests"] == 2 and stats["files_created"] == 1 and stats["duplicates_absorbed"] == 1
    assert [f["file_id"] for f in api.iter_job_files("lost-single")] == [file_id]
    assert api.get_file(file_id)["custom_id"]  # derived from the source, instead of an ignored key


def test_same_source_twice_in_one_job_without_custom_ids_is_refused_before_sending(
    hook: MathpixHook, emulator: Any
) -> None:
    with pytest.raises(MathpixValidationError, match="derived from its source_uri"):
        hook.submit_job([{"source_uri": "s3://b/a.pdf"}, {"source_uri": "s3://b/a.pdf"}], job_id="twice")
    assert emulator.stats()["requests"] == 0
