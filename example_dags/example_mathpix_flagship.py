"""The flagship pipeline: a bucket of PDFs -> Mathpix -> Markdown in the bucket -> a warehouse table.

    s3://<bucket>/incoming/*.pdf
      -> convert           MathpixSubmitJobOperator: the whole prefix as ONE job, deferred to the triggerer
      -> wait_for_job      MathpixJobSensor: the partial-success policy on the finished job
      -> download_markdown MathpixDownloadOutputsOperator: Markdown into s3://<bucket>/processed/
      -> load_warehouse    one row per document (id, pages, title, markdown) into a SQL table

``make demo`` runs it on the bundled Mathpix emulator and an emulated S3; the real-deployment
test runs it under a real scheduler, triggerer and Celery worker; with a real app key and
bucket it runs against api.mathpix.com unchanged. It is configured by environment variables
read when the file is parsed:

- ``MATHPIX_DEMO_BUCKET``: the S3 bucket (default ``mathpix-demo``), registered as a Mathpix
  data source; the connections are ``mathpix_default`` and ``aws_default``;
- ``MATHPIX_DEMO_WAREHOUSE``: the SQLite file of the ``documents`` table
  (default ``$AIRFLOW_HOME/warehouse.sqlite``);
- ``MATHPIX_DEMO_POLL_INTERVAL``: seconds between status polls (default 10).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task  # Airflow 2.11-3.3 (on 3.x: airflow.sdk)

from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from airflow_provider_mathpix.operators.outputs import MathpixDownloadOutputsOperator
from airflow_provider_mathpix.sensors.mathpix import MathpixJobSensor

BUCKET = os.environ.get("MATHPIX_DEMO_BUCKET", "mathpix-demo")
INCOMING = f"s3://{BUCKET}/incoming/"
PROCESSED = f"s3://{BUCKET}/processed/"
MANIFESTS = f"s3://{BUCKET}/manifests/"
WAREHOUSE = os.environ.get(
    "MATHPIX_DEMO_WAREHOUSE",
    os.path.join(os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")), "warehouse.sqlite"),
)
POLL_INTERVAL = float(os.environ.get("MATHPIX_DEMO_POLL_INTERVAL", "10"))

with DAG(
    dag_id="example_mathpix_flagship",
    description="S3 prefix of PDFs -> Mathpix job -> Markdown in S3 -> warehouse table",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    tags=["mathpix", "example"],
) as dag:
    # One job for the whole prefix, streamed from the bucket listing. The job_id comes from
    # the task instance (never the try number), so a retry re-attaches to the same job.
    convert = MathpixSubmitJobOperator(
        task_id="convert",
        source_prefix=INCOMING,
        suffixes=[".pdf"],
        conversion_formats={"md": True},
        manifest_path=MANIFESTS,
        manifest_conn_id="aws_default",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )

    # The job is finished when `convert` resumes; the sensor applies the partial-success
    # policy a second time for DAGs that submit with wait_for_completion=False instead.
    wait_for_job = MathpixJobSensor(
        task_id="wait_for_job",
        job_id="{{ ti.xcom_pull(task_ids='convert')['job_id'] }}",
        manifest_path=MANIFESTS,
        manifest_conn_id="aws_default",
        deferrable=True,
        poke_interval=POLL_INTERVAL,
    )

    download_markdown = MathpixDownloadOutputsOperator(
        task_id="download_markdown",
        job_id="{{ ti.xcom_pull(task_ids='convert')['job_id'] }}",
        formats=["md"],
        destination=PROCESSED,
        destination_conn_id="aws_default",
        manifest_path=MANIFESTS,
        manifest_conn_id="aws_default",
    )

    @task
    def load_warehouse(job: dict[str, Any]) -> dict[str, Any]:
        """Load one row per converted document: id, pages, title, markdown (an upsert by id)."""
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        from airflow_provider_mathpix.demo.warehouse import DocumentRow, load_documents, title_from_markdown
        from airflow_provider_mathpix.hooks.mathpix import MathpixHook
        from airflow_provider_mathpix.manifests import read_manifest

        hook = MathpixHook()
        processed = ObjectStoragePath(PROCESSED, conn_id="aws_default")
        rows = []
        for record in read_manifest(job["manifest_uri"], conn_id="aws_default"):
            if record.get("status") != "completed":
                continue
            markdown = (processed / f"{record['custom_id']}.md").read_text(encoding="utf-8")
            pages = int(hook.get_file(record["file_id"]).get("num_pages") or 0)
            rows.append(DocumentRow(record["custom_id"], pages, title_from_markdown(markdown), markdown))
        load_documents(WAREHOUSE, rows)
        return {"table": "documents", "warehouse": WAREHOUSE, "ids": [row.id for row in rows]}

    load = load_warehouse(wait_for_job.output)  # type: ignore[arg-type]
    convert >> wait_for_job >> download_markdown >> load
