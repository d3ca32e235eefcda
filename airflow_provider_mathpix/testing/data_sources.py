"""Data sources (register, list, test, delete, revoke) and onboarding identities.

Registration is per bucket (Azure: per container and storage account); a second
registration of the same bucket is ``409 conflict``. An ``aws``/``iam_role`` grant must
name the group's ``external_id`` (from onboarding); a GCS registration verifies bucket
control at once (no control: ``400``; bucket store unreachable: ``503 unavailable``). The
test probe asks the emulated buckets whether the bucket is reachable; a failed probe is
still HTTP 200 with ``result: "failed"``.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from . import ids
from .errors import ApiError
from .records import DataSource
from .rules import bad, check_data_source
from .runtime import Runtime


def create(rt: Runtime, body: Any) -> dict[str, Any]:
    """Blocking (a GCS registration probes the bucket): run it off the event loop."""
    spec = check_data_source(body)
    external_id = spec.details.get("aws_external_id")
    if external_id is not None and external_id != group_external_id(rt):
        raise bad(
            "provider_specific_details.aws_external_id is not this group's external_id "
            "(GET /files/v1/onboarding/identities → aws.external_id)"
        )
    if spec.provider == "gcp":
        _verify_gcs_control(rt, spec.bucket)
    store = rt.store
    with store.lock:
        for ds in store.ds_index.get((spec.provider, spec.bucket), ()):
            if ds.account == spec.account or ds.account is None or spec.account is None:
                raise ApiError(
                    "conflict",
                    f"bucket {spec.bucket!r} is already registered as data source {ds.data_source_id}",
                )
        ds = DataSource(
            ids.new_data_source_id(),
            spec.provider,
            spec.bucket,
            spec.account,
            spec.name,
            spec.region,
            spec.auth_method,
            spec.details,
            time.time(),
        )
        store.add_data_source(ds)
    return ds.view()


def get(rt: Runtime, data_source_id: str) -> DataSource:
    ds = rt.store.data_sources.get(data_source_id)
    if ds is None:
        raise ApiError("not_found", f"no data source {data_source_id!r}")
    return ds


def revoke(rt: Runtime, data_source_id: str) -> dict[str, Any]:
    """Simulate a grant that stopped working: later uses answer ``data_source_access_denied``."""
    ds = get(rt, data_source_id)
    ds.revoked = True
    return ds.view()


def list_all(rt: Runtime) -> dict[str, Any]:
    with rt.store.lock:
        return {"data_sources": [ds.view() for ds in rt.store.data_sources.values()]}


def delete(rt: Runtime, data_source_id: str) -> dict[str, Any]:
    store = rt.store
    with store.lock:
        ds = get(rt, data_source_id)
        store.remove_data_source(ds)
    return {"data_source_id": data_source_id, "status": "deleted"}


def probe(rt: Runtime, ds: DataSource) -> dict[str, Any]:
    """Blocking: can the bucket be read and written? (run it off the event loop).

    Asks the bucket store's ``probe`` (which writes nothing: a test must not litter the
    customer's bucket); a revoked grant or an emulator without bucket support fails.
    """
    if ds.revoked:
        return _probe_result(False, False, "the grant no longer works (revoked in the emulator)")
    try:
        store = rt.buckets.store()
    except ApiError as exc:
        return _probe_result(False, False, exc.message)
    try:
        checks = store.probe(ds.provider, ds.bucket, ds.account)
    except Exception as exc:  # the probe reports, it never fails the call
        return _probe_result(False, False, f"probe failed: {type(exc).__name__}: {exc}")
    read, write = bool(checks.get("read")), bool(checks.get("write"))
    where = f"{ds.account}/{ds.bucket}" if ds.account else ds.bucket
    message = f"read and write access to {where} confirmed" if read and write else f"no access to {where}"
    return _probe_result(read, write, message)


def _probe_result(read: bool, write: bool, message: str) -> dict[str, Any]:
    return {
        "result": "ok" if read and write else "failed",
        "checks": {"read": read, "write": write},
        "message": message,
    }


def _verify_gcs_control(rt: Runtime, bucket: str) -> None:
    """GCS registration proves bucket control up front, as Mathpix does."""
    try:
        checks = rt.buckets.store().probe("gcp", bucket, None)
    except ApiError:
        raise ApiError(
            "unavailable", f"the bucket store cannot reach gs://{bucket} now; retry later"
        ) from None
    except Exception as exc:
        raise ApiError("unavailable", f"gs://{bucket} could not be reached: {type(exc).__name__}") from None
    if not (checks.get("read") and checks.get("write")):
        raise bad(
            f"could not verify control of gs://{bucket}: grant the Mathpix service account access first"
        )


def group_external_id(rt: Runtime) -> str:
    """The group's external id (stable for an emulator's lifetime; derived from its seed)."""
    return "mpx-ext-" + hashlib.sha256(f"mathpix-emulator-group:{rt.config.seed}".encode()).hexdigest()[:24]


def onboarding_identities(rt: Runtime) -> dict[str, Any]:
    """The identities a customer grants (fake values in the emulator, in the contract's shape)."""
    external_id = group_external_id(rt)
    return {
        "aws": {"trust_account_id": "000000000000", "external_id": external_id},
        "azure": {
            "app_id": "00000000-0000-0000-0000-00000000e1a7",
            "tenant_id": "00000000-0000-0000-0000-000000000000",
        },
        "gcp": {
            "service_account_email": "files-api@mathpix-emulator.iam.gserviceaccount.com",
            "external_id": external_id,
        },
    }
