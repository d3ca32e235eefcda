"""Killing a task: Mathpix has no cancel endpoint, so on_kill says what happens to the work."""

from __future__ import annotations

import pytest

from airflow_provider_mathpix.operators.files import MathpixSubmitFileOperator
from airflow_provider_mathpix.operators.images import MathpixImageBatchOperator
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator


@pytest.mark.parametrize(
    ("operator", "submitted"),
    [
        (MathpixSubmitFileOperator(task_id="f", source_uri="https://example.com/a.pdf"), {"file_id": "f-1"}),
        (MathpixSubmitJobOperator(task_id="j", files=["https://example.com/a.pdf"]), {"job_id": "job-1"}),
        (MathpixImageBatchOperator(task_id="i", urls={"a": "https://example.com/a.png"}), {"batch_id": 7}),
    ],
    ids=["file", "job", "image-batch"],
)
def test_on_kill_names_the_work_left_running_at_mathpix(operator, submitted, capsys):
    operator._mathpix_submitted = submitted
    operator.on_kill()
    logged = capsys.readouterr().out  # the task logger (structlog) writes to stdout here
    [(key, value)] = submitted.items()
    assert f"{key} {value}" in logged
    assert "no cancel endpoint" in logged and "billed" in logged
    assert "Clearing this task re-attaches" in logged


def test_on_kill_before_any_submission_says_so(capsys):
    MathpixSubmitJobOperator(task_id="j", files=["https://example.com/a.pdf"]).on_kill()
    assert "before Mathpix acknowledged a submission" in capsys.readouterr().out
