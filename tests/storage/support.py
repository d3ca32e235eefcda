"""Helpers for the bucket tests: register data sources, run small DAGs."""

from __future__ import annotations

from typing import Any

from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.testing.storage_servers import AZURITE_ACCOUNT, StorageServer

PROVIDER = {"s3": "aws", "gs": "gcp", "azure": "azure"}
AUTH = {"s3": "iam_role", "gs": "service_account", "azure": "azure_ad"}


def data_source_args(server: StorageServer, bucket: str) -> dict[str, Any]:
    """Arguments of ``create_data_source`` for ``bucket`` on ``server``'s cloud."""
    details = {"account_name": AZURITE_ACCOUNT} if server.kind == "azure" else None
    return {
        "provider": PROVIDER[server.kind],
        "bucket": bucket,
        "auth_method": AUTH[server.kind],
        "provider_specific_details": details,
    }


def register(server: StorageServer, *buckets: str) -> list[str]:
    """Register buckets as Mathpix data sources in the emulator (through the hook)."""
    hook = MathpixHook()
    return [hook.create_data_source(**data_source_args(server, b))["data_source_id"] for b in buckets]
