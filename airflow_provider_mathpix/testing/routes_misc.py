"""Routes around the files: data sources, onboarding, webhook config, ``/v3/batch``, ``/_emulator``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from . import batches, control, data_sources, webhook_config
from .http import authorize, authorize_v3, json_body, json_response, runtime

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
async def webhook_config_get(request: Request) -> Response:
    return json_response(webhook_config.signing_secret(authorize(request)))


@router.post("/files/v1/webhook-config/test")
async def webhook_test(request: Request) -> Response:
    rt = authorize(request)
    body = await json_body(request)
    return json_response(await asyncio.to_thread(webhook_config.send_test, rt, body))


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
    return json_response(control.set_faults(rt, await json_body(request)))


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
    return json_response(control.set_config(rt, await json_body(request)))


@router.post("/_emulator/data-sources/{data_source_id}/revoke")
async def revoke_data_source(request: Request, data_source_id: str) -> Response:
    """Simulate a grant that stopped working: later uses answer ``data_source_access_denied``."""
    return json_response(data_sources.revoke(runtime(request), data_source_id))
