"""Data sources (register, list, test, delete), onboarding identities and webhook config.

Registration is per bucket (Azure: per container, optionally per account); a second
registration of the same bucket is ``409 conflict``. The test probe asks the emulated
buckets whether the bucket is reachable; a failed probe is still HTTP 200 with
``result: "failed"``.
"""

from __future__ import annotations

import time
from typing import Any

from . import ids
from .errors import ApiError
from .rules import check_data_source
from .runtime import Runtime
from .state import DataSource


def create(rt: Runtime, body: Any) -> dict[str, Any]:
    spec = check_data_source(body)
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


def onboarding_identities() -> dict[str, Any]:
    """The identities a customer grants (fixed, fake values in the emulator)."""
    return {
        "aws": {
            "principal_arn": "arn:aws:iam::000000000000:role/mathpix-files-api-emulator",
            "account_id": "000000000000",
        },
        "azure": {
            "tenant_id": "00000000-0000-0000-0000-000000000000",
            "client_id": "00000000-0000-0000-0000-00000000e1a7",
            "app_name": "mathpix-files-api-emulator",
        },
        "gcp": {"service_account": "files-api@mathpix-emulator.iam.gserviceaccount.com"},
        "external_id": "mathpix-emulator-external-id",
    }
