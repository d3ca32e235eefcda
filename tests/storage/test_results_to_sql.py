"""Scheduled conversion loaded into a real database: one row per document, whatever reruns.

Three logical dates over one S3 prefix with ``skip_converted=True`` (documents arriving
between them, one changing), each followed by ``MathpixResultsToSqlOperator`` into SQLite
and into the PostgreSQL the test machines run; then day 2 is cleared and rerun. The
emulator creates one file per distinct (key, content) pair, the table holds one row per
document (the changed one updated in place), and the rerun adds nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mathpix.testing.storage_servers import StorageServer, put_objects, read_object

from .support import register
from .test_incremental import DAY1, run_day

PG_URIS = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")


def reachable_postgres() -> str | None:
    try:
        import psycopg2
    except ImportError:
        return None
    for uri in PG_URIS:
        try:
            psycopg2.connect(uri, connect_timeout=3).close()
            return uri
        except psycopg2.OperationalError:
            continue
    return None


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The ``warehouse`` connection: a fresh SQLite file, or the local PostgreSQL (a fresh table)."""
    if request.param == "sqlite":
        path = str(tmp_path / "warehouse.db")
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": path}))
        yield request.param
        return
    uri = reachable_postgres()
    if uri is None:
        pytest.skip(
            f"PostgreSQL is not reachable at 127.0.0.1:5432 database test (tried {', '.join(PG_URIS)})"
        )
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", uri)
    yield request.param


def query(sql: str) -> list[tuple[Any, ...]]:
    from airflow.sdk import BaseHook

    return list(BaseHook.get_connection("warehouse").get_hook().get_records(sql))


def test_three_days_load_one_row_per_document(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    airflow_db: None,
    sample_pdf: bytes,
    warehouse: str,
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
    from airflow_provider_mathpix.operators.sql import MathpixResultsToSqlOperator
    from tests.system.support import make_pdf, task_states, xcom

    # A document changes under the same key: Mathpix reads it afresh, so must the emulator.
    bucket_emulator.configure(source_cache_ttl=0)
    table = f"docs_{uuid.uuid4().hex[:10]}"
    src, out = make_bucket(s3_server, "wsrc"), make_bucket(s3_server, "wout")
    register(s3_server, src, out)
    with DAG(f"load_{warehouse}", schedule="@daily", start_date=DAY1, catchup=False) as dag:
        convert = MathpixSubmitJobOperator(
            task_id="convert",
            source_prefix=s3_server.uri(src, "incoming"),
            skip_converted=True,
            ledger_path=s3_server.uri(out, "ledger/"),
            destination_prefix=s3_server.uri(out, "processed"),
            manifest_path=s3_server.uri(out, "manifests/"),
            conversion_formats={"md": True},
            poll_interval=0.2,
            timeout=120,
        )
        MathpixResultsToSqlOperator(
            task_id="load",
            conn_id="warehouse",
            job=convert.output,
            table=table,
            create_table=True,
            include_markdown=True,
            batch_size=2,  # several batches even for a handful of documents
        )
    try:
        put_objects(s3_server, src, {"incoming/a.pdf": sample_pdf, "incoming/b.pdf": sample_pdf})
        day1 = run_day(dag, 0)
        assert task_states(day1) == {"convert": "success", "load": "success"}
        loaded = xcom(day1, "load")
        assert (loaded["rows_loaded"], loaded["pages"]) == (2, 2)
        assert loaded["cost_line"].endswith("= $0.0030") and loaded["cost_usd"] == 0.003
        assert "2 pages x $1.50/1,000 pages (standard tier" in loaded["cost_line"]

        put_objects(
            s3_server, src, {"incoming/c.pdf": sample_pdf, "incoming/a.pdf": make_pdf(2, "a, revised")}
        )
        assert xcom(run_day(dag, 1), "load")["rows_loaded"] == 2
        put_objects(s3_server, src, {"incoming/d.pdf": sample_pdf})
        assert xcom(run_day(dag, 2), "load")["rows_loaded"] == 1

        rows_before = query(
            f"SELECT document_id, custom_id, pages, source_uri, status FROM {table} ORDER BY document_id"
        )
        rerun = run_day(dag, 1)
        assert task_states(rerun) == {"convert": "success", "load": "success"}
        assert xcom(rerun, "load")["rows_loaded"] == 0
        assert bucket_emulator.stats()["files_created"] == 5  # a, b, c, a', d

        rows = query(
            f"SELECT document_id, custom_id, pages, source_uri, status FROM {table} ORDER BY document_id"
        )
        assert rows == rows_before
        assert [row[0] for row in rows] == ["a.pdf", "b.pdf", "c.pdf", "d.pdf"]  # one row per document
        a_row = rows[0]
        assert a_row[2] == 2 and a_row[3] == f"s3://{src}/incoming/a.pdf" and a_row[4] == "completed"
        # The manifest's output URI names the object Mathpix wrote.
        [(output_uri,)] = query(f"SELECT output_uri FROM {table} WHERE document_id = 'a.pdf'")
        assert output_uri.startswith(f"s3://{out}/processed/a.pdf:") and output_uri.endswith(".md")
        assert b"a, revised" in read_object(s3_server, out, output_uri.split("/", 3)[3])
        [(markdown,)] = query(f"SELECT markdown FROM {table} WHERE document_id = 'a.pdf'")
        assert "a, revised" in markdown  # the changed document's new text replaced the old
        jobs = query(
            f"SELECT documents_completed, pages, pricing_tier, cost_usd FROM {table}_jobs ORDER BY job_id"
        )
        assert sorted(jobs) == sorted(
            [(2, 2, "standard", 0.003), (2, 3, "standard", 0.0045), (1, 1, "standard", 0.0015)]
        )
    finally:
        from airflow.sdk import BaseHook

        db = BaseHook.get_connection("warehouse").get_hook()
        db.run(f"DROP TABLE IF EXISTS {table}")
        db.run(f"DROP TABLE IF EXISTS {table}_jobs")


def test_bad_arguments_fail_at_parse_time() -> None:
    from airflow_provider_mathpix.exceptions import MathpixValidationError
    from airflow_provider_mathpix.operators.sql import MathpixResultsToSqlOperator

    with pytest.raises(MathpixValidationError, match="table must be a plain SQL identifier"):
        MathpixResultsToSqlOperator(task_id="t", conn_id="w", job={"job_id": "j"}, table="docs; DROP")
    with pytest.raises(MathpixValidationError, match="pricing_tier must be one of"):
        MathpixResultsToSqlOperator(task_id="t", conn_id="w", job={"job_id": "j"}, pricing_tier="cheap")
    with pytest.raises(MathpixValidationError, match="give either job"):
        MathpixResultsToSqlOperator(task_id="t", conn_id="w")
    not_waited = MathpixResultsToSqlOperator(
        task_id="t", conn_id="w", job={"job_id": "j", "status": "submitted", "manifest_uri": None}
    )
    with pytest.raises(MathpixValidationError, match="submitted without waiting"):
        not_waited.execute({})  # type: ignore[arg-type]
    with pytest.raises(MathpixValidationError, match="batch_size must be a positive integer"):
        MathpixResultsToSqlOperator(task_id="t", conn_id="w", job={"job_id": "j"}, batch_size=0)
