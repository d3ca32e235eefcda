"""Upload a file from the worker's disk (or any ObjectStoragePath) and convert it.

Runs unchanged against the real API: create a ``mathpix_default`` connection and set
``local_path`` (param) or ``MATHPIX_EXAMPLE_LOCAL_PDF`` to a PDF the worker can read.
When the file is missing, the first task fetches Mathpix's public sample PDF there,
so the DAG also works on a fresh machine.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Param, task  # Airflow 2.11-3.3 (on 3.x: airflow.sdk)

from airflow_provider_mathpix.operators.files import MathpixSubmitFileOperator

DEFAULT_PATH = os.environ.get(
    "MATHPIX_EXAMPLE_LOCAL_PDF",
    os.path.join(os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")), "mathpix", "sample.pdf"),
)
SAMPLE_URL = "https://cdn.mathpix.com/examples/cs229-notes1.pdf"

with DAG(
    dag_id="example_mathpix_upload_local",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"local_path": Param(DEFAULT_PATH, type="string", description="absolute path of a PDF")},
    tags=["example", "mathpix"],
) as dag:

    @task
    def ensure_local_pdf(path: str) -> str:
        """Make sure the file exists (download the public sample if not)."""
        target = Path(path)
        if not target.is_file():
            import httpx

            target.parent.mkdir(parents=True, exist_ok=True)
            with httpx.stream("GET", SAMPLE_URL, follow_redirects=True, timeout=60) as response:
                response.raise_for_status()
                with target.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
        return str(target)

    # [START howto_operator_mathpix_upload_local]  --8<-- [start:howto_operator_mathpix_upload_local]
    upload = MathpixSubmitFileOperator(
        task_id="upload_pdf",
        source_path=ensure_local_pdf("{{ params.local_path }}"),  # streamed, never read into memory
        conversion_formats=["docx"],
        poll_interval=5,
    )
    # [END howto_operator_mathpix_upload_local]  --8<-- [end:howto_operator_mathpix_upload_local]

    @task
    def report(result: dict[str, Any]) -> str:
        print(f"file {result['file_id']}: {result['num_pages']} pages, DOCX at {result['outputs']['docx']}")
        return result["outputs"]["docx"]

    report(upload.output)
