"""Requests of data sources: POST /files/v1/data-sources and its provider/auth rules.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.options import validate_text
from airflow_provider_mathpix.contract.request import ApiRequest

DATA_SOURCE_PROVIDERS = {
    "aws": {"iam_role", "access_key"},
    "gcp": {"service_account"},
    "azure": {"azure_ad"},
}

#: (provider, auth_method) → the exact ``provider_specific_details`` keys Mathpix takes.
DATA_SOURCE_DETAILS: dict[tuple[str, str], tuple[str, ...]] = {
    ("aws", "iam_role"): ("iam_role_arn", "aws_external_id"),
    ("aws", "access_key"): ("aws_access_key_id",),
    ("azure", "azure_ad"): ("azure_tenant_id", "storage_account"),
    ("gcp", "service_account"): ("gcp_project_id", "target_sa_email"),
}


def create_data_source_request(
    provider: str,
    bucket: str,
    auth_method: str,
    *,
    provider_specific_details: Mapping[str, Any] | None = None,
    name: str | None = None,
    region: str | None = None,
    secret: str | None = None,
) -> ApiRequest:
    """POST /files/v1/data-sources.

    Only ``aws``/``access_key`` (the legacy fallback) carries a ``secret``, and it needs
    ``region``; every other pair is keyless. The secret is never logged or echoed.
    """
    if provider not in DATA_SOURCE_PROVIDERS:
        raise InvalidInput(f"provider must be one of {sorted(DATA_SOURCE_PROVIDERS)}, got {provider!r}")
    methods = DATA_SOURCE_PROVIDERS[provider]
    if auth_method not in methods:
        raise InvalidInput(
            f"auth_method for {provider} must be one of {sorted(methods)}, got {auth_method!r}"
        )
    bucket = validate_text(bucket, "bucket")
    if "://" in bucket or "/" in bucket.strip("/") or any(c.isspace() for c in bucket):
        raise InvalidInput(f"bucket must be a bare bucket (Azure: container) name, got {bucket!r}")
    keys = DATA_SOURCE_DETAILS[(provider, auth_method)]
    if not isinstance(provider_specific_details, Mapping):
        raise InvalidInput(
            f"provider_specific_details is required for {provider}/{auth_method}: a mapping of {list(keys)}"
        )
    details = dict(provider_specific_details)
    missing = [k for k in keys if not isinstance(details.get(k), str) or not details.get(k)]
    unknown = sorted(set(details) - set(keys))
    if missing or unknown:
        raise InvalidInput(
            f"provider_specific_details for {provider}/{auth_method} takes exactly {list(keys)} "
            f"(non-empty strings); missing: {missing}, unknown: {unknown}"
        )
    body: dict[str, Any] = {
        "provider": provider,
        "bucket": bucket,
        "auth_method": auth_method,
        "provider_specific_details": details,
    }
    if name is not None:
        body["name"] = validate_text(name, "name")
    if region is not None:
        body["region"] = validate_text(region, "region")
    if (provider, auth_method) == ("aws", "access_key"):
        if not isinstance(secret, str) or not secret:
            raise InvalidInput("secret (the secret access key) is required for aws/access_key")
        if region is None:
            raise InvalidInput("region is required for aws/access_key")
        body["secret"] = secret
    elif secret is not None:
        raise InvalidInput(f"secret is only for aws/access_key; {provider}/{auth_method} is keyless")
    return ApiRequest("POST", "/files/v1/data-sources", json=body)
