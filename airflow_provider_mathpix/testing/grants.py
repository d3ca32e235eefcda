"""Keyless data-source grants in the contract's shape, for registering emulated buckets.

The emulator does not assume roles, so any well-formed grant works; the AWS one must still
carry the group's ``external_id`` from ``GET /files/v1/onboarding/identities``, as with Mathpix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUTH_METHOD = {"aws": "iam_role", "gcp": "service_account", "azure": "azure_ad"}


def keyless_grant(
    provider: str, bucket: str, identities: Mapping[str, Any], *, storage_account: str | None = None
) -> dict[str, Any]:
    """Keyword arguments of ``MathpixHook.create_data_source`` (and fields of the request body)."""
    details: dict[str, str]
    if provider == "aws":
        details = {
            "iam_role_arn": "arn:aws:iam::123456789012:role/mathpix-emulated-access",
            "aws_external_id": str(identities["aws"]["external_id"]),
        }
    elif provider == "gcp":
        details = {
            "gcp_project_id": "emulated-project",
            "target_sa_email": "mathpix@emulated-project.iam.gserviceaccount.com",
        }
    elif provider == "azure":
        if not storage_account:
            raise ValueError("an azure grant needs the storage_account")
        details = {
            "azure_tenant_id": str(identities["azure"]["tenant_id"]),
            "storage_account": storage_account,
        }
    else:
        raise ValueError(f"unknown provider {provider!r}")
    return {
        "provider": provider,
        "bucket": bucket,
        "auth_method": AUTH_METHOD[provider],
        "provider_specific_details": details,
    }
