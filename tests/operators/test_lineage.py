"""OpenLineage of the submit and download operators: real operators, real OperatorLineage.

Datasets are compared as ``(namespace, name)`` pairs, the identity the OpenLineage
naming spec defines (``s3://bucket`` + key, ``wasbs://container@account...`` + blob,
``file`` + absolute path).
"""

from __future__ import annotations

import sys

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_mathpix.operators.files import MathpixSubmitFileOperator
from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
from airflow_provider_mathpix.operators.outputs import MathpixDownloadOutputsOperator

AZURE = "https://acct.blob.core.windows.net"


def _pairs(lineage) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return (
        [(d.namespace, d.name) for d in lineage.inputs],
        [(d.namespace, d.name) for d in lineage.outputs],
    )


def test_job_from_a_prefix_is_one_dataset_in_and_one_out():
    op = MathpixSubmitJobOperator(
        task_id="job", source_prefix="s3://src/incoming/", destination_prefix="gs://out/processed/"
    )
    assert _pairs(op.get_openlineage_facets_on_complete(None)) == (
        [("s3://src", "incoming")],
        [("gs://out", "processed")],
    )


def test_job_from_files_names_each_source_and_own_destination():
    op = MathpixSubmitJobOperator(
        task_id="job",
        files=[
            "s3://docs/a.pdf",
            {"source_uri": f"{AZURE}/papers/2024/b.pdf", "destination_uri": "s3://out/b/"},
            {"source_uri": "s3://docs/a.pdf", "custom_id": "again"},  # one object, one dataset
        ],
    )
    assert _pairs(op.get_openlineage_facets_on_complete(None)) == (
        [("s3://docs", "a.pdf"), ("wasbs://papers@acct.dfs.core.windows.net", "2024/b.pdf")],
        [("s3://out", "b")],
    )


def test_job_with_azure_prefix_and_no_destination():
    op = MathpixSubmitJobOperator(task_id="job", source_prefix=f"{AZURE}/papers/in/")
    assert _pairs(op.get_openlineage_facets_on_complete(None)) == (
        [("wasbs://papers@acct.dfs.core.windows.net", "in")],
        [],
    )


def test_single_file_from_uri_or_uploaded_path():
    by_uri = MathpixSubmitFileOperator(
        task_id="file", source_uri="gs://scans/2024/p.pdf", destination_uri="s3://out/p/"
    )
    assert _pairs(by_uri.get_openlineage_facets_on_complete(None)) == (
        [("gs://scans", "2024/p.pdf")],
        [("s3://out", "p")],
    )
    uploaded = MathpixSubmitFileOperator(task_id="upload", source_path="/data/in/report.pdf")
    assert _pairs(uploaded.get_openlineage_facets_on_complete(None)) == (
        [("file", "/data/in/report.pdf")],
        [],  # outputs stay in Mathpix storage: no platform dataset
    )
    from_bucket = MathpixSubmitFileOperator(
        task_id="from_bucket", source_path=ObjectStoragePath("s3://raw/x/y.pdf", conn_id="aws_other")
    )
    assert _pairs(from_bucket.get_openlineage_facets_on_complete(None))[0] == [("s3://raw", "x/y.pdf")]


def test_download_destination_is_the_output(tmp_path):
    to_bucket = MathpixDownloadOutputsOperator(
        task_id="dl", job_id="j1", destination=ObjectStoragePath("s3://out/md/", conn_id="aws_other")
    )
    assert _pairs(to_bucket.get_openlineage_facets_on_complete(None)) == ([], [("s3://out", "md")])
    to_disk = MathpixDownloadOutputsOperator(task_id="dl_local", file_ids=["f1"], destination=str(tmp_path))
    assert _pairs(to_disk.get_openlineage_facets_on_complete(None)) == ([], [("file", str(tmp_path))])


def test_no_lineage_without_the_openlineage_provider(monkeypatch):
    # None in sys.modules makes the import fail as if the provider were not installed.
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)
    op = MathpixSubmitJobOperator(task_id="job", source_prefix="s3://src/in/")
    assert op.get_openlineage_facets_on_complete(None) is None


@pytest.mark.parametrize(
    "operator",
    [
        MathpixSubmitJobOperator(task_id="j", files=["s3://a/b.pdf"]),
        MathpixSubmitFileOperator(task_id="f", source_uri="s3://a/b.pdf"),
        MathpixDownloadOutputsOperator(task_id="d", job_id="j", destination="s3://a/out/"),
    ],
    ids=["job", "file", "download"],
)
def test_openlineage_listener_finds_the_method(operator):
    """The OpenLineage provider's default extractor calls the operator's own method."""
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    extractor = ExtractorManager().get_extractor_class(operator)
    assert extractor is not None
    lineage = extractor(operator).extract_on_complete(None)
    assert lineage is not None and (lineage.inputs or lineage.outputs)
