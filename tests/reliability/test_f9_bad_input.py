"""Finding 9: bad input is refused before any request, with the field named.

Each case is tried against a live server that records what arrives: refused means an
exception naming the field and nothing received. ``BAD_CONNECTIONS`` and
``BAD_OPERATOR_ARGS`` are the figures docs/reliability.md quotes (tried / refused / named).
"""

from __future__ import annotations

import json
import socket
from datetime import datetime
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator

from .conftest import SECRET
from .hostile import HostileServer, Request, answer_json


def _ok(req: Request, sock: socket.socket) -> None:
    answer_json(sock, 200, {"job_id": "job-1", "status": "completed"})


#: (connection fields, the field the error must name); ``{url}`` is the live server.
#: (Airflow itself drops a ``port`` of 0 from a JSON connection; ``:0`` in the host is ours to refuse.)
BAD_CONNECTIONS: list[tuple[dict[str, Any], str]] = [
    ({"host": "{url}", "port": 99999}, "port"),
    ({"host": "{url}", "port": -1}, "port"),
    ({"host": "http://127.0.0.1:0"}, "port"),
    ({"host": "http://127.0.0.1:99999"}, "port"),
    ({"host": "{url}/X-Evil: 1"}, "host"),
    ({"host": "{url} X-Evil: 1"}, "host"),
    ({"host": "{url}\r\nX-Evil: 1"}, "host"),
    ({"host": "{url}\nX-Evil: 1"}, "host"),
    ({"host": "{url}/\tx"}, "host"),
    ({"password": "k\r\nX-Evil: 1"}, "password"),
    ({"password": "k\ney"}, "password"),
    ({"password": "kéy"}, "password"),
    ({"password": "k\x00ey"}, "password"),
    ({"password": "k\x7fey"}, "password"),
    ({"extra": {"timeout": "nan"}}, "timeout"),
    ({"extra": {"timeout": float("inf")}}, "timeout"),
    ({"extra": {"retry_deadline": "Infinity"}}, "retry_deadline"),
    ({"extra": {"retry_max_wait": float("nan")}}, "retry_max_wait"),
    ({"extra": {"request_timeout": 0}}, "request_timeout"),
]


@pytest.mark.parametrize(("fields", "named"), BAD_CONNECTIONS)
def test_bad_connection_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], named: str
) -> None:
    with HostileServer(_ok) as server:
        conn: dict[str, Any] = {"conn_type": "mathpix", "host": "{url}", "password": SECRET, **fields}
        conn["host"] = conn["host"].replace("{url}", server.url)
        monkeypatch.setenv("AIRFLOW_CONN_MATHPIX_DEFAULT", json.dumps(conn))
        with pytest.raises(MathpixValidationError) as info:
            MathpixHook().get_job("job-1")
        ok, message = MathpixHook().test_connection()
    assert server.requests == []
    assert named in str(info.value)
    assert not ok and named in message


@pytest.mark.parametrize("port", [0, -1, 65536, 99999, True])
def test_bad_port_field_is_refused(port: Any) -> None:
    from airflow_provider_mathpix.hooks._connection import settings_from_connection

    with pytest.raises(MathpixValidationError, match="port"):
        settings_from_connection(
            "c", host="http://127.0.0.1", port=port, login=None, password="k", extra=None
        )


class _NotJson:
    pass


#: (operator arguments, the field the error must name): refused when the DAG is parsed.
BAD_OPERATOR_ARGS: list[tuple[dict[str, Any], str]] = [
    ({"max_items_per_request": 0}, "max_items_per_request"),
    ({"max_items_per_request": 200_001}, "max_items_per_request"),
    ({"max_items_per_request": -5}, "max_items_per_request"),
    ({"max_items_per_request": "100"}, "max_items_per_request"),
    ({"max_items_per_request": True}, "max_items_per_request"),
    ({"metadata": {"owner": _NotJson()}}, "metadata"),
    ({"metadata": {"tags": {"a", "b"}}}, "metadata"),
    ({"metadata": {"raw": b"bytes"}}, "metadata"),
    ({"metadata": {"when": datetime(2024, 1, 1)}}, "metadata"),
    ({"metadata": {"n": float("nan")}}, "metadata"),
]


@pytest.mark.parametrize(("kwargs", "named"), BAD_OPERATOR_ARGS)
def test_bad_operator_argument_is_refused_at_parse_time(kwargs: dict[str, Any], named: str) -> None:
    with (
        DAG("bad_input", schedule=None, start_date=datetime(2024, 1, 1)),
        pytest.raises(MathpixValidationError) as info,
    ):
        MathpixSubmitJobOperator(task_id="t", files=["https://example.com/a.pdf"], **kwargs)
    assert named in str(info.value)


def test_templated_destination_prefix_with_files_is_accepted_at_parse_time() -> None:
    with DAG("templated", schedule=None, start_date=datetime(2024, 1, 1)):
        op = MathpixSubmitJobOperator(
            task_id="t",
            files=["s3://bucket/in/a.pdf", {"source_uri": "s3://bucket/in/b.pdf", "custom_id": "b"}],
            destination_prefix="s3://bucket/out/{{ ds }}/",
        )
    assert op.destination_prefix == "s3://bucket/out/{{ ds }}/"
