"""Scheduled runs over one prefix: each (key, content) converted exactly once, on every cloud.

A ``@daily`` DAG with ``skip_converted=True`` runs on three logical dates while documents
arrive in between (and one changes); then a past day is cleared and rerun. The Mathpix
emulator counts the files it created: it must equal the number of distinct (key, content)
pairs, whatever the cloud and wherever the ledger lives (the destination bucket or a
local folder).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow_provider_mathpix.testing.storage_servers import StorageServer, list_keys, put_objects

from .support import register

DAY1 = datetime(2026, 5, 1, tzinfo=timezone.utc)


def incremental_dag(dag_id: str, source: str, ledger: str, destination: str, **extra: Any) -> Any:
    from airflow.sdk import DAG

    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator

    with DAG(dag_id, schedule="@daily", start_date=DAY1, catchup=False) as dag:
        MathpixSubmitJobOperator(
            task_id="convert",
            source_prefix=source,
            suffixes=[".pdf"],
            skip_converted=True,
            ledger_path=ledger,
            destination_prefix=destination,
            conversion_formats={"md": True},
            poll_interval=0.2,
            timeout=120,
            **extra,
        )
    return dag


def run_at(dag: Any, logical_date: datetime, run_after: datetime | None = None) -> Any:
    """Register ``dag`` (as the DAG processor would) and ``dag.test()`` it for ``logical_date``."""
    import os

    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=os.devnull)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    return dag.test(logical_date=logical_date, run_after=run_after)


def run_day(dag: Any, day: int) -> Any:
    """Run (or, for a day already run, clear and rerun) the DAG for ``DAY1 + day``."""
    logical_date = DAY1 + timedelta(days=day)
    # A fixed run_after gives the day a fixed run_id: running a day again replaces that run
    # with the same run_id, as clearing it would (so the same default job_id).
    return run_at(dag, logical_date, run_after=logical_date + timedelta(days=1))


def three_days(
    server: StorageServer, src: str, out: str, ledger: str, emulator: Any, sample_pdf: bytes, dag_id: str
) -> None:
    """Days 1-3 with arrivals and a changed document, then day 2 cleared and rerun."""
    from tests.system.support import make_pdf, task_states, xcom

    register(server, src, out)
    emulator.configure(source_cache_ttl=0)  # a changed document is read afresh, as Mathpix does
    dag = incremental_dag(dag_id, server.uri(src, "incoming"), ledger, server.uri(out, "processed"))
    put_objects(server, src, {"incoming/a.pdf": sample_pdf, "incoming/b.pdf": sample_pdf})
    put_objects(server, src, {"incoming/notes.txt": b"not a document"})
    first = run_day(dag, 0)
    assert task_states(first) == {"convert": "success"}
    day1 = xcom(first, "convert")
    assert (day1["file_count"], day1["files_completed"], day1["files_skipped"]) == (2, 2, 0)

    # Day 2: c arrives and a changes (new content, same key).
    put_objects(server, src, {"incoming/c.pdf": sample_pdf, "incoming/a.pdf": make_pdf(2, "a, revised")})
    second = run_day(dag, 1)
    day2 = xcom(second, "convert")
    assert (day2["file_count"], day2["files_completed"], day2["files_skipped"]) == (2, 2, 1)  # b skipped

    # Day 3: d arrives.
    put_objects(server, src, {"incoming/d.pdf": sample_pdf})
    day3 = xcom(run_day(dag, 2), "convert")
    assert (day3["file_count"], day3["files_skipped"]) == (1, 3)  # a', b, c skipped

    # Day 2 cleared and rerun: nothing new is submitted, nothing billed.
    before = emulator.stats()["files_created"]
    rerun = run_day(dag, 1)
    assert rerun.run_id == second.run_id
    assert task_states(rerun) == {"convert": "success"}
    again = xcom(rerun, "convert")
    assert again["job_id"] == day2["job_id"]  # the same run, so the same Mathpix job
    assert again["status"] == "empty" and again["file_count"] == 0 and again["files_skipped"] == 4
    # Distinct (key, content) pairs: a, b, c, a', d.
    assert emulator.stats()["files_created"] == before == 5


def test_three_days_each_pair_converted_once(
    storage_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
    sample_pdf: bytes,
) -> None:
    """The ledger in the destination bucket, on each cloud."""
    src, out = make_bucket(storage_server, "src"), make_bucket(storage_server, "out")
    ledger = storage_server.uri(out, "ledger/")
    three_days(
        storage_server, src, out, ledger, bucket_emulator, sample_pdf, f"incremental_{storage_server.kind}"
    )
    segments = [k for k in list_keys(storage_server, out, "ledger/") if k.endswith(".ledger")]
    assert len(segments) == 3, segments  # one per job that converted something


def test_three_days_with_a_local_ledger(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
    sample_pdf: bytes,
    tmp_path: Path,
) -> None:
    src, out = make_bucket(s3_server, "lsrc"), make_bucket(s3_server, "lout")
    three_days(
        s3_server, src, out, str(tmp_path / "ledger"), bucket_emulator, sample_pdf, "incremental_local"
    )
    assert len(list((tmp_path / "ledger").glob("*.ledger"))) == 3
    assert not [p for p in (tmp_path / "ledger").iterdir() if p.name.startswith(".")]  # no temporary left


def test_worker_lost_after_submit_on_day_two_duplicates_nothing(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
    sample_pdf: bytes,
) -> None:
    """Try 1 of day 2 submits, then dies before anything is saved (a hard API error on the
    first status check); try 2 lists the same pairs, derives the same job_id and custom_ids,
    and Mathpix hands back the files of try 1."""
    from tests.system.support import make_pdf, task_states, xcom

    src, out = make_bucket(s3_server, "ksrc"), make_bucket(s3_server, "kout")
    register(s3_server, src, out)
    dag = incremental_dag(
        "incremental_worker_lost",
        s3_server.uri(src, "incoming"),
        s3_server.uri(out, "ledger/"),
        s3_server.uri(out, "processed"),
        retries=1,
        retry_delay=timedelta(seconds=0),
    )
    put_objects(s3_server, src, {"incoming/a.pdf": sample_pdf, "incoming/b.pdf": sample_pdf})
    run_day(dag, 0)
    put_objects(s3_server, src, {"incoming/c.pdf": sample_pdf, "incoming/b.pdf": make_pdf(2, "b, revised")})
    bucket_emulator.set_faults(
        [{"method": "GET", "path": "/files/v1/jobs/*", "kind": "quota_exceeded", "count": 1}]
    )
    day2 = run_day(dag, 1)
    assert task_states(day2) == {"convert": "success"}
    [ti] = day2.get_task_instances()
    assert ti.try_number == 2
    stats = bucket_emulator.stats()
    assert stats["faults_injected"] == 1
    assert stats["files_created"] == 4  # a, b, then c and b' once each
    assert stats["duplicates_absorbed"] == 2  # try 2 re-attached to c and b'
    result = xcom(day2, "convert")
    assert (result["file_count"], result["files_completed"], result["files_skipped"]) == (2, 2, 1)


def test_backfill_converts_each_document_once(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
    sample_pdf: bytes,
) -> None:
    from tests.system.support import xcom

    src = make_bucket(s3_server, "bsrc")
    out = make_bucket(s3_server, "bout")
    register(s3_server, src, out)
    put_objects(s3_server, src, {f"incoming/doc-{i}.pdf": sample_pdf for i in range(4)})
    dag = incremental_dag(
        "incremental_backfill",
        s3_server.uri(src, "incoming"),
        s3_server.uri(out, "ledger/"),
        s3_server.uri(out, "processed"),
    )
    counts = [xcom(run_day(dag, day), "convert")["file_count"] for day in range(5)]
    assert counts == [4, 0, 0, 0, 0]
    assert bucket_emulator.stats()["files_created"] == 4


def test_modified_window_selects_on_last_modified(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    storage_env: Callable[[StorageServer], None],
    sample_pdf: bytes,
) -> None:
    from airflow_provider_mathpix.incremental import WalkStats, iter_incremental_items

    storage_env(s3_server)
    src = make_bucket(s3_server, "win")
    start = datetime.now(timezone.utc) - timedelta(seconds=5)
    put_objects(s3_server, src, {"in/a.pdf": sample_pdf, "in/b.pdf": sample_pdf})
    end = datetime.now(timezone.utc) + timedelta(seconds=5)
    prefix = s3_server.uri(src, "in")

    def walk(after: Any, before: Any) -> tuple[list[str], WalkStats]:
        stats = WalkStats()
        items = iter_incremental_items(prefix, modified_after=after, modified_before=before, stats=stats)
        return sorted(item["source_uri"] for item in items), stats

    inside, stats = walk(start.isoformat(), end.isoformat())
    assert inside == [f"s3://{src}/in/a.pdf", f"s3://{src}/in/b.pdf"] and stats.outside_window == 0
    earlier, stats = walk(None, start)  # modified_before is exclusive: an earlier interval sees nothing
    assert earlier == [] and (stats.listed, stats.outside_window) == (2, 2)
    later, _ = walk(end, None)
    assert later == []


def test_identity_comes_from_the_listing(
    storage_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    storage_env: Callable[[StorageServer], None],
    sample_pdf: bytes,
) -> None:
    """Same bytes -> same custom_id on each listing; new bytes under the same key -> a new one."""
    from airflow_provider_mathpix.incremental import iter_incremental_items, split_versioned_custom_id
    from tests.system.support import make_pdf

    storage_env(storage_server)
    src = make_bucket(storage_server, "ident")
    put_objects(storage_server, src, {"in/a.pdf": sample_pdf})
    prefix = storage_server.uri(src, "in")
    first = [item["custom_id"] for item in iter_incremental_items(prefix)]
    again = [item["custom_id"] for item in iter_incremental_items(prefix)]
    put_objects(storage_server, src, {"in/a.pdf": make_pdf(3, "changed")})
    changed = [item["custom_id"] for item in iter_incremental_items(prefix)]
    assert first == again and len(first) == 1
    assert changed != first
    assert split_versioned_custom_id(first[0])[0] == split_versioned_custom_id(changed[0])[0] == "a.pdf"  # type: ignore[index]


def test_templated_data_interval_window_in_a_dag(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
    sample_pdf: bytes,
) -> None:
    """``{{ data_interval_start }}``/``{{ data_interval_end }}`` render into the window: the
    interval holding the upload converts the documents, the next interval sees none."""
    from airflow.sdk import DAG

    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
    from tests.system.support import task_states, xcom

    src = make_bucket(s3_server, "tsrc")
    register(s3_server, src)
    put_objects(s3_server, src, {"incoming/a.pdf": sample_pdf, "incoming/b.pdf": sample_pdf})
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    with DAG("incremental_window", schedule="@daily", start_date=DAY1, catchup=False) as dag:
        MathpixSubmitJobOperator(
            task_id="convert",
            source_prefix=s3_server.uri(src, "incoming"),
            modified_after="{{ data_interval_start }}",
            modified_before="{{ data_interval_end }}",
            allow_empty=True,
            poll_interval=0.2,
            timeout=120,
        )

    holding = run_at(dag, today + timedelta(days=1))
    assert holding.data_interval_start <= datetime.now(timezone.utc) < holding.data_interval_end
    assert task_states(holding) == {"convert": "success"}
    assert xcom(holding, "convert")["file_count"] == 2
    later = xcom(run_at(dag, today + timedelta(days=2)), "convert")
    assert (later["status"], later["file_count"], later["files_outside_window"]) == ("empty", 0, 2)
    assert bucket_emulator.stats()["files_created"] == 2
