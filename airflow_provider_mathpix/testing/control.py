"""The ``/_emulator`` control plane: what a test tunes or inspects between requests.

The same operations back :class:`~.server.MathpixEmulator`'s methods, so HTTP and
Python callers see one behaviour.
"""

from __future__ import annotations

from typing import Any

from .rules import bad
from .runtime import Runtime


def set_faults(rt: Runtime, body: Any) -> list[dict[str, Any]]:
    """``PUT /_emulator/faults``: replace the fault rules; answers the rules now active."""
    if not isinstance(body, list):
        raise bad("PUT /_emulator/faults takes a JSON list of fault rules")
    rt.faults.set(body)
    return rt.faults.describe()


def set_config(rt: Runtime, body: Any) -> dict[str, Any]:
    """``PUT /_emulator/config``: change tunable settings; answers the settings now in force."""
    if not isinstance(body, dict):
        raise bad("PUT /_emulator/config takes a JSON object of settings")
    try:
        rt.configure(**body)
    except (TypeError, ValueError) as exc:
        raise bad(str(exc)) from None
    return rt.config.public()
