"""Airflow connections (as ``AIRFLOW_CONN_*`` variables) that point at the storage emulators.

What the DAG author's side of a test needs to reach the same servers the Mathpix
emulator reads and writes: Airflow's default connection ids, each aimed at a local
endpoint with the emulators' well-known test credentials.
"""

from __future__ import annotations

import json
from typing import Any

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft; not a secret).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"
S3_REGION = "us-east-1"
GCS_PROJECT = "test-project"
GCSFS_FLAG = "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"


def _conn_json(conn_type: str, **fields: Any) -> str:
    return json.dumps({"conn_type": conn_type, **fields})


def s3_connection_env(endpoint_url: str, conn_id: str = "aws_default") -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` for an AWS connection pointed at an S3-compatible endpoint."""
    conn = _conn_json(
        "aws",
        login=S3_ACCESS_KEY,
        password=S3_SECRET_KEY,
        extra={"endpoint_url": endpoint_url, "region_name": S3_REGION},
    )
    return {f"AIRFLOW_CONN_{conn_id.upper()}": conn}


def gcs_connection_env(endpoint_url: str, conn_id: str = "google_cloud_default") -> dict[str, str]:
    """A Google connection for the emulator.

    ``gcs.endpoint`` points the ``gs://`` ObjectStoragePath filesystem (gcsfs) at the
    emulator; ``STORAGE_EMULATOR_HOST`` does the same for google-cloud-storage, which
    the google provider's ``GCSHook`` uses; ``is_anonymous`` skips Google auth.
    ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` stops gcsfs (2025.x+) from asking Google's
    gRPC storage-control API for the bucket type, which an emulator does not serve (each
    ``gs://`` call would otherwise wait out a 60 s timeout); it must be set before gcsfs is
    imported.
    """
    conn = _conn_json(
        "google_cloud_platform",
        extra={"is_anonymous": True, "project": GCS_PROJECT, "gcs.endpoint": endpoint_url},
    )
    return {
        f"AIRFLOW_CONN_{conn_id.upper()}": conn,
        "STORAGE_EMULATOR_HOST": endpoint_url,
        GCSFS_FLAG: "false",
    }


def azurite_connection_string(blob_endpoint: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={blob_endpoint};"
    )


def azure_connection_env(connection_string: str, conn_id: str = "wasb_default") -> dict[str, str]:
    """A ``wasb`` connection (used by WasbHook and by ``abfs://`` paths) for Azurite."""
    conn = _conn_json("wasb", extra={"connection_string": connection_string})
    return {f"AIRFLOW_CONN_{conn_id.upper()}": conn}
