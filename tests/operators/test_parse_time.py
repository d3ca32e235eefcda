"""Pure rules and parse-time validation: no Airflow DB, no HTTP, milliseconds each."""

from __future__ import annotations

import json

import pytest

from airflow_provider_mathpix.common.policy import decide, format_errors_sample, validate_max_error_ratio
from airflow_provider_mathpix.contract.ids import custom_id_from_uri
from airflow_provider_mathpix.contract.status import (
    EtaEstimator,
    JobProgress,
    file_outcome,
    format_duration,
    progress_line,
)
from airflow_provider_mathpix.contract.task_ids import idempotency_key_for, job_id_for
from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.operators.files import MathpixSubmitFileOperator
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator

ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:")

# --------------------------------------------------------------------------- bad input names the field


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"source_uri": "s3://b/a.pdf", "source_path": "/tmp/a.pdf"},
            "exactly one of source_uri or source_path",
        ),
        ({}, "exactly one of source_uri or source_path .got neither"),
        ({"source_uri": "ftp://host/a.pdf"}, "source_uri 'ftp://host/a.pdf' uses an unsupported scheme"),
        (
            {"source_uri": "s3://bucket-only"},
            "source_uri 's3://bucket-only' names a bucket but no object key",
        ),
        (
            {"source_uri": "https://x/a.pdf", "conversion_formats": ["Doc X"]},
            "key 'Doc X' must be a format name",
        ),
        ({"source_uri": "https://x/a.pdf", "custom_id": "c"}, "custom_id needs job_id"),
        ({"source_uri": "https://x/a.pdf", "job_id": "has space"}, "job_id 'has space' contains characters"),
        ({"source_path": "relative/a.pdf"}, "must be an absolute path"),
        ({"source_uri": "https://x/a.pdf", "options": {"conversion_format": {"md": True}}}, "did you mean"),
        ({"source_uri": "https://x/a.pdf", "options": {"job_id": "j"}}, "options sets \\['job_id'\\]"),
        ({"source_uri": "https://x/a.pdf", "poll_interval": 0}, "poll_interval must be > 0"),
        ({"source_uri": "https://x/a.pdf", "callback_url": "http://example.com/hook"}, "callback_url"),
    ],
)
def test_file_operator_bad_input_fails_at_parse_time(kwargs, message):
    with pytest.raises(MathpixValidationError, match=message):
        MathpixSubmitFileOperator(task_id="t", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"files": []}, "files is empty"),
        ({}, "exactly one of files or source_prefix .got neither"),
        ({"files": ["s3://b/a.pdf"], "source_prefix": "s3://b/"}, "got both"),
        ({"files": ["s3://b/a.pdf", "s3://b/a.pdf"]}, "files\\[1\\].*appears more than once"),
        (
            {
                "files": [
                    {"source_uri": "s3://b/a.pdf", "custom_id": "x"},
                    {"source_uri": "s3://b/c.pdf", "custom_id": "x"},
                ]
            },
            "custom_id 'x' appears more than once",
        ),
        ({"files": ["s3://b/a.pdf", "not a uri"]}, "files\\[1\\].source_uri"),
        ({"files": [{"custom_id": "x"}]}, "files\\[0\\].source_uri is required"),
        ({"files": [{"source_uri": "s3://b/a.pdf", "colour": "red"}]}, "unknown key\\(s\\) \\['colour'\\]"),
        ({"files": "s3://b/a.pdf"}, "files must be a list"),
        (
            {"files": ["s3://b/a.pdf"], "conversion_formats": {"docx/x": True}},
            "key 'docx/x' must be a format",
        ),
        ({"files": ["s3://b/a.pdf"], "max_error_ratio": 1.5}, "max_error_ratio must be between 0 and 1"),
        ({"files": ["s3://b/a.pdf"], "max_files_per_job": 0}, "max_files_per_job must be a positive integer"),
        ({"source_prefix": "ftp://b/in/"}, "source_prefix 'ftp://b/in/' uses an unsupported scheme"),
        ({"files": ["s3://b/a.pdf"], "destination_prefix": "file:///tmp"}, "destination_prefix"),
        (
            {"files": ["s3://b/a.pdf"], "image_output_mode": "local"},
            "image_output_mode='local' needs a destination",
        ),
    ],
)
def test_job_operator_bad_input_fails_at_parse_time(kwargs, message):
    with pytest.raises(MathpixValidationError, match=message):
        MathpixSubmitJobOperator(task_id="t", **kwargs)


def test_templated_values_are_left_for_execute():
    MathpixSubmitFileOperator(
        task_id="f", source_uri="{{ params.uri }}", conversion_formats="{{ params.fmt }}"
    )
    MathpixSubmitJobOperator(task_id="j", files="{{ params.files }}", job_id="{{ params.job }}")
    MathpixSubmitJobOperator(task_id="k", files=["{{ params.a }}", "{{ params.b }}"])


# --------------------------------------------------------------------------- ids


def test_ids_depend_on_the_task_instance_not_the_try():
    a = job_id_for("dag", "manual__2024-01-01T00:00:00+00:00", "task", -1)
    assert a == job_id_for("dag", "manual__2024-01-01T00:00:00+00:00", "task", -1)
    assert a != job_id_for("dag", "manual__2024-01-01T00:00:00+00:00", "task", 0)
    assert a != job_id_for("dag", "manual__2024-01-02T00:00:00+00:00", "task", -1)
    assert a.startswith("airflow:dag:task:manual__2024-01-01T00:00:00_00:00-")
    assert set(a) <= ID_CHARS and len(a) <= 256


def test_ids_stay_valid_for_huge_names():
    job_id = job_id_for("d" * 250, "r" * 250, "t" * 250, 12)
    key = idempotency_key_for("d" * 250, "r" * 250, "t" * 250, 12, source="s3://b/" + "k" * 500)
    for value in (job_id, key):
        assert len(value) <= 256 and set(value) <= ID_CHARS


def test_idempotency_key_changes_with_the_source():
    same = idempotency_key_for("d", "r", "t", source="https://x/a.pdf")
    assert same == idempotency_key_for("d", "r", "t", source="https://x/a.pdf")
    assert same != idempotency_key_for("d", "r", "t", source="https://x/b.pdf")


def test_custom_id_from_uri_is_stable_and_distinct():
    a = custom_id_from_uri("s3://docs/reports/2024/a b.pdf")
    assert a == custom_id_from_uri("s3://docs/reports/2024/a b.pdf")
    assert a.startswith("docs_reports_2024_a_b.pdf-")
    assert a != custom_id_from_uri("s3://docs/reports/2024/a_b.pdf")
    assert custom_id_from_uri("https://x/a.pdf?sig=1") != custom_id_from_uri("https://x/a.pdf?sig=2")


# --------------------------------------------------------------------------- partial-success policy


@pytest.mark.parametrize(
    ("count", "errored", "ratio", "fail_on", "outcome"),
    [
        (10, 0, 0.0, True, "ok"),
        (10, 1, 0.0, True, "fail"),
        (10, 1, 0.1, True, "warn"),
        (10, 2, 0.1, True, "fail"),
        (10, 10, 1.0, True, "warn"),
        (10, 10, 0.5, False, "warn"),
        (0, 0, 0.0, True, "ok"),
    ],
)
def test_policy(count, errored, ratio, fail_on, outcome):
    decision = decide(count, errored, max_error_ratio=ratio, fail_on_file_errors=fail_on)
    assert decision.outcome == outcome


def test_policy_messages_name_the_files():
    decision = decide(200_000, 17, max_error_ratio=0)
    assert decision.reason == "17 of 200,000 files errored (0.01%), more than max_error_ratio=0"
    text = format_errors_sample([{"custom_id": "a.pdf", "file_id": "f1", "error": "not_found: 404"}])
    assert text == "  - a.pdf (file_id f1): not_found: 404"
    with pytest.raises(MathpixValidationError):
        validate_max_error_ratio(True)


# --------------------------------------------------------------------------- status readings


def test_progress_line_and_eta():
    eta = EtaEstimator()
    assert eta.update(0.0, 0, 200_000) is None
    left = eta.update(60.0, 12_057, 200_000)
    assert left is not None and 930 < left < 940
    progress = JobProgress("processing", 200_000, 12_040, 17)
    assert progress_line(progress, 240) == "12,040/200,000 completed, 17 errored, ~4 min left"
    assert progress_line(progress, None) == "12,040/200,000 completed, 17 errored"
    assert format_duration(30) == "~30 s" and format_duration(3 * 3600) == "~3.0 h"


def test_file_outcome_waits_for_formats_keyed_by_the_api_name():
    done = {"status": "completed", "formats": {"tex.zip": "completed", "docx": "processing"}}
    assert file_outcome(done).state == "success"
    assert file_outcome(done, ["tex.zip"]).state == "success"  # keyed as requested
    # the latex format is keyed latex and downloads as .tex; it is not tex.zip
    latex_only = {"status": "completed", "formats": {"latex": "completed"}}
    assert file_outcome(latex_only, ["tex"]).state == "success"
    assert file_outcome(latex_only, ["tex.zip"]).state == "pending"
    assert file_outcome(done, ["docx"]).state == "pending"
    assert file_outcome({"status": "completed", "formats": {}}, ["md"]).state == "pending"
    failed = file_outcome({"status": "completed", "file_id": "f", "formats": {"docx": "error"}}, ["docx"])
    assert (failed.state, failed.code) == ("error", "conversion_error")
    errored = file_outcome({"status": "error", "error_info": {"id": "not_found", "message": "404"}})
    assert (errored.state, errored.code, errored.message) == ("error", "not_found", "404")
    assert file_outcome({"status": "split"}).state == "pending"
    assert file_outcome({"status": "completed", "formats": {}}, ["mmd", "lines.json"]).state == "success"


def test_xcom_of_a_job_stays_small_whatever_the_errors():
    from airflow_provider_mathpix.common.outputs import MAX_ERROR_TEXT
    from airflow_provider_mathpix.common.outputs import short_text as _short

    sample = [{"custom_id": "c" * 256, "file_id": "f" * 36, "error": _short("e" * 10_000)} for _ in range(10)]
    xcom = {
        "job_id": "j" * 256,
        "status": "completed",
        "file_count": 200_000,
        "files_completed": 0,
        "files_errored": 200_000,
        "manifest_uri": "s3://" + "m" * 1000,
        "errors_sample": sample,
    }
    assert len(sample[0]["error"]) == MAX_ERROR_TEXT
    assert len(json.dumps(xcom).encode()) < 10_000


def test_wait_exceptions_survive_pickling_with_their_codes():
    """Airflow ships exceptions between processes; the codes must travel with them."""
    import pickle

    from airflow_provider_mathpix.exceptions import MathpixError
    from airflow_provider_mathpix.operators.files import MathpixFileFailed, MathpixWaitTimeout
    from airflow_provider_mathpix.operators.jobs import MathpixJobFilesErrored

    errors = [
        MathpixFileFailed("f-1", "not_found", "the source answered HTTP 404"),
        MathpixWaitTimeout("too slow", job_id="j-1"),
        MathpixJobFilesErrored(
            "2 of 3", job_id="j-1", files_errored=2, file_count=3, errors_sample=[{"custom_id": "a"}]
        ),
    ]
    for error in errors:
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and isinstance(again, MathpixError)
        assert (again.code, str(again)) == (error.code, str(error))
    assert pickle.loads(pickle.dumps(errors[2])).errors_sample == [{"custom_id": "a"}]


def test_default_ids_fold_in_the_options_that_change_the_output():
    run = "manual__2024-01-01T00:00:00+00:00"
    md = {"conversion_formats": {"md": True}, "rm_spaces": True}
    same = {
        "rm_spaces": True,
        "conversion_formats": {"md": True},
        "callback_url": "https://x/h",
        "metadata": {},
    }
    docx = {"conversion_formats": {"md": True, "docx": True}, "rm_spaces": True}
    job = job_id_for("dag", run, "task", options=md)
    assert job == job_id_for("dag", run, "task", options=same)  # order, callbacks, metadata: same job
    assert job != job_id_for("dag", run, "task", options=docx)
    assert job != job_id_for("dag", run, "task", options={**md, "destination_prefix": "s3://b/o/"})
    key = idempotency_key_for("dag", run, "task", source="https://x/a.pdf", options=md)
    assert key == idempotency_key_for("dag", run, "task", source="https://x/a.pdf", options=same)
    assert key != idempotency_key_for("dag", run, "task", source="https://x/a.pdf", options=docx)
    for value in (job, key):
        assert set(value) <= ID_CHARS and len(value) <= 256 and "try" not in value
