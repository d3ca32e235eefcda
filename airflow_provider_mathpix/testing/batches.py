"""``/v3/batch``: image batches with v3's own error conventions.

Validation errors answer HTTP 200 with ``{"error": sentence, "error_info": {"id": code}}``;
only ``http_unauthorized`` (401) and ``http_max_requests`` (429) use statuses. Results
fill in progressively: key *i* is ready ``time_per_image * (i + 1)`` seconds after its
image was fetched. The emulator does no OCR: a result is derived from the image's
bytes (kind, size, digest), deterministic and shaped like the real one.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .documents import image_info
from .errors import ApiError, V3Error
from .rules import check_callback_headers, check_callback_url, classify_uri
from .runtime import Runtime

V3_FORMATS = frozenset(
    {
        "text",
        "text_display",
        "html",
        "data",
        "latex_simplified",
        "latex_styled",
        "latex_normal",
        "latex_list",
        "asciimath",
        "mathml",
        "wolfram",
    }
)
OCR_BEHAVIORS = ("latex", "text")
#: ``include_detected_alphabets``: which scripts the image holds (the emulator sees only Latin)
_DETECTED_ALPHABETS = {
    "en": True,
    "hi": False,
    "zh": False,
    "ja": False,
    "ko": False,
    "ru": False,
    "th": False,
    "ta": False,
    "te": False,
    "gu": False,
    "bn": False,
    "vi": False,
}
_ids = itertools.count(1)
_ids_lock = threading.Lock()


@dataclass
class Batch:
    """A submitted batch; ``results`` maps key → (ready_at, result)."""

    batch_id: int
    keys: list[str]
    specs: dict[str, tuple[str, tuple[str, ...], str]]
    alphabets: bool
    created_at: float
    callback: tuple[str, tuple[tuple[str, str], ...]] | None
    results: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)

    def view(self, now: float) -> dict[str, Any]:
        return {
            "keys": list(self.keys),
            "results": {k: r for k, (at, r) in self.results.items() if at <= now},
        }

    def done_at(self) -> float | None:
        if len(self.results) < len(self.keys):
            return None
        return max(at for at, _ in self.results.values())


def _formats(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise V3Error("json_syntax", f"{where}formats must be a list of strings")
    unknown = sorted(set(value) - V3_FORMATS)
    if unknown:
        raise V3Error("opts_unknown_format", f"{where}formats: unknown format(s) {unknown}")
    return tuple(value)


def _behavior(value: Any, where: str) -> str | None:
    if value is not None and value not in OCR_BEHAVIORS:
        raise V3Error("opts_unknown_ocr", f"{where}ocr_behavior must be 'latex' or 'text', got {value!r}")
    return value


def submit(rt: Runtime, body: Any) -> dict[str, Any]:
    """``POST /v3/batch`` → ``{"batch_id": n}`` (errors raise :class:`V3Error`)."""
    if not isinstance(body, dict):
        raise V3Error("json_syntax", "the body must be a JSON object")
    urls = body.get("urls")
    if not isinstance(urls, dict) or not urls:
        raise V3Error("json_syntax", "urls must be a non-empty map of key to image URL")
    top_formats = _formats(body.get("formats"), "") or None
    top_behavior = _behavior(body.get("ocr_behavior"), "") or "latex"
    specs: dict[str, tuple[str, tuple[str, ...], str]] = {}
    for key, spec in urls.items():
        if isinstance(spec, str):
            url, fmts, behavior = spec, top_formats, top_behavior
        elif isinstance(spec, dict) and isinstance(spec.get("url"), str):
            url = spec["url"]
            fmts = _formats(spec.get("formats"), f"urls.{key}.") or top_formats
            behavior = _behavior(spec.get("ocr_behavior"), f"urls.{key}.") or top_behavior
        else:
            raise V3Error("json_syntax", f"urls.{key} must be a URL or an object with url")
        try:
            classify_uri(url, f"urls.{key}", allow_loopback_http=rt.config.allow_loopback_http)
        except ApiError as exc:
            raise V3Error("image_download_error", exc.message) from None
        default = ("text",) if behavior == "text" else ("latex",)
        specs[str(key)] = (url, fmts or default, behavior)
    callback = None
    cb = body.get("callback")
    if cb is not None:
        if not isinstance(cb, dict) or not isinstance(cb.get("post"), str):
            raise V3Error("opts_bad_callback", 'callback must be {"post": url, "headers", "reply", "body"}')
        try:
            url = check_callback_url(
                cb["post"], "callback.post", allow_loopback_http=rt.config.allow_loopback_http
            )
            headers = check_callback_headers(cb.get("headers"), "callback.headers")
        except ApiError as exc:
            raise V3Error("opts_bad_callback", exc.message) from None
        callback = (url, headers)
    with _ids_lock:
        batch_id = next(_ids)
    alphabets = body.get("include_detected_alphabets", False)
    if not isinstance(alphabets, bool):
        raise V3Error("json_syntax", "include_detected_alphabets must be true or false")
    batch = Batch(batch_id, list(specs), specs, alphabets, time.time(), callback)
    store = rt.store
    with store.lock:
        store.batches[batch_id] = batch
    rt.stats.incr("batches_created")
    rt.fetcher.enqueue_call(lambda: _process(rt, store, batch))
    return {"batch_id": batch_id}


def get(rt: Runtime, batch_id: str) -> dict[str, Any]:
    """``GET /v3/batch/{batch_id}``: keys and the results ready so far."""
    batch = rt.store.batches.get(int(batch_id)) if batch_id.isdigit() else None
    if batch is None:
        raise V3Error("batch_unknown_id", f"no batch {batch_id!r}")
    return batch.view(time.time())


def _process(rt: Runtime, store: Any, batch: Batch) -> None:
    """Fetch every image of the batch (worker thread) and stamp each result's ready time."""
    for i, key in enumerate(batch.keys):
        url, fmts, behavior = batch.specs[key]
        result = _result(rt, url, fmts, behavior)
        if batch.alphabets and "error" not in result:
            result["detected_alphabets"] = dict(_DETECTED_ALPHABETS)
        batch.results[key] = (time.time() + rt.config.time_per_image * (i + 1), result)
    done = batch.done_at()
    if batch.callback is not None and done is not None:
        url, headers = batch.callback
        rt.webhooks.schedule(
            done,
            url,
            headers,
            lambda: (
                None
                if store is not rt.store
                else ("batch.completed", {"batch_id": batch.batch_id, **batch.view(time.time())})
            ),
            signed=False,
        )


def _result(rt: Runtime, url: str, fmts: tuple[str, ...], behavior: str) -> dict[str, Any]:
    try:
        data = rt.cache.read(url, classify_uri(url, "url", allow_loopback_http=True))
    except ApiError as exc:
        return {
            "error": f"image download failed: {exc.message}",
            "error_info": {"id": "image_download_error"},
        }
    info = image_info(data)
    if info is None:
        return {"error": "the data is not an image", "error_info": {"id": "image_decode_error"}}
    kind, width, height = info
    digest = hashlib.sha256(data).hexdigest()[:8]
    latex = f"\\text{{{kind}}} \\; {width} \\times {height} \\; \\mathrm{{{digest}}}"
    text = f"\\( {latex} \\)"
    values = {
        "latex": latex,
        "text": text,
        "text_display": f"\\[ {latex} \\]",
        "html": f'<div><span class="math-inline">{text}</span></div>',
        "data": [{"type": "latex", "value": latex}],
        "latex_simplified": latex,
        "latex_styled": latex,
        "latex_normal": latex,
        "latex_list": [latex],
        "asciimath": f"text({kind}) {width} xx {height}",
        "mathml": f"<math><mtext>{kind}</mtext><mn>{width}</mn><mo>&#215;</mo><mn>{height}</mn></math>",
        "wolfram": f"{width}*{height}",
    }
    out: dict[str, Any] = {f: values[f] for f in fmts}
    out.update(
        latex_confidence=0.99,
        latex_confidence_rate=0.99,
        detection_list=["is_printed"],
        detection_map={"contains_chart": 0, "contains_diagram": 0, "contains_table": 0, "is_printed": 1},
        position={"top_left_x": 0, "top_left_y": 0, "width": width, "height": height},
    )
    if behavior == "text":
        out["confidence"] = 0.99
    return out
