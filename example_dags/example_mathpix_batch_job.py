"""Convert a batch of documents as one Mathpix job, gated by a sensor, then read the manifest.

Runs unchanged against the real API: create a ``mathpix_default`` connection and
trigger the DAG, optionally with ``{"files": ["https://...pdf", ...]}``. The defaults
come from ``MATHPIX_EXAMPLE_JOB_FILES`` (comma-separated URIs; ``s3://``/``gs://``/Azure
URIs need a registered Mathpix data source) or Mathpix's public sample. The manifest
goes to ``MATHPIX_EXAMPLE_MANIFEST_PREFIX`` (a folder URI such as ``s3://bucket/manifests/``
that every worker can read; default: under AIRFLOW_HOME, fine on a single machine).
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Param, task  # Airflow 2.11-3.3 (on 3.x: airflow.sdk)

from airflow_provider_mathpix.manifests import read_manifest
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from airflow_provider_mathpix.sensors.mathpix import MathpixJobSensor

FILES = [
    uri.strip()
    for uri in os.environ.get(
        "MATHPIX_EXAMPLE_JOB_FILES", "https://cdn.mathpix.com/examples/cs229-notes1.pdf"
    ).split(",")
    if uri.strip()
]
MANIFEST_PREFIX = os.environ.get("MATHPIX_EXAMPLE_MANIFEST_PREFIX") or None

with DAG(
    dag_id="example_mathpix_batch_job",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,  # ``{{ params.files }}`` renders to a list, not its repr
    params={"files": Param(FILES, type="array", description="source URIs to convert as one job")},
    tags=["example", "mathpix"],
) as dag:
    # [START howto_operator_mathpix_submit_job]  --8<-- [start:howto_operator_mathpix_submit_job]
    submit = MathpixSubmitJobOperator(
        task_id="submit_job",
        files="{{ params.files }}",
        conversion_formats=["md", "docx"],
        wait_for_completion=False,  # the sensor below waits (and frees this task at once)
    )
    # [END howto_operator_mathpix_submit_job]  --8<-- [end:howto_operator_mathpix_submit_job]

    # [START howto_sensor_mathpix_job]  --8<-- [start:howto_sensor_mathpix_job]
    wait = MathpixJobSensor(
        task_id="wait_for_job",
        job_id=submit.output["job_id"],  # pushed by the operator before it returned
        deferrable=True,
        poke_interval=30,
        timeout=6 * 60 * 60,
        max_error_ratio=0.1,  # up to 10% errored files: warn, don't fail
        conversion_formats=["md", "docx"],
        manifest_path=MANIFEST_PREFIX,
    )
    # [END howto_sensor_mathpix_job]  --8<-- [end:howto_sensor_mathpix_job]

    # [START howto_read_manifest]  --8<-- [start:howto_read_manifest]
    @task
    def summarize(job: dict[str, Any]) -> dict[str, int]:
        """Stream the manifest (one JSON line per file): never the whole job in memory."""
        statuses: Counter[str] = Counter()
        for record in read_manifest(job["manifest_uri"]):
            statuses[record["status"]] += 1
            if record["status"] == "completed":
                print(f"{record['custom_id']}: {record['outputs']['md']}")
            else:
                print(f"{record['custom_id']} failed: {record['error']}")
        return dict(statuses)

    summarize(wait.output)
    # [END howto_read_manifest]  --8<-- [end:howto_read_manifest]
