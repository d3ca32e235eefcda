"""Where a manifest goes when the DAG says nothing: shared storage if the deployment has it.

A downstream task may run on another worker (Celery, Kubernetes), where the first
worker's disk is not there; ``[mathpix] manifest_base`` (declared in the provider info)
or the object-storage XCom backend's path are shared, and a local default under a
distributed executor is warned about.
"""

from __future__ import annotations

import logging

import pytest

from airflow_provider_mathpix import get_provider_info
from airflow_provider_mathpix.manifests import default_manifest_path, manifest_uri, resolve_manifest_path


@pytest.fixture(autouse=True)
def _no_mathpix_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AIRFLOW__MATHPIX__MANIFEST_BASE",
        "AIRFLOW__MATHPIX__MANIFEST_CONN_ID",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH",
        "AIRFLOW__CORE__XCOM_BACKEND",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")


def test_the_option_is_declared_in_the_provider_info():
    options = get_provider_info()["config"]["mathpix"]["options"]
    assert options["manifest_base"]["default"] is None
    assert "s3://" in options["manifest_base"]["example"]
    assert "manifest_conn_id" in options


def test_local_default_under_a_local_executor_is_silent(caplog):
    caplog.set_level(logging.WARNING)
    path = default_manifest_path("job-1")
    assert manifest_uri(path).endswith("/mathpix/manifests/job-1.jsonl")
    assert manifest_uri(path).startswith("file://")
    assert caplog.text == ""


def test_manifest_base_option_is_used_with_its_connection(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__MATHPIX__MANIFEST_BASE", "s3://shared-bucket/mathpix/manifests/")
    monkeypatch.setenv("AIRFLOW__MATHPIX__MANIFEST_CONN_ID", "aws_shared")
    path = resolve_manifest_path(None, job_id="job-1")
    assert manifest_uri(path) == "s3://shared-bucket/mathpix/manifests/job-1.jsonl"
    assert path.conn_id == "aws_shared"
    local = tmp_path / "shared"
    monkeypatch.setenv("AIRFLOW__MATHPIX__MANIFEST_BASE", str(local))  # an NFS mount, say
    assert manifest_uri(default_manifest_path("job-2")) == f"file://{local}/job-2.jsonl"


def test_object_storage_xcom_backend_path_is_used_when_configured(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW__CORE__XCOM_BACKEND", "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"
    )
    monkeypatch.setenv("AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH", "s3://aws_default@xcoms/data")
    path = default_manifest_path("job-1")
    assert manifest_uri(path) == "s3://xcoms/data/mathpix/manifests/job-1.jsonl"
    assert path.conn_id == "aws_default"


def test_local_default_under_a_distributed_executor_warns(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    caplog.set_level(logging.WARNING)
    path = default_manifest_path("job-1")
    assert manifest_uri(path).startswith("file://")
    assert "CeleryExecutor" in caplog.text
    assert "[mathpix] manifest_base" in caplog.text and "manifest_path" in caplog.text
