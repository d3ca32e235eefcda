"""``MathpixResultsToSqlOperator``: one row per converted document, in any SQL database.

A job's manifest (JSON Lines, one record per file) is streamed into a table through
Airflow's ``common.sql`` layer: the ``DbApiHook`` of ``conn_id`` (SQLite, PostgreSQL,
and so Snowflake, BigQuery, Redshift, MySQL... through their providers). Why this shape:

- **Idempotent.** Rows are written with the hook's own upsert (``insert_rows(...,
  replace=True)``: ``ON CONFLICT ... DO UPDATE`` on PostgreSQL, ``REPLACE INTO`` on
  SQLite/MySQL, MERGE where the provider does it) keyed by ``document_id``, the
  document's identity: the same for every version of its content (see
  :func:`airflow_provider_mathpix.incremental.document_id_of`). A retry, a rerun or a
  changed document rewrites its row, never adds one.
- **Flat memory.** The manifest is read record by record; rows go to the database in
  batches of ``batch_size`` (each its own transaction), and per-batch lookups (page
  counts, optional Markdown) run ``concurrency`` at a time.
- **The bill.** Pages of the completed documents x the tier price give a cost line, in
  the task log, the XCom summary and the ``<table>_jobs`` record of the job.

Page counts come from each completed file's record (``GET /files/v1/{file_id}``, one
per document: the job listing does not carry them).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix._compat import BaseHook, BaseOperator
from airflow_provider_mathpix.exceptions import MathpixValidationError, validation_errors
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.incremental import document_id_of
from airflow_provider_mathpix.manifests import read_manifest
from airflow_provider_mathpix.pricing import JobCost, validate_tier

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import Context

_TABLE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?\Z")

#: Columns of the documents table, in insert order (``markdown`` only when asked for).
DOCUMENT_COLUMNS = (
    "document_id",
    "custom_id",
    "job_id",
    "file_id",
    "status",
    "pages",
    "error",
    "output_uri",
    "source_uri",
    "loaded_at",
)
JOB_COLUMNS = (
    "job_id",
    "documents_completed",
    "documents_errored",
    "pages",
    "pricing_tier",
    "price_per_1000_pages",
    "cost_usd",
    "loaded_at",
)
_DOCUMENT_DDL = """CREATE TABLE IF NOT EXISTS {table} (
    document_id VARCHAR(256) PRIMARY KEY,
    custom_id VARCHAR(256) NOT NULL,
    job_id VARCHAR(256) NOT NULL,
    file_id VARCHAR(64),
    status VARCHAR(16) NOT NULL,
    pages INTEGER,
    error TEXT,
    output_uri TEXT,
    source_uri TEXT,
    loaded_at VARCHAR(40) NOT NULL{markdown}
)"""
_JOB_DDL = """CREATE TABLE IF NOT EXISTS {table} (
    job_id VARCHAR(256) PRIMARY KEY,
    documents_completed INTEGER NOT NULL,
    documents_errored INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    pricing_tier VARCHAR(16) NOT NULL,
    price_per_1000_pages DOUBLE PRECISION NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    loaded_at VARCHAR(40) NOT NULL
)"""


def validate_table(name: str, field: str = "table") -> str:
    if not isinstance(name, str) or not _TABLE_RE.match(name):
        raise MathpixValidationError(
            f"{field} must be a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, "
            f"optionally schema.table), got {name!r}"
        )
    return name


def source_of(record: Mapping[str, Any]) -> str | None:
    """The source URI Mathpix lists for a file (its ``filename``) when it is one."""
    name = record.get("filename")
    return name if isinstance(name, str) and "://" in name else None


def output_of(record: Mapping[str, Any], fmt: str) -> str | None:
    outputs = record.get("outputs") or {}
    return outputs.get(fmt) or outputs.get("mmd")


class MathpixResultsToSqlOperator(BaseOperator):
    """Load a Mathpix job's results (its manifest) into a SQL table, one row per document.

    :param conn_id: an Airflow connection whose hook is a ``common.sql`` ``DbApiHook``.
    :param job: the job's XCom (``MathpixSubmitJobOperator``'s or the sensor's return
        value: ``job_id`` and ``manifest_uri``); or give ``manifest_uri`` and ``job_id``.
    :param table: the documents table (the job records go to ``<table>_jobs``).
    :param create_table: create both tables if absent (portable DDL; for engines with
        their own dialect, create them yourself with the same column names).
    :param include_markdown: also store each completed document's text (``markdown_format``,
        downloaded from Mathpix) in a ``markdown`` column.
    :param pricing_tier: ``standard`` ($1.50/1,000 pages, below 30M pages a month) or
        ``volume`` ($1.00/1,000 pages, above 30M).
    :param batch_size: rows per transaction (and per batch of page lookups).
    :param concurrency: parallel page / Markdown lookups per batch.
    :param manifest_conn_id: storage connection to read a manifest given as a URI.
    """

    template_fields: Sequence[str] = (
        "job",
        "manifest_uri",
        "job_id",
        "table",
        "conn_id",
        "manifest_conn_id",
        "mathpix_conn_id",
    )
    ui_color = "#c9e4f6"

    @validation_errors()
    def __init__(
        self,
        *,
        conn_id: str,
        job: Mapping[str, Any] | Any | None = None,
        manifest_uri: str | None = None,
        job_id: str | None = None,
        table: str = "mathpix_documents",
        create_table: bool = False,
        include_markdown: bool = False,
        markdown_format: str = "md",
        pricing_tier: str = "standard",
        batch_size: int = 1000,
        concurrency: int = 8,
        manifest_conn_id: str | None = None,
        mathpix_conn_id: str = MathpixHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.job = job
        self.manifest_uri = manifest_uri
        self.job_id = job_id
        self.table = table
        self.create_table = create_table
        self.include_markdown = include_markdown
        self.markdown_format = markdown_format
        self.pricing_tier = validate_tier(pricing_tier)
        self.manifest_conn_id = manifest_conn_id
        self.mathpix_conn_id = mathpix_conn_id
        for name, value in (("batch_size", batch_size), ("concurrency", concurrency)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MathpixValidationError(f"{name} must be a positive integer, got {value!r}")
        self.batch_size = batch_size
        self.concurrency = concurrency
        if (job is None) == (manifest_uri is None and job_id is None):
            raise MathpixValidationError(
                f"{self.task_id}: give either job (a job's XCom) or manifest_uri and job_id"
            )
        if "{{" not in str(table):
            validate_table(table)

    # ------------------------------------------------------------------ execution

    def _job_ref(self) -> tuple[str, str | None]:
        if self.job is not None:
            if not isinstance(self.job, Mapping) or not self.job.get("job_id"):
                raise MathpixValidationError(
                    f"job must be a job's XCom with job_id and manifest_uri, got {self.job!r}"
                )
            if self.job.get("status") == "submitted":
                raise MathpixValidationError(
                    f"job {self.job['job_id']} was submitted without waiting (no results yet): load the "
                    "return value of the MathpixJobSensor that waits for it"
                )
            return str(self.job["job_id"]), self.job.get("manifest_uri")
        if not self.job_id or not self.manifest_uri:
            raise MathpixValidationError("manifest_uri and job_id are both required without job")
        return str(self.job_id), self.manifest_uri

    def db_hook(self) -> DbApiHook:
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        hook = BaseHook.get_connection(self.conn_id).get_hook()
        if not isinstance(hook, DbApiHook):
            raise MathpixValidationError(
                f"conn_id {self.conn_id!r} gives a {type(hook).__name__}, not a common.sql DbApiHook"
            )
        return hook

    @validation_errors()
    def execute(self, context: Context) -> dict[str, Any]:
        validate_table(self.table)
        job_id, manifest_uri = self._job_ref()
        db = self.db_hook()
        jobs_table = f"{self.table}_jobs"
        if self.create_table:
            markdown = ",\n    markdown TEXT" if self.include_markdown else ""
            db.run(_DOCUMENT_DDL.format(table=self.table, markdown=markdown))
            db.run(_JOB_DDL.format(table=jobs_table))
        if not manifest_uri:  # nothing was submitted (e.g. every document already converted)
            self.log.info("Job %s has no manifest (nothing submitted): nothing to load", job_id)
            return {
                "table": self.table,
                "job_id": job_id,
                "rows_loaded": 0,
                **JobCost(job_id, 0, self.pricing_tier).as_dict(),
            }
        counts = {"completed": 0, "errored": 0, "pages": 0}
        loaded_at = datetime.now(timezone.utc).isoformat()
        mathpix = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        records = read_manifest(manifest_uri, conn_id=self.manifest_conn_id)
        rows = self._rows(mathpix, records, job_id, loaded_at, counts)
        columns = [*DOCUMENT_COLUMNS, *(["markdown"] if self.include_markdown else [])]
        db.insert_rows(
            self.table,
            rows,
            target_fields=columns,
            commit_every=self.batch_size,
            replace=True,
            replace_index=["document_id"],
            executemany=True,
        )
        cost = JobCost(job_id, counts["pages"], self.pricing_tier)
        db.insert_rows(
            jobs_table,
            [
                (
                    job_id,
                    counts["completed"],
                    counts["errored"],
                    cost.pages,
                    cost.tier,
                    cost.price_per_1000_pages,
                    cost.usd,
                    loaded_at,
                )
            ],
            target_fields=list(JOB_COLUMNS),
            replace=True,
            replace_index=["job_id"],
        )
        self.log.info(cost.line)
        return {
            "table": self.table,
            "job_id": job_id,
            "rows_loaded": counts["completed"] + counts["errored"],
            "documents_completed": counts["completed"],
            "documents_errored": counts["errored"],
            **cost.as_dict(),
        }

    def _rows(
        self,
        mathpix: MathpixHook,
        records: Iterator[dict[str, Any]],
        job_id: str,
        loaded_at: str,
        counts: dict[str, int],
    ) -> Iterator[tuple[Any, ...]]:
        """Rows batch by batch: each batch's lookups run in parallel, then its rows are yielded."""
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="mathpix-sql") as pool:
            while True:
                batch = list(itertools.islice(records, self.batch_size))
                if not batch:
                    return
                details = list(pool.map(lambda record: self._details(mathpix, record), batch))
                for record, (pages, markdown) in zip(batch, details, strict=True):
                    completed = record.get("status") == "completed"
                    counts["completed" if completed else "errored"] += 1
                    counts["pages"] += pages or 0
                    custom_id = str(record.get("custom_id") or record["file_id"])
                    row: tuple[Any, ...] = (
                        document_id_of(custom_id),
                        custom_id,
                        str(record.get("job_id") or job_id),
                        record.get("file_id"),
                        record.get("status"),
                        pages,
                        record.get("error"),
                        output_of(record, self.markdown_format),
                        source_of(record),
                        loaded_at,
                    )
                    yield (*row, markdown) if self.include_markdown else row

    def _details(self, mathpix: MathpixHook, record: Mapping[str, Any]) -> tuple[int | None, str | None]:
        """Pages (and Markdown, when asked) of a completed file; nothing for an errored one."""
        if record.get("status") != "completed" or not record.get("file_id"):
            return None, None
        file_id = str(record["file_id"])
        pages = int(mathpix.get_file(file_id).get("num_pages") or 0)
        markdown = None
        if self.include_markdown:
            data = mathpix.download_output(file_id, self.markdown_format)
            markdown = bytes(data).decode("utf-8") if isinstance(data, (bytes, bytearray)) else None
        return pages, markdown


__all__ = ["JobCost", "MathpixResultsToSqlOperator"]
