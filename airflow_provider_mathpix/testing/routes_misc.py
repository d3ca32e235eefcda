"""Routes around the files: data sources, onboarding, webhook config, ``/v3/batch``, ``/_emulator``."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from . import batches, data_sources
from .errors import ApiError, json_response
from .http import authorize, authorize_v3, json_body, runtime
from .rules import bad, check_callback_headers, check_callback_url
from .state import iso

router = APIRouter()


@router.get("/files/v1/data-sources")
async def list_data_sources(request: Request) -> Response:
    return json_response(data_sources.list_all(authorize(request)))


@router.post("/files/v1/data-sources")
async def create_data_source(request: Request) -> Response:
    rt = authorize(request)
    body = await json_body(request)
    return json_response(await asyncio.to_thread(data_sources.create, rt, body))


@router.post("/files/v1/data-sources/{data_source_id}/test")
async def test_data_source(request: Request, data_source_id: str) -> Response:
    rt = authorize(request)
    ds = data_sources.get(rt, data_source_id)
    return json_response(await asyncio.to_thread(data_sources.probe, rt, ds))


@router.delete("/files/v1/data-sources/{data_source_id}")
async def delete_data_source(request: Request, data_source_id: str) -> Response:
    return json_response(data_sources.delete(authorize(request), data_source_id))


@router.get("/files/v1/onboarding/identities")
async def onboarding_identities(request: Request) -> Response:
    rt = authorize(request)
    return json_response(data_sources.onboarding_identities(rt))


@router.get("/files/v1/webhook-config")
async def webhook_config(request: Request) -> Response:
    rt = authorize(request)
    return json_response({"signing_secret": rt.webhook_secret})


@router.post("/files/v1/webhook-config/test")
async def webhook_test(request: Request) -> Response:
    rt = authorize(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad("the body must be a JSON object with callback_url")
    url = check_callback_url(body.get("callback_url"), allow_loopback_http=rt.config.allow_loopback_http)
    headers = check_callback_headers(body.get("callback_headers"))
    event = {
        "event": "test",
        "created_at": iso(time.time()),
        "data": {"message": "webhook test from Mathpix"},
    }
    ok, code, detail = await asyncio.to_thread(rt.deliverer.post, url, headers, "test", event)
    return json_response({"status": "delivered" if ok else "failed", "response_code": code, "detail": detail})


@router.post("/v3/batch")
async def submit_batch(request: Request) -> Response:
    rt = authorize_v3(request)
    return json_response(batches.submit(rt, await json_body(request, v3=True)))


@router.get("/v3/batch/{batch_id}")
async def get_batch(request: Request, batch_id: str) -> Response:
    rt = authorize_v3(request)
    return json_response(batches.get(rt, batch_id))


# -- /_emulator: control plane (not counted in stats.requests, no auth) ----------
@router.get("/_emulator/stats")
async def emulator_stats(request: Request) -> Response:
    return json_response(runtime(request).stats_snapshot())


@router.get("/_emulator/faults")
async def get_faults(request: Request) -> Response:
    return json_response(runtime(request).faults.describe())


@router.put("/_emulator/faults")
async def put_faults(request: Request) -> Response:
    rt = runtime(request)
    body = await json_body(request)
    if not isinstance(body, list):
        raise bad("PUT /_emulator/faults takes a JSON list of fault rules")
    rt.faults.set(body)
    return json_response(rt.faults.describe())


@router.post("/_emulator/reset")
async def reset(request: Request) -> Response:
    runtime(request).reset()
    return json_response({"status": "reset"})


@router.get("/_emulator/config")
async def get_config(request: Request) -> Response:
    return json_response(runtime(request).config.public())


@router.put("/_emulator/config")
async def put_config(request: Request) -> Response:
    rt = runtime(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad("PUT /_emulator/config takes a JSON object of settings")
    try:
        rt.configure(**body)
    except (TypeError, ValueError) as exc:
        raise bad(str(exc)) from None
    return json_response(rt.config.public())


@router.post("/_emulator/data-sources/{data_source_id}/revoke")
async def revoke_data_source(request: Request, data_source_id: str) -> Response:
    """Simulate a grant that stopped working: later uses answer ``data_source_access_denied``."""
    rt = runtime(request)
    ds = rt.store.data_sources.get(data_source_id)
    if ds is None:
        raise ApiError("not_found", f"no data source {data_source_id!r}")
    ds.revoked = True
    return json_response(ds.view())
