"""The conversion ledger on a local folder, and the incremental mode's early validation."""

from __future__ import annotations

from pathlib import Path

import airflow  # noqa: F401  (initialise Airflow before the provider, as in the other suites)
import pytest

from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.incremental import (
    content_digest,
    document_id_of,
    split_versioned_custom_id,
    versioned_custom_id,
)
from airflow_provider_mathpix.ledger import (
    LedgerCorrupt,
    LedgerRecorder,
    ledger_folder,
    read_converted,
)


def test_recorder_commits_completed_files_and_reader_finds_them(tmp_path: Path) -> None:
    folder = ledger_folder(str(tmp_path / "ledger"))
    digests = [content_digest(f"s3://b/in/{i}.pdf", f"etag:{i}") for i in range(300)]
    recorder = LedgerRecorder(folder)
    for i, digest in enumerate(digests):
        status = "error" if i % 3 == 0 else "completed"
        recorder.add({"custom_id": versioned_custom_id(f"{i}.pdf", digest), "status": status})
    recorder.add({"custom_id": "not-versioned", "status": "completed"})
    assert read_converted(folder).__len__() == 0  # nothing visible before the commit
    recorder.commit("airflow:dag:convert:run1")
    converted = read_converted(folder)
    assert len(converted) == 200
    assert all((digest in converted) == (i % 3 != 0) for i, digest in enumerate(digests))
    assert content_digest("s3://b/in/0.pdf", "etag:changed") not in converted


def test_absent_folder_is_an_empty_ledger(tmp_path: Path) -> None:
    assert len(read_converted(ledger_folder(str(tmp_path / "nowhere")))) == 0


def test_corrupt_segment_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.ledger").write_bytes(b"garbage!" + b"\0" * 5)
    with pytest.raises(LedgerCorrupt, match="bad header"):
        read_converted(ledger_folder(str(tmp_path)))


def test_versioned_custom_ids_are_valid_and_split_back() -> None:
    digest = content_digest("s3://b/a b/c.pdf", "etag:1")
    custom_id = versioned_custom_id("a b/" + "x" * 400 + ".pdf", digest)
    assert len(custom_id) <= 256
    doc, back = split_versioned_custom_id(custom_id)  # type: ignore[misc]
    assert back == digest and document_id_of(custom_id) == doc
    assert document_id_of("plain-id") == "plain-id"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source_prefix": "s3://b/in", "skip_converted": True}, "needs ledger_path"),
        (
            {"files": ["s3://b/a.pdf"], "skip_converted": True, "ledger_path": "s3://b/l/"},
            "need source_prefix",
        ),
        ({"source_prefix": "s3://b/in", "ledger_path": "s3://b/l/"}, "only used with skip_converted"),
        ({"source_prefix": "s3://b/in", "modified_after": "yesterday"}, "modified_after must be an ISO 8601"),
        (
            {"source_prefix": "s3://b/in", "skip_converted": "yes", "ledger_path": "s3://b/l/"},
            "skip_converted must be True or False",
        ),
    ],
)
def test_incremental_arguments_fail_at_parse_time(kwargs: dict, message: str) -> None:
    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator

    with pytest.raises(MathpixValidationError, match=message):
        MathpixSubmitJobOperator(task_id="t", **kwargs)


def test_templated_window_is_accepted_at_parse_time() -> None:
    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator

    op = MathpixSubmitJobOperator(
        task_id="t",
        source_prefix="s3://b/in",
        modified_after="{{ data_interval_start }}",
        modified_before="{{ data_interval_end }}",
    )
    assert "modified_after" in op.template_fields and "modified_before" in op.template_fields


def test_sensor_ledger_needs_the_manifest() -> None:
    from airflow_provider_mathpix.sensors.mathpix import MathpixJobSensor

    with pytest.raises(MathpixValidationError, match="ledger_path needs write_manifest=True"):
        MathpixJobSensor(task_id="s", job_id="j", ledger_path="s3://b/ledger/", write_manifest=False)
