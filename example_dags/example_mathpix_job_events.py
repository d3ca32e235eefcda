"""Event-driven loading (Airflow >= 3.0): a load DAG scheduled on Mathpix job completions.

- ``example_mathpix_job_events_convert`` runs ``@daily``: it submits the day's new PDFs
  under ``s3://<bucket>/incoming/`` (``skip_converted=True``) and returns at once
  (``wait_for_completion=False``). Nothing waits for the job in a worker.
- ``example_mathpix_job_events_load`` is scheduled on the ``mathpix_jobs_completed``
  asset, whose ``AssetWatcher`` runs :class:`MathpixJobCompletedTrigger` in the
  triggerer: it fires once per completed job whose id starts with the convert DAG's
  prefix -- and would equally for jobs submitted by a script or an SCS migration with
  that prefix. Each run writes the manifest of the jobs that fired and records their
  documents in the conversion ledger (``MathpixJobSensor``: already complete, so it
  returns at once), then loads them into the warehouse (``MathpixResultsToSqlOperator``).
  A manual run can name a job with ``{"job_id": "..."}`` in its conf. A convert run that
  starts before the previous job was recorded would submit that job's documents again:
  daily runs leave ample time; for tighter schedules wait in the convert DAG instead.

Configured like the flagship: ``MATHPIX_DEMO_BUCKET`` (default ``mathpix-demo``);
connections ``mathpix_default``, ``aws_default`` and ``mathpix_warehouse`` (any
``common.sql`` database).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Asset, task  # Airflow 2.11-3.3 (on 3.x: airflow.sdk)

from airflow_provider_mathpix._compat import AssetWatcher  # airflow.sdk.AssetWatcher (Airflow >= 3.0)
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from airflow_provider_mathpix.operators.sql import MathpixResultsToSqlOperator
from airflow_provider_mathpix.sensors.mathpix import MathpixJobSensor
from airflow_provider_mathpix.triggers.events import MathpixJobCompletedTrigger, require_event_triggers

# Scheduling on job completion needs event triggers (Airflow >= 3.0): on Airflow 2 this file
# fails to parse with a message that says so (wait with MathpixJobSensor there instead).
require_event_triggers()

BUCKET = os.environ.get("MATHPIX_DEMO_BUCKET", "mathpix-demo")
INCOMING = f"s3://{BUCKET}/incoming/"
MANIFESTS = f"s3://{BUCKET}/manifests/"
LEDGER = f"s3://{BUCKET}/ledger/"
CONVERT_DAG_ID = "example_mathpix_job_events_convert"
#: The default job_id of a job operator starts with ``airflow:<dag_id>:<task_id>:``.
JOB_PREFIX = f"airflow:{CONVERT_DAG_ID}:convert:"
POLL_INTERVAL = float(os.environ.get("MATHPIX_DEMO_POLL_INTERVAL", "60"))

JOBS_COMPLETED = Asset(
    "mathpix_jobs_completed",
    watchers=[
        AssetWatcher(
            name="mathpix_jobs_completed_watcher",
            trigger=MathpixJobCompletedTrigger(
                job_id_prefix=JOB_PREFIX,
                state_path=f"s3://{BUCKET}/triggers/jobs-completed/",
                poll_interval=POLL_INTERVAL,
            ),
        )
    ],
)

with DAG(
    dag_id=CONVERT_DAG_ID,
    description="Submit the day's new PDFs to Mathpix; do not wait",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["mathpix", "example", "events"],
) as convert_dag:
    MathpixSubmitJobOperator(
        task_id="convert",
        source_prefix=INCOMING,
        suffixes=[".pdf"],
        skip_converted=True,
        ledger_path=LEDGER,
        ledger_conn_id="aws_default",
        allow_empty=True,
        conversion_formats={"md": True},
        wait_for_completion=False,
    )

with DAG(
    dag_id="example_mathpix_job_events_load",
    description="Load every completed Mathpix job into the warehouse",
    schedule=[JOBS_COMPLETED],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["mathpix", "example", "events"],
) as load_dag:

    @task
    def completed_jobs(**context: Any) -> list[str]:
        """The job ids of the asset events behind this run (or ``conf["job_id"]`` when run by hand)."""
        conf = context["dag_run"].conf or {}
        if conf.get("job_id"):
            return [str(conf["job_id"])]
        events = context.get("triggering_asset_events") or {}
        return [
            str(event.extra["payload"]["job_id"])
            for asset_events in events.values()
            for event in asset_events
            if (event.extra or {}).get("payload", {}).get("job_id")
        ]

    # Mathpix keeps the job's results; this writes the job's manifest (the job is complete,
    # so each mapped sensor returns on its first check) for the loader to read.
    report = MathpixJobSensor.partial(
        task_id="report",
        manifest_path=MANIFESTS,
        manifest_conn_id="aws_default",
        ledger_path=LEDGER,  # the convert task did not wait: the job is recorded here
        ledger_conn_id="aws_default",
        conversion_formats={"md": True},
        poke_interval=5,
        timeout=600,
    ).expand(job_id=completed_jobs())

    MathpixResultsToSqlOperator.partial(
        task_id="load_warehouse",
        conn_id="mathpix_warehouse",
        table="mathpix_documents",
        create_table=True,
        manifest_conn_id="aws_default",
    ).expand(job=report.output)
