"""``max_files_per_job``: one logical job split into several Mathpix jobs.

Pure rules first (part ids, lazy splitting, the XCom budget), then real DAG runs
(``dag.test()``) against the emulator: in-process and deferred waits, the
partial-success policy on the totals, and a retry that creates no new file.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from airflow_provider_mathpix.common.job_parts import (
    MAX_LISTED_JOB_IDS_CHARS,
    iter_parts,
    listed_job_ids,
    part_index,
    part_job_id,
    part_job_ids,
    parts_xcom,
)
from airflow_provider_mathpix.common.waiting import check_job, wait_in_process
from airflow_provider_mathpix.contract.ids import MAX_ID_LENGTH, custom_id_from_uri, validate_id
from airflow_provider_mathpix.contract.task_ids import job_id_for
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.manifests import read_manifest
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from tests.system.support import APP_KEY, run_dag, task_states, xcom, xcom_json_size

# --------------------------------------------------------------------------- pure rules


def test_part_ids_are_suffixed_stable_and_always_valid():
    assert part_job_id("nightly", 1) == "nightly.p0001"
    assert part_job_id("nightly", 12_345) == "nightly.p12345"
    assert part_job_ids("j", 3) == ["j.p0001", "j.p0002", "j.p0003"]
    long_a, long_b = "a" * MAX_ID_LENGTH, "a" * (MAX_ID_LENGTH - 1) + "b"
    ids = {part_job_id(base, k) for base in (long_a, long_b) for k in (1, 2)}
    assert len(ids) == 4  # long ids sharing a prefix still name different parts
    for job_id in ids:
        assert validate_id(job_id, "job_id") and len(job_id) <= MAX_ID_LENGTH
    assert part_job_id(long_a, 2) == part_job_id(long_a, 2) and part_job_id(long_a, 2).endswith(".p0002")
    with pytest.raises(ValueError, match="starts at 1"):
        part_job_id("j", 0)
    from airflow_provider_mathpix.operators import jobs

    assert jobs.part_job_id is part_job_id  # public where the operator lives


def test_iter_parts_reads_the_stream_lazily():
    consumed: list[int] = []

    def source():
        for n in range(7):
            consumed.append(n)
            yield n

    parts = iter_parts(source(), 3)
    first = next(parts)
    assert consumed == [0]  # nothing read ahead beyond the part's first item
    assert list(first) == [0, 1, 2] and consumed == [0, 1, 2]
    assert [list(p) for p in parts] == [[3, 4, 5], [6]]
    assert list(iter_parts([], 3)) == []


def test_listed_job_ids_stay_within_the_xcom_budget():
    few = part_job_ids(job_id_for("dag", "manual__2024-01-01T00:00:00+00:00", "task"), 5)
    assert listed_job_ids(few) == few
    many = part_job_ids("x" * 200, 5_000)
    listed = listed_job_ids(many)
    assert listed == many[: len(listed)] and 0 < len(listed) < len(many)
    assert len(json.dumps(listed)) <= MAX_LISTED_JOB_IDS_CHARS
    assert parts_xcom(many)["job_count"] == 5_000


# --------------------------------------------------------------------------- DAG runs


def _dag(dag_id: str):
    from airflow.sdk import DAG

    return DAG(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False)


def test_split_job_waits_for_every_part_and_reports_totals(
    airflow_db, emulator, pdf_server, tmp_path, capsys
):
    docs = [pdf_server.same(f"doc{i}") for i in range(5)]
    gone = pdf_server.missing("lost.pdf")
    common = {"poll_interval": 0.1, "manifest_path": f"{tmp_path}/", "max_files_per_job": 2}
    with _dag("mathpix_split_jobs") as dag:
        MathpixSubmitJobOperator(task_id="in_process", files=docs, **common)
        MathpixSubmitJobOperator(task_id="deferred", files=docs, deferrable=True, **common)
        # The errored file sits in part 2: the policy judges the totals (1 of 5 = 20%).
        with_error = [*docs[:3], gone, docs[4]]
        MathpixSubmitJobOperator(
            task_id="tolerated", files=with_error, max_error_ratio=0.25, deferrable=True, **common
        )
        MathpixSubmitJobOperator(task_id="strict", files=with_error, max_error_ratio=0.1, **common)
        MathpixSubmitJobOperator(task_id="no_wait", files=docs, wait_for_completion=False, **common)

    dag_run = run_dag(dag)
    logs = capsys.readouterr().out

    assert task_states(dag_run) == {
        "in_process": "success",
        "deferred": "success",
        "tolerated": "success",
        "strict": "failed",
        "no_wait": "success",
    }, logs[-4000:]
    assert emulator.stats()["jobs_created"] == 15  # five tasks, three jobs each
    for task_id in ("in_process", "deferred"):
        result = xcom(dag_run, task_id)
        base = result["job_id"]
        op = dag.get_task(task_id)
        options = {**op._validate(at_parse_time=False), "destination_prefix": op.destination_prefix}
        assert base == job_id_for("mathpix_split_jobs", dag_run.run_id, task_id, options=options)
        assert result["job_ids"] == [f"{base}.p0001", f"{base}.p0002", f"{base}.p0003"]
        assert result["job_count"] == 3
        assert xcom(dag_run, task_id, key="job_ids") == result["job_ids"]
        assert (result["file_count"], result["files_completed"], result["files_errored"]) == (5, 5, 0)
        assert result["status"] == "completed"
        records = list(read_manifest(result["manifest_uri"]))
        assert result["manifest_uri"].endswith(f"{base}.jsonl")
        assert [r["job_id"] for r in records] == [
            *[f"{base}.p0001"] * 2,
            *[f"{base}.p0002"] * 2,
            f"{base}.p0003",
        ]
        assert sorted(r["custom_id"] for r in records) == sorted(custom_id_from_uri(u) for u in docs)
        assert xcom_json_size(dag_run, task_id) < 10_000

    tolerated = xcom(dag_run, "tolerated")
    assert (tolerated["file_count"], tolerated["files_completed"], tolerated["files_errored"]) == (5, 4, 1)
    [sample] = tolerated["errors_sample"]
    assert sample["custom_id"] == custom_id_from_uri(gone)
    errored = [r for r in read_manifest(tolerated["manifest_uri"]) if r["status"] == "error"]
    assert [r["job_id"] for r in errored] == [tolerated["job_ids"][1]]
    strict_base = xcom(dag_run, "strict", key="job_id")
    assert f"Mathpix job {strict_base} (3 jobs): 1 of 5 files errored" in logs
    assert len(xcom(dag_run, "strict", key="job_ids")) == 3  # recorded before waiting

    no_wait = xcom(dag_run, "no_wait")
    assert (no_wait["status"], no_wait["file_count"], no_wait["job_count"]) == ("submitted", 5, 3)
    assert APP_KEY not in logs


def test_part_index_inverts_part_job_id():
    long_id = "z" * MAX_ID_LENGTH
    for base in ("nightly", long_id):
        for k in (1, 9, 10_000):
            assert part_index(base, part_job_id(base, k)) == k
    for stranger in ("nightly", "other.p0001", "nightly.p0000", "nightly.px"):
        with pytest.raises(ValueError, match="is not a part of job"):
            part_index("nightly", stranger)


def test_resume_kwargs_of_a_real_triggerer_carry_the_part_on(airflow_db, emulator, pdf_server, tmp_path):
    """A real triggerer keeps ``defer(kwargs=...)`` beside the event (``dag.test()`` drops
    them, which the test above covers): the resume goes on from ``part + 1`` up to
    ``part_count`` without reading anything from the task instance."""
    common = {"job_id": "kwresume", "max_files_per_job": 2, "poll_interval": 0.1}
    docs = [pdf_server.same(f"doc{i}") for i in range(5)]
    with _dag("mathpix_split_kwargs") as dag:
        MathpixSubmitJobOperator(task_id="submit", files=docs, wait_for_completion=False, **common)
    assert task_states(run_dag(dag)) == {"submit": "success"}

    resumed = MathpixSubmitJobOperator(
        task_id="resume", files=docs, manifest_path=f"{tmp_path}/", deferrable=False, **common
    )
    # The event a trigger would yield for part 1 (waited for here: it is then really complete).
    hook = MathpixHook()
    event = wait_in_process(
        lambda: check_job(hook, "kwresume.p0001", resumed.log),
        ids={"job_id": "kwresume.p0001"},
        poll_interval=0.1,
        end_time=time.time() + 60,
        log=resumed.log,
    )
    # part_count=2 although three parts exist: the kwargs, not a lookup, decide.
    result = resumed.execute_complete({}, event, part=1, part_count=2, end_time=time.time() + 60)  # type: ignore[arg-type]
    assert result["job_ids"] == ["kwresume.p0001", "kwresume.p0002"]
    assert (result["file_count"], result["files_completed"]) == (4, 4)


def test_a_sensor_mapped_over_job_ids_gates_each_part(airflow_db, emulator, pdf_server, tmp_path):
    """``wait_for_completion=False`` + a sensor mapped over the parts' ids: one sensor
    instance (and manifest) per part, as the docs suggest."""
    from airflow.sdk import task

    from airflow_provider_mathpix.sensors.mathpix import MathpixJobSensor

    docs = [pdf_server.same(f"doc{i}") for i in range(3)]
    with _dag("mathpix_split_sensors") as dag:
        submit = MathpixSubmitJobOperator(
            task_id="submit", files=docs, max_files_per_job=2, wait_for_completion=False
        )

        @task
        def part_ids(result: dict) -> list[str]:  # Airflow maps over return values, not custom keys
            return [part_job_id(result["job_id"], k) for k in range(1, result["job_count"] + 1)]

        MathpixJobSensor.partial(task_id="wait", poke_interval=0.1, manifest_path=f"{tmp_path}/").expand(
            job_id=part_ids(submit.output)
        )

    dag_run = run_dag(dag)

    base = xcom(dag_run, "submit")["job_id"]
    assert task_states(dag_run) == {
        "submit": "success",
        "part_ids": "success",
        "wait[0]": "success",
        "wait[1]": "success",
    }
    parts = [xcom(dag_run, "wait", map_index=i) for i in (0, 1)]
    assert [p["job_id"] for p in parts] == [f"{base}.p0001", f"{base}.p0002"]
    assert [p["files_completed"] for p in parts] == [2, 1]


def test_xcom_of_a_split_job_stays_small_in_the_worst_case():
    """Longest ids, ten longest errors, a long manifest URI and thousands of parts: < 10 KB."""
    from airflow_provider_mathpix.common.outputs import short_text as _short

    sample = [{"custom_id": "c" * 256, "file_id": "f" * 36, "error": _short("e" * 10_000)} for _ in range(10)]
    xcom = {
        "job_id": "j" * MAX_ID_LENGTH,
        "status": "completed",
        "file_count": 2_000_000,
        "files_completed": 0,
        "files_errored": 2_000_000,
        "manifest_uri": "s3://" + "m" * 1000,
        "errors_sample": sample,
        **parts_xcom(part_job_ids("j" * MAX_ID_LENGTH, 5_000)),
    }
    assert xcom["job_count"] == 5_000 and len(xcom["job_ids"]) >= 5
    assert len(json.dumps(xcom).encode()) < 10_000
