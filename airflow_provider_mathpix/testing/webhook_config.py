"""``/files/v1/webhook-config``: the signing secret and a test delivery."""

from __future__ import annotations

import time
from typing import Any

from .records import iso
from .rules import bad, check_callback_headers, check_callback_url
from .runtime import Runtime


def signing_secret(rt: Runtime) -> dict[str, Any]:
    """``GET /files/v1/webhook-config``."""
    return {"signing_secret": rt.webhook_secret}


def send_test(rt: Runtime, body: Any) -> dict[str, Any]:
    """``POST /files/v1/webhook-config/test``: one signed ``test`` event, its outcome in the answer.

    Blocking (it waits for the receiver): run it off the event loop.
    """
    if not isinstance(body, dict):
        raise bad("the body must be a JSON object with callback_url")
    url = check_callback_url(body.get("callback_url"), allow_loopback_http=rt.config.allow_loopback_http)
    headers = check_callback_headers(body.get("callback_headers"))
    event = {
        "event": "test",
        "created_at": iso(time.time()),
        "data": {"message": "webhook test from Mathpix"},
    }
    ok, code, detail = rt.deliverer.post(url, headers, "test", event)
    return {"status": "delivered" if ok else "failed", "response_code": code, "detail": detail}
