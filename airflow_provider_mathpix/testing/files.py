"""One file: its status record, its outputs, and deleting it.

Outputs follow the clock like status does: a format is served once the file is
``completed`` and the format's delay has passed, else ``404 format_not_ready``
(with the file's ``status``); an errored file has no outputs (``404 not_found``).
"""

from __future__ import annotations

import time
from typing import Any

from . import ids
from .errors import ApiError
from .outputs import render
from .records import FileRecord
from .rules import ALWAYS_FORMATS, format_delay, format_of_ext
from .runtime import Runtime


def find(rt: Runtime, file_id: str) -> FileRecord:
    """The live record, or ``404 not_found``."""
    rec = rt.store.get_file(file_id)
    if rec is None:
        raise ApiError("not_found", f"no file {file_id!r}")
    return rec


def status(rt: Runtime, file_id: str) -> dict[str, Any]:
    """``GET /files/v1/{file_id}``."""
    rec = find(rt, file_id)
    return rt.store.file_view(rec, time.time(), rt.config.format_lag)


def download(rt: Runtime, file_id: str, ext: str) -> tuple[bytes, str]:
    """``GET /files/v1/{file_id}.{ext}`` → (bytes, content type)."""
    rec = find(rt, file_id)
    now = time.time()
    fmt = format_of_ext(ext)
    if fmt is None or (fmt not in ALWAYS_FORMATS and fmt not in rec.sub.formats):
        raise ApiError(
            "unsupported_format",
            f"{ext!r} was not requested for this file (conversion_formats); "
            f"always available: {', '.join(ALWAYS_FORMATS)}",
        )
    state = rec.status(now)
    if state == "error":
        raise ApiError("not_found", f"file {file_id} failed ({rec.error_code}); it has no {ext} output")
    ready = state == "completed" and (
        fmt in ALWAYS_FORMATS or now >= rec.ready_at + format_delay(fmt, rt.config.format_lag)
    )
    if not ready:
        raise ApiError(
            "format_not_ready", f"{ext} is not ready yet (file status {state})", extra={"status": state}
        )
    assert rec.doc is not None
    return render(rec.doc, fmt, rec.pages)


def delete(rt: Runtime, file_id: str) -> dict[str, Any]:
    """``DELETE /files/v1/{file_id}``: terminal files only (``409 conflict`` while processing).

    Deleting a deleted file answers the same again, so a retried delete succeeds.
    """
    store = rt.store
    seq = ids.parse_file_id(store.prefix, file_id)
    if seq is None or seq >= len(store.files):
        raise ApiError("not_found", f"no file {file_id!r}")
    rec = store.files[seq]
    if not rec.deleted:
        state = rec.status(time.time())
        if state not in ("completed", "error"):
            raise ApiError(
                "conflict",
                f"file {file_id} is still {state}; only completed or errored files can be deleted",
            )
        store.delete(rec, time.time())
        rt.stats.incr("files_deleted")
    return {"file_id": file_id, "status": "deleted"}
