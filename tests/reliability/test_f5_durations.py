"""Finding 5: ``retry_deadline`` bounds every single wait; every duration is finite and positive."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks._connection import settings_from_connection
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import connect


@pytest.mark.timeout(60)
def test_retry_deadline_bounds_a_single_wait(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = mathpix_emulator_factory(
        faults=[{"kind": "429_retry_after", "path": "/files/v1/jobs*", "retry_after": 120, "count": None}]
    )
    connect(monkeypatch, emu.url, max_retries=5, retry_max_wait=120, retry_deadline=1.5)
    with MathpixHook() as hook, pytest.raises(MathpixAPIError) as info:
        hook.get_job("job-x")
    assert info.value.code == "rate_limited"
    waits = [float(w) for w in re.findall(r"retry \d+/5 in ([0-9.]+) s", capsys.readouterr().out)]
    assert all(w <= 1.5 for w in waits), waits  # was "retry 1/5 in 120.00 s"


BAD_NUMBERS = [math.nan, math.inf, -math.inf, "nan", "inf", "Infinity"]


@pytest.mark.parametrize("field", ["timeout", "retry_max_wait", "retry_deadline", "request_timeout"])
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_connection_durations_must_be_finite(field: str, value: Any) -> None:
    with pytest.raises(MathpixValidationError, match=rf"{field}.*finite"):
        settings_from_connection("c", host=None, port=None, login=None, password="k", extra={field: value})


def _job(**kw: Any) -> Any:
    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator

    return MathpixSubmitJobOperator(task_id="t", files=["https://example.com/a.pdf"], **kw)


def _download(**kw: Any) -> Any:
    from airflow_provider_mathpix.operators.outputs import MathpixDownloadOutputsOperator

    return MathpixDownloadOutputsOperator(task_id="t", job_id="j", destination="/tmp/x", **kw)


def _file(**kw: Any) -> Any:
    from airflow_provider_mathpix.operators.files import MathpixSubmitFileOperator

    return MathpixSubmitFileOperator(task_id="t", source_uri="https://example.com/a.pdf", **kw)


def _sensor(**kw: Any) -> Any:
    from airflow_provider_mathpix.sensors.mathpix import MathpixJobSensor

    return MathpixJobSensor(task_id="t", job_id="j", **kw)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (_job, "poll_interval"),
        (_job, "timeout"),
        (_file, "poll_interval"),
        (_file, "timeout"),
        (_download, "format_timeout"),
        (_download, "format_poll_interval"),
        (_sensor, "poke_interval"),
        (_sensor, "timeout"),
    ],
)
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_operator_durations_must_be_finite(build: Any, field: str, value: float) -> None:
    from airflow.sdk import DAG

    with (
        DAG("d", schedule=None, start_date=datetime(2024, 1, 1)),
        pytest.raises(MathpixValidationError, match=field),
    ):
        build(**{field: value})


@pytest.mark.timeout(60)
def test_an_attempt_cut_by_retry_deadline_reports_the_api_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deadline ends the call; the error says what the API answered, not "timeout"."""
    import socket
    import time

    from .hostile import HostileServer, Request, answer_json

    def slow_503(req: Request, sock: socket.socket) -> None:
        time.sleep(0.4)
        answer_json(sock, 503, {"error": "service_unavailable", "error_info": {"id": "service_unavailable"}})

    with HostileServer(slow_503) as server:
        connect(monkeypatch, server.url, max_retries=10, retry_max_wait=0.01, retry_deadline=1.0)
        with MathpixHook() as hook, pytest.raises(MathpixAPIError) as info:
            hook.get_job("job-x")
    assert (info.value.code, info.value.http_status) == ("service_unavailable", 503)
    assert 2 <= len(server.requests) <= 3  # the third attempt was cut by the deadline
