"""Finding 4: pagination that never ends (fresh tokens forever, or tokens cycling a,b,a,b)."""

from __future__ import annotations

import itertools
import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_mathpix.common.job_report import JobFinish, finish_jobs
from airflow_provider_mathpix.common.outputs import JobOutputs
from airflow_provider_mathpix.contract.events import JobCounters, JobFinished
from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import connect
from .hostile import HostileServer, Request, answer_json

RECORD = {"file_id": "f-1", "custom_id": "only", "filename": "only.pdf", "status": "completed"}


def _cycling(req: Request, sock: socket.socket) -> None:
    token = parse_qs(urlsplit(req.target).query).get("page_token", [None])[0]
    nxt = {None: "a", "a": "b", "b": "a"}[token]
    answer_json(sock, 200, {"jobs": [{"job_id": f"j-{token}"}], "files": [RECORD], "next_page_token": nxt})


_counter = itertools.count()


def _fresh(req: Request, sock: socket.socket) -> None:
    path = urlsplit(req.target).path
    if path.endswith("/files"):
        answer_json(sock, 200, {"files": [RECORD], "next_page_token": f"t{next(_counter)}"})
    else:
        answer_json(sock, 200, {"job_id": "job-1", "status": "completed", "file_count": 1})


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_cycling_tokens_are_refused(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    import asyncio

    with HostileServer(_cycling) as server:
        connect(monkeypatch, server.url)
        hook = MathpixHook()
        with pytest.raises(MathpixAPIError) as info:
            if mode == "sync":
                list(hook.iter_job_files("job-1"))
            else:

                async def walk() -> list[Any]:
                    return [r async for r in hook.aiter_job_files("job-1")]

                asyncio.run(walk())
    assert info.value.code == "invalid_response"
    assert "'a'" in info.value.message and "repeated" in info.value.message
    assert len(server.requests) <= 4


@pytest.mark.timeout(60)
def test_manifest_stops_when_more_records_arrive_than_the_job_holds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    with HostileServer(_fresh) as server:
        connect(monkeypatch, server.url)
        event = JobFinished("job-1", "completed", JobCounters(file_count=1, files_completed=1))
        with MathpixHook() as hook, pytest.raises(MathpixAPIError) as info:
            finish_jobs(
                hook,
                "job-1",
                [event],
                outputs=JobOutputs(exts=("mmd",), api_base=server.url),
                finish=JobFinish(manifest_path=f"{tmp_path}/"),
                log=None,
            )
    assert info.value.code == "invalid_response"
    assert "file_count" in info.value.message
    assert len(server.requests) <= 4
    assert not (tmp_path / "job-1.jsonl").exists()  # and no manifest with 7,764 lines of one file


@pytest.mark.timeout(60)
def test_download_stops_when_more_records_arrive_than_the_job_holds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import asyncio

    from airflow.sdk import ObjectStoragePath

    from airflow_provider_mathpix.operators._download import OutputDownloader, _job_targets

    with HostileServer(_fresh) as server:
        connect(monkeypatch, server.url)
        hook = MathpixHook()
        downloader = OutputDownloader(hook, ObjectStoragePath(f"file://{tmp_path}"), str(tmp_path), ["mmd"])
        with pytest.raises(MathpixAPIError) as info:
            asyncio.run(downloader.run(_job_targets(hook, "job-1")))
    assert info.value.code == "invalid_response"
    assert "file_count" in info.value.message
