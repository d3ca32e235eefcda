"""The flagship pipeline, scheduled: every day, the new PDFs -> Mathpix -> the bucket -> a warehouse table.

    s3://<bucket>/incoming/*.pdf                       (documents arrive any time)
      -> convert          MathpixSubmitJobOperator, @daily, skip_converted=True: only documents
                          (or new versions of documents) no earlier run converted, as ONE job,
                          deferred to the triggerer; Mathpix writes the Markdown itself into
                          s3://<bucket>/processed/<document>:<version>/ (destination_prefix:
                          the bucket is a registered data source, so no output byte
                          passes through an Airflow worker)
      -> load_warehouse   MathpixResultsToSqlOperator: one row per document (upsert), the
                          Markdown text included, and the job's cost line

Every run is safe to repeat: a retry re-attaches to the same Mathpix files (the job id
comes from the run, each custom_id from the document's key and content), a cleared and
rerun day finds everything in the ledger (``s3://<bucket>/ledger/``) and converts nothing,
and the load is an upsert, so the table keeps one row per document.

``make demo`` runs it for two consecutive days on the bundled Mathpix emulator and an
emulated S3; the real-deployment test runs it under a real scheduler, triggerer and Celery
worker; with a real app key and bucket it runs against api.mathpix.com unchanged. It is
configured by environment variables read when the file is parsed:

- ``MATHPIX_DEMO_BUCKET``: the S3 bucket (default ``mathpix-demo``), registered as a Mathpix
  data source; the connections are ``mathpix_default``, ``aws_default`` and
  ``mathpix_warehouse`` (any ``common.sql`` database; the demo uses a SQLite file);
- ``MATHPIX_DEMO_PRICING_TIER``: ``standard`` (default, below 30M pages a month) or ``volume``;
- ``MATHPIX_DEMO_POLL_INTERVAL``: seconds between status polls (default 10).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG  # Airflow 2.11-3.3 (on 3.x: airflow.sdk)

from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from airflow_provider_mathpix.operators.sql import MathpixResultsToSqlOperator

BUCKET = os.environ.get("MATHPIX_DEMO_BUCKET", "mathpix-demo")
INCOMING = f"s3://{BUCKET}/incoming/"
PROCESSED = f"s3://{BUCKET}/processed/"
MANIFESTS = f"s3://{BUCKET}/manifests/"
LEDGER = f"s3://{BUCKET}/ledger/"
PRICING_TIER = os.environ.get("MATHPIX_DEMO_PRICING_TIER", "standard")
POLL_INTERVAL = float(os.environ.get("MATHPIX_DEMO_POLL_INTERVAL", "10"))

with DAG(
    dag_id="example_mathpix_flagship",
    description="Each day: new PDFs in S3 -> Mathpix -> Markdown in S3 -> warehouse table",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,  # runs see each other's ledger entries: no document converted twice
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    tags=["mathpix", "example"],
) as dag:
    convert = MathpixSubmitJobOperator(
        task_id="convert",
        source_prefix=INCOMING,
        suffixes=[".pdf"],
        skip_converted=True,
        ledger_path=LEDGER,
        ledger_conn_id="aws_default",
        allow_empty=True,  # a day without new documents is a success
        destination_prefix=PROCESSED,
        conversion_formats={"md": True},
        manifest_path=MANIFESTS,
        manifest_conn_id="aws_default",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )

    load_warehouse = MathpixResultsToSqlOperator(
        task_id="load_warehouse",
        conn_id="mathpix_warehouse",
        job=convert.output,
        table="documents",
        create_table=True,
        include_markdown=True,
        pricing_tier=PRICING_TIER,
        manifest_conn_id="aws_default",
    )
