"""Mathpix's SCS migration, as a DAG: walk a source prefix, submit one job, results in your bucket.

The worked example of Mathpix's "Migrate from SCS to Files API" guide, step by step:

1. make sure both buckets are registered Mathpix data sources (idempotent: a rerun finds
   the existing registrations instead of failing on ``conflict``), and probe them;
2. walk the source prefix (``*.pdf`` only) and submit every document as ONE job, each
   document's outputs under ``<output prefix>/<custom_id>/`` with
   ``image_output_mode="local"`` (the classic SCS layout: ``.mmd``, ``.md``, ``.docx``
   and a loose ``images/`` folder of crops beside them);
3. wait without holding a worker slot (deferrable), then apply the partial-success policy;
4. delete the files from Mathpix storage once the outputs are safe in your bucket
   (retention as a pipeline step; files still processing are reported, not fatal).

Runs unchanged against the real API: a ``mathpix_default`` connection, an ``aws_default``
connection that can list the source bucket, and trigger with
``{"source_prefix": "s3://…/", "output_prefix": "s3://…/"}``. Defaults come from
``MATHPIX_SCS_SOURCE_PREFIX`` / ``MATHPIX_SCS_OUTPUT_PREFIX`` / ``MATHPIX_SCS_ROLE_ARN``
(and ``MATHPIX_SCS_POLL_INTERVAL``, seconds between status checks, default 30).
The bucket names of the data-source steps are derived from the two prefixes.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, Param  # Airflow 2.11-3.3 (on 3.x: airflow.sdk)

from airflow_provider_mathpix.operators.data_sources import (
    MathpixCreateDataSourceOperator,
    MathpixTestDataSourceOperator,
)
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from airflow_provider_mathpix.operators.outputs import MathpixDeleteFilesOperator

SOURCE_PREFIX = os.environ.get("MATHPIX_SCS_SOURCE_PREFIX", "s3://acme-source/contracts/2026-05/")
OUTPUT_PREFIX = os.environ.get("MATHPIX_SCS_OUTPUT_PREFIX", "s3://acme-output/processed/2026-05/")
# The IAM role in YOUR account that trusts Mathpix, and the external id its trust policy requires:
# both from GET /files/v1/onboarding/identities (aws.trust_account_id, aws.external_id).
ROLE_ARN = os.environ.get("MATHPIX_SCS_ROLE_ARN", "arn:aws:iam::123456789012:role/mathpix-files-api")
EXTERNAL_ID = os.environ.get("MATHPIX_SCS_EXTERNAL_ID", "your-group-external-id")
AWS_GRANT = {"iam_role_arn": ROLE_ARN, "aws_external_id": EXTERNAL_ID}
POLL_INTERVAL = float(os.environ.get("MATHPIX_SCS_POLL_INTERVAL", "30"))

BUCKET_OF = "{{{{ params.{0}.split('://', 1)[1].split('/', 1)[0] }}}}"

with DAG(
    dag_id="example_mathpix_scs_migration",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={
        "source_prefix": Param(SOURCE_PREFIX, type="string", description="s3:// prefix of the documents"),
        "output_prefix": Param(OUTPUT_PREFIX, type="string", description="s3:// prefix for the results"),
    },
    tags=["example", "mathpix", "s3"],
) as dag:
    # [START howto_operator_mathpix_data_sources]  --8<-- [start:howto_operator_mathpix_data_sources]
    register_source = MathpixCreateDataSourceOperator(
        task_id="register_source_bucket",
        provider="aws",
        bucket=BUCKET_OF.format("source_prefix"),
        auth_method="iam_role",
        provider_specific_details=AWS_GRANT,
    )
    register_output = MathpixCreateDataSourceOperator(
        task_id="register_output_bucket",
        provider="aws",
        bucket=BUCKET_OF.format("output_prefix"),
        auth_method="iam_role",
        provider_specific_details=AWS_GRANT,
    )
    probe_output = MathpixTestDataSourceOperator(
        task_id="probe_output_bucket",
        data_source_id=register_output.output["data_source_id"],
    )
    # [END howto_operator_mathpix_data_sources]  --8<-- [end:howto_operator_mathpix_data_sources]

    # [START howto_operator_mathpix_scs_job]  --8<-- [start:howto_operator_mathpix_scs_job]
    convert = MathpixSubmitJobOperator(
        task_id="convert_prefix",
        source_prefix="{{ params.source_prefix }}",
        suffixes=[".pdf"],
        destination_prefix="{{ params.output_prefix }}",  # <prefix>/<custom_id>/ per document
        image_output_mode="local",  # crops in images/ beside the outputs, as SCS did
        conversion_formats={"docx": True, "md": True},
        check_data_sources=True,  # fail before submitting if a bucket is not registered
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        max_error_ratio=0.01,
    )
    # [END howto_operator_mathpix_scs_job]  --8<-- [end:howto_operator_mathpix_scs_job]

    # [START howto_operator_mathpix_delete_files]  --8<-- [start:howto_operator_mathpix_delete_files]
    retention = MathpixDeleteFilesOperator(
        task_id="delete_from_mathpix",
        job_id=convert.output["job_id"],
    )
    # [END howto_operator_mathpix_delete_files]  --8<-- [end:howto_operator_mathpix_delete_files]

    [register_source, probe_output] >> convert >> retention
    register_output >> probe_output
