"""The OpenLineage naming rules of ``airflow_provider_mathpix.lineage`` (pure, no server)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_mathpix.lineage import (
    LineageDataset,
    dataset_for_uri,
    datasets_for_uris,
    job_lineage,
    operator_lineage,
)


@pytest.mark.parametrize(
    ("uri", "namespace", "name"),
    [
        ("s3://docs-bucket/incoming/paper.pdf", "s3://docs-bucket", "incoming/paper.pdf"),
        ("s3://docs-bucket/incoming/", "s3://docs-bucket", "incoming"),
        ("s3://docs-bucket", "s3://docs-bucket", "/"),
        ("s3a://docs-bucket/x.pdf", "s3://docs-bucket", "x.pdf"),
        ("gs://gcs-bucket/a/b.pdf", "gs://gcs-bucket", "a/b.pdf"),
        ("gcs://gcs-bucket/a/", "gs://gcs-bucket", "a"),
        (
            "https://myaccount.blob.core.windows.net/papers/2024/a.pdf",
            "wasbs://papers@myaccount.dfs.core.windows.net",
            "2024/a.pdf",
        ),
        (
            "wasbs://papers@myaccount.blob.core.windows.net/2024/a.pdf",
            "wasbs://papers@myaccount.dfs.core.windows.net",
            "2024/a.pdf",
        ),
        (
            "abfss://lake@myaccount.dfs.core.windows.net/raw/a.pdf",
            "abfss://lake@myaccount.dfs.core.windows.net",
            "raw/a.pdf",
        ),
        ("abfs://lake/raw/a.pdf", "abfss://lake", "raw/a.pdf"),
        ("file:///tmp/out/a.md", "file", "/tmp/out/a.md"),
        ("/tmp/out/../out/a.md", "file", "/tmp/out/a.md"),
        ("file://fileserver/share/a.md", "file://fileserver", "/share/a.md"),
        ("https://example.org/papers/a.pdf", "https://example.org", "/papers/a.pdf"),
        ("https://user:secret@example.org/a.pdf", "https://example.org", "/a.pdf"),
    ],
)
def test_dataset_names_follow_the_naming_spec(uri: str, namespace: str, name: str) -> None:
    assert dataset_for_uri(uri) == LineageDataset(namespace, name)


def test_abfs_object_storage_path_is_completed_with_the_account() -> None:
    dataset = dataset_for_uri("abfs://lake/raw/a.pdf", azure_account_name="myaccount")
    assert dataset == LineageDataset("abfss://lake@myaccount.dfs.core.windows.net", "raw/a.pdf")


def test_object_storage_path_is_accepted() -> None:
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath("s3://docs-bucket/processed/", conn_id="aws_default")
    assert dataset_for_uri(path) == LineageDataset("s3://docs-bucket", "processed")


@pytest.mark.parametrize("uri", [None, "", "   "])
def test_not_a_location_gives_none(uri: str | None) -> None:
    assert dataset_for_uri(uri) is None


def test_a_relative_path_is_a_local_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert dataset_for_uri("out/markdown/") == LineageDataset("file", str(tmp_path / "out" / "markdown"))


def test_job_lineage_from_a_prefix() -> None:
    lineage = job_lineage(source_prefix="s3://docs/incoming/", destination_prefix="gs://out/md/")
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("s3://docs", "incoming")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("gs://out", "md")]


def test_job_lineage_from_files_of_both_forms() -> None:
    files = [
        "s3://docs/a.pdf",
        {"source_uri": "gs://g/b.pdf", "custom_id": "b", "destination_uri": "s3://out/b/"},
    ]
    lineage = job_lineage(files=files)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("s3://docs", "a.pdf"), ("gs://g", "b.pdf")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("s3://out", "b")]


def test_job_lineage_of_a_huge_generator_is_bounded() -> None:
    files = (f"s3://docs/in/{i}.pdf" for i in range(10_000_000))
    lineage = job_lineage(files=files, max_datasets=10)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("s3://docs", "in")]
    assert lineage.outputs == []


def test_uri_round_trip() -> None:
    assert LineageDataset("s3://b", "k/x.pdf").uri == "s3://b/k/x.pdf"
    assert LineageDataset("file", "/tmp/a").uri == "file:///tmp/a"


def test_many_uris_are_deduplicated_in_order() -> None:
    uris = ["s3://b/in/a.pdf", "s3://b/in/b.pdf", "s3://b/in/a.pdf", "gs://g/x.pdf"]
    assert datasets_for_uris(uris) == [
        LineageDataset("s3://b", "in/a.pdf"),
        LineageDataset("s3://b", "in/b.pdf"),
        LineageDataset("gs://g", "x.pdf"),
    ]


def test_a_huge_fan_in_collapses_to_folders() -> None:
    uris = (f"s3://b/in/batch-{i % 3}/doc-{i}.pdf" for i in range(200_000))
    assert datasets_for_uris(uris, max_datasets=5) == [
        LineageDataset("s3://b", "in/batch-0"),
        LineageDataset("s3://b", "in/batch-1"),
        LineageDataset("s3://b", "in/batch-2"),
    ]


def test_collapse_stops_at_the_cap_when_roots_differ() -> None:
    uris = [f"s3://bucket-{i}/a.pdf" for i in range(10)]
    assert len(datasets_for_uris(uris, max_datasets=4)) == 4


def test_operator_lineage_builds_openlineage_datasets() -> None:
    lineage = operator_lineage(
        inputs=["s3://docs/incoming/"], outputs=["s3://docs/processed/", "gs://mirror/processed"]
    )
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("s3://docs", "incoming")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("s3://docs", "processed"),
        ("gs://mirror", "processed"),
    ]


def test_without_openlineage_installed_nothing_is_imported_and_lineage_is_none() -> None:
    """Run in a fresh interpreter where importing OpenLineage fails, as on a slim install."""
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "openlineage" or name.startswith("airflow.providers.openlineage"):
                    raise ImportError(f"blocked {name}")
        sys.meta_path.insert(0, Block())
        from airflow_provider_mathpix import lineage
        assert not [m for m in sys.modules if m.startswith("openlineage")], "imported at module load"
        assert lineage.dataset_for_uri("s3://b/k").namespace == "s3://b"
        assert lineage.operator_lineage(["s3://b/k"], ["s3://b/out"]) is None
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
