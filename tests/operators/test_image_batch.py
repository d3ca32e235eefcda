"""MathpixImageBatchOperator and MathpixImageBatchTrigger against the emulator's /v3/batch."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
from airflow.sdk import DAG

from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.manifests import read_manifest
from airflow_provider_mathpix.operators.images import MathpixImageBatchOperator
from airflow_provider_mathpix.triggers.mathpix import MathpixImageBatchTrigger
from tests.operators.test_triggers import events_of
from tests.system.support import run_dag, task_states, xcom


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False)


async def test_image_batch_trigger_success_after_every_key(emulator, pdf_server):
    urls = {f"eq{i}": pdf_server.doc("equation.png") for i in range(5)}
    batch_id = MathpixHook().submit_image_batch(urls, formats=["latex_simplified"])
    trigger = MathpixImageBatchTrigger(
        batch_id, "mathpix_default", poll_interval=0.05, end_time=time.time() + 30
    )
    _, kwargs = trigger.serialize()
    assert kwargs == {
        "batch_id": batch_id,
        "conn_id": "mathpix_default",
        "poll_interval": 0.05,
        "end_time": kwargs["end_time"],
    }

    events = await events_of(trigger)

    assert events == [
        {
            "kind": "batch_finished",
            "batch_id": batch_id,
            "status": "success",
            "key_count": 5,
            "keys_errored": 0,
        }
    ]
    assert set(MathpixHook().get_image_batch(batch_id)["results"]) == set(urls)


def test_image_batch_operator(airflow_db, emulator, pdf_server, tmp_path, capsys):
    emulator.configure(time_per_image=0.0)
    good = {"eq1": pdf_server.doc("equation.png"), "eq2": pdf_server.doc("wide.png")}
    with_bad = {**good, "not_an_image": pdf_server.doc("one-page.pdf")}
    many = {f"img-{i:03d}": pdf_server.doc("equation.png") for i in range(101)}
    with _dag("mathpix_image_batch") as dag:
        MathpixImageBatchOperator(
            task_id="small", urls=good, formats=["latex_simplified"], deferrable=True, poll_interval=0.1
        )
        MathpixImageBatchOperator(task_id="tolerated", urls=with_bad, max_error_ratio=0.5, poll_interval=0.1)
        MathpixImageBatchOperator(task_id="strict", urls=with_bad, poll_interval=0.1)
        MathpixImageBatchOperator(task_id="many", urls=many, results_path=f"{tmp_path}/", poll_interval=0.1)

    dag_run = run_dag(dag)
    logs = capsys.readouterr().out

    assert task_states(dag_run) == {
        "small": "success",
        "tolerated": "success",
        "strict": "failed",
        "many": "success",
    }, logs[-3000:]
    small = xcom(dag_run, "small")
    assert small["keys"] == ["eq1", "eq2"]
    assert set(small["results"]) == {"eq1", "eq2"}
    assert all("error" not in r for r in small["results"].values())
    assert xcom(dag_run, "small", key="batch_id") == small["batch_id"]
    assert "error" in xcom(dag_run, "tolerated")["results"]["not_an_image"]
    assert "1 of 3 images errored" in logs and "not_an_image" in logs
    big = xcom(dag_run, "many")
    assert big["keys"] is None and "results" not in big
    lines = list(read_manifest(big["results_uri"]))
    assert [line["key"] for line in lines] == sorted(many)
    assert emulator.stats()["batches_created"] == 4


def test_image_batch_bad_input_at_parse_time():
    with pytest.raises(MathpixValidationError, match="urls must be a non-empty mapping"):
        MathpixImageBatchOperator(task_id="t", urls={})
    with pytest.raises(
        MathpixValidationError, match=re.escape("urls['a'] 'ftp://x/y.png' uses an unsupported scheme")
    ):
        MathpixImageBatchOperator(task_id="t", urls={"a": "ftp://x/y.png"})
    with pytest.raises(MathpixValidationError, match="ocr_behavior"):
        MathpixImageBatchOperator(
            task_id="t", urls={"a": "https://x/y.png"}, options={"ocr_behavior": "maths"}
        )
