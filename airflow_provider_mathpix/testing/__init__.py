"""A local Mathpix API emulator for tests and demos (``MathpixEmulator``).

Imports nothing from the provider: the two meet only over HTTP. FastAPI, uvicorn
and pypdf (the ``emulator`` extra) are imported when an emulator starts.

Requests go down one way: HTTP routes → domain (one function per operation) →
engine (fetch workers, source cache, webhooks) → storage (records, buckets);
:mod:`.layers` names each module's layer, and a test holds every import to it.
"""

from __future__ import annotations

from .server import MathpixEmulator
from .webhooks import sign as sign_webhook
from .webhooks import verify as verify_webhook

__all__ = ["MathpixEmulator", "sign_webhook", "verify_webhook"]
