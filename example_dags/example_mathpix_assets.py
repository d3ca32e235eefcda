"""Data-aware scheduling: a conversion DAG produces an Asset, a load DAG is scheduled on it.

- ``example_mathpix_assets_producer`` converts every PDF under ``s3://<bucket>/incoming/``
  as one Mathpix job and downloads the Markdown into ``s3://<bucket>/library/markdown/``
  with ``emit_asset=True``: on success the download task emits an asset event for that
  destination, whose ``extra`` carries the counters and the download manifest's URI.
- ``example_mathpix_assets_consumer`` has ``schedule=[LIBRARY_MARKDOWN]``: the scheduler
  creates a run of it after every such event, with no sensor and no cross-DAG polling.

Configured like the flagship DAG: ``MATHPIX_DEMO_BUCKET`` (default ``mathpix-demo``),
connections ``mathpix_default`` and ``aws_default``.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task  # Airflow 2.11-3.3 (on 3.x: airflow.sdk)

from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from airflow_provider_mathpix.operators.outputs import MathpixDownloadOutputsOperator, destination_asset

BUCKET = os.environ.get("MATHPIX_DEMO_BUCKET", "mathpix-demo")
INCOMING = f"s3://{BUCKET}/incoming/"
LIBRARY = f"s3://{BUCKET}/library/markdown/"
#: The Asset the download task emits, built by the same rule the operator uses.
LIBRARY_MARKDOWN = destination_asset(LIBRARY)
POLL_INTERVAL = float(os.environ.get("MATHPIX_DEMO_POLL_INTERVAL", "10"))

with DAG(
    dag_id="example_mathpix_assets_producer",
    description="Convert incoming PDFs and publish the Markdown as an Asset",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["mathpix", "example", "assets"],
) as producer:
    convert = MathpixSubmitJobOperator(
        task_id="convert",
        source_prefix=INCOMING,
        suffixes=[".pdf"],
        conversion_formats={"md": True},
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )
    # [START howto_operator_mathpix_download_outputs]  --8<-- [start:howto_operator_mathpix_download_outputs]
    publish = MathpixDownloadOutputsOperator(
        task_id="publish_markdown",
        job_id="{{ ti.xcom_pull(task_ids='convert')['job_id'] }}",
        formats=["md"],
        destination=LIBRARY,
        destination_conn_id="aws_default",
        emit_asset=True,  # an asset event for LIBRARY_MARKDOWN when the download succeeds
    )
    # [END howto_operator_mathpix_download_outputs]  --8<-- [end:howto_operator_mathpix_download_outputs]
    convert >> publish

with DAG(
    dag_id="example_mathpix_assets_consumer",
    description="Scheduled on the Markdown library Asset: runs after every publication",
    schedule=[LIBRARY_MARKDOWN],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["mathpix", "example", "assets"],
) as consumer:

    @task(inlets=[LIBRARY_MARKDOWN])
    def index_library(**context: Any) -> dict[str, Any]:
        """Read what the triggering event says was published, and count the documents now there."""
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        # Airflow 2 calls assets "datasets" (the key is triggering_dataset_events there).
        triggering = context.get("triggering_asset_events") or context["triggering_dataset_events"]
        events = triggering[LIBRARY_MARKDOWN]
        published = [event.extra for event in events]
        library = ObjectStoragePath(LIBRARY, conn_id="aws_default")
        documents = sorted(path.name for path in library.iterdir() if path.name.endswith(".md"))
        return {"events": len(events), "published": published, "documents": documents}

    index_library()
