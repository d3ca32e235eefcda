"""Convert one PDF with Mathpix, waiting in the triggerer instead of a worker slot.

Runs unchanged against the real API: create a ``mathpix_default`` connection (App Key
in the password field) and trigger the DAG, optionally with ``{"source_uri": "..."}``.
The default source is Mathpix's own public sample (override it with the
``MATHPIX_EXAMPLE_PDF_URI`` environment variable or the ``source_uri`` param).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Param, task  # Airflow 2.11-3.3 (on 3.x: airflow.sdk)

from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.operators.files import MathpixSubmitFileOperator

SOURCE_URI = os.environ.get("MATHPIX_EXAMPLE_PDF_URI", "https://cdn.mathpix.com/examples/cs229-notes1.pdf")

with DAG(
    dag_id="example_mathpix_convert_pdf",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"source_uri": Param(SOURCE_URI, type="string", description="PDF for Mathpix to fetch")},
    tags=["example", "mathpix"],
) as dag:
    # [START howto_operator_mathpix_convert_pdf]  --8<-- [start:howto_operator_mathpix_convert_pdf]
    convert = MathpixSubmitFileOperator(
        task_id="convert_pdf",
        source_uri="{{ params.source_uri }}",
        conversion_formats=["md", "docx"],
        deferrable=True,  # wait in the triggerer: no worker slot held while Mathpix works
        poll_interval=10,
        timeout=60 * 60,
    )
    # [END howto_operator_mathpix_convert_pdf]  --8<-- [end:howto_operator_mathpix_convert_pdf]

    # [START howto_use_file_xcom]  --8<-- [start:howto_use_file_xcom]
    @task
    def preview_markdown(result: dict[str, Any]) -> int:
        """Read the Markdown output through the hook and show its beginning."""
        markdown = MathpixHook().download_output(result["file_id"], "md")
        assert isinstance(markdown, bytes)
        print(f"{result['num_pages']} pages converted; outputs: {result['outputs']}")
        print(markdown[:500].decode("utf-8", "replace"))
        return len(markdown)

    preview_markdown(convert.output)
    # [END howto_use_file_xcom]  --8<-- [end:howto_use_file_xcom]
