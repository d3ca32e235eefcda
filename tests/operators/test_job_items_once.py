"""The job operator builds its items once per execute, and resuming builds nothing."""

from __future__ import annotations

import collections
import sys
import time
from typing import Any

import pytest

from airflow_provider_mathpix.contract.events import JobFinished
from airflow_provider_mathpix.contract.uris import classify_uri
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator


class FakeTI:
    def xcom_push(self, key: str, value: Any) -> None:
        pass

    def xcom_pull(self, **_: Any) -> Any:
        return None


def count_classify(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Every module's reference to ``classify_uri`` replaced by one that counts its URIs."""
    calls: collections.Counter[str] = collections.Counter()
    original = classify_uri

    def counting(uri: Any, *args: Any, **kwargs: Any) -> str:
        calls[str(uri)] += 1
        return original(uri, *args, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.startswith("airflow_provider_mathpix") and getattr(module, "classify_uri", None) is original:
            monkeypatch.setattr(module, "classify_uri", counting)
    return calls


def test_items_are_built_once_per_execute_and_not_on_resume(emulator, pdf_server, tmp_path, monkeypatch):
    own = {"source_uri": pdf_server.doc("two-pages.pdf"), "destination_uri": "s3://own/b/"}
    op = MathpixSubmitJobOperator(
        task_id="once",
        files=[pdf_server.doc("one-page.pdf"), own],
        job_id="items-once",
        destination_prefix="s3://out/run/",
        wait_for_completion=False,
        fail_on_file_errors=False,  # the emulator has no data source for these destinations
        manifest_path=f"{tmp_path}/",
    )
    calls = count_classify(monkeypatch)
    op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    # One check of each source naming it as files[i].source_uri, one by the item checker;
    # the hook's plan sends the built items without a third.
    assert calls[pdf_server.doc("one-page.pdf")] == 2
    assert calls[own["source_uri"]] == 2
    assert calls["s3://own/b/"] == 1

    hook = MathpixHook()
    deadline = time.monotonic() + 60
    while (job := hook.get_job("items-once"))["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    calls.clear()
    result = op.execute_complete({"ti": FakeTI()}, JobFinished.from_record(job).to_payload())  # type: ignore[arg-type]
    assert sum(calls.values()) == 0  # resuming does not build the list again
    assert (result["file_count"], result["files_errored"]) == (2, 2)
