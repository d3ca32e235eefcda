"""/v3/batch: app_id + app_key, errors under HTTP 200, progressive results, callbacks."""

from __future__ import annotations

import httpx
import pytest
from mathpix_contract import wait_until

V3 = {"app_id": "contract-app", "app_key": "contract-key"}


def poll(emu_url: str, batch_id: int, keys: int) -> dict[str, object]:
    def done() -> dict[str, object] | None:
        body = httpx.get(f"{emu_url}/v3/batch/{batch_id}", headers=V3).json()
        return body if len(body["results"]) == keys else None

    body = wait_until(done)
    assert body
    return body


def test_submit_and_poll(mathpix_emulator, doc_server) -> None:
    resp = httpx.post(
        f"{mathpix_emulator.url}/v3/batch",
        json={
            "urls": {
                "pixel": doc_server.url("/pixel.png"),
                "texty": {
                    "url": doc_server.url("/pixel.png"),
                    "formats": ["text", "data"],
                    "ocr_behavior": "text",
                },
                "broken": doc_server.url("/notes.txt"),
                "missing": doc_server.url("/none.png"),
            },
            "formats": ["latex_simplified"],
        },
        headers=V3,
    )
    assert resp.status_code == 200
    batch_id = resp.json()["batch_id"]
    assert isinstance(batch_id, int) and list(resp.json()) == ["batch_id"]
    body = poll(mathpix_emulator.url, batch_id, 4)
    assert body["keys"] == ["pixel", "texty", "broken", "missing"]
    results = body["results"]
    assert {"latex_simplified", "latex_confidence", "detection_list", "detection_map", "position"} <= set(
        results["pixel"]
    )
    assert results["pixel"]["position"]["width"] == 1
    assert {"text", "data"} <= set(results["texty"]) and "latex_simplified" not in results["texty"]
    assert results["broken"]["error_info"]["id"] == "image_decode_error" and results["broken"]["error"]
    assert results["missing"]["error_info"]["id"] == "image_download_error"


def test_results_fill_in_progressively(mathpix_emulator_factory, doc_server) -> None:
    emu = mathpix_emulator_factory(time_per_image=0.3)
    urls = {f"k{i}": doc_server.url("/pixel.png") for i in range(5)}
    batch_id = httpx.post(f"{emu.url}/v3/batch", json={"urls": urls}, headers=V3).json()["batch_id"]
    first = httpx.get(f"{emu.url}/v3/batch/{batch_id}", headers=V3).json()
    assert first["keys"] == list(urls) and len(first["results"]) < 5
    seen = set()

    def grow() -> bool:
        seen.add(len(httpx.get(f"{emu.url}/v3/batch/{batch_id}", headers=V3).json()["results"]))
        return 5 in seen

    assert wait_until(grow)
    assert len(seen) > 2  # partial results were visible on the way


def test_auth_is_401(mathpix_emulator) -> None:
    for headers in ({"app_key": "k"}, {"app_id": "i"}, {}):
        resp = httpx.post(
            f"{mathpix_emulator.url}/v3/batch", json={"urls": {"a": "https://x/y.png"}}, headers=headers
        )
        assert resp.status_code == 401
        assert resp.json()["error_info"]["id"] == "http_unauthorized" and resp.json()["error"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "json_syntax"),
        ({"urls": {}}, "json_syntax"),
        ({"urls": ["https://x/a.png"]}, "json_syntax"),
        ({"urls": {"a": 5}}, "json_syntax"),
        ({"urls": {"a": "https://x/a.png"}, "formats": ["latex_fancy"]}, "opts_unknown_format"),
        ({"urls": {"a": "https://x/a.png"}, "ocr_behavior": "music"}, "opts_unknown_ocr"),
        (
            {"urls": {"a": "https://x/a.png"}, "callback": {"post": "http://example.com/h"}},
            "opts_bad_callback",
        ),
        ({"urls": {"a": "https://x/a.png"}, "callback": "https://example.com/h"}, "opts_bad_callback"),
    ],
)
def test_errors_come_back_under_http_200(mathpix_emulator, body: dict[str, object], code: str) -> None:
    resp = httpx.post(f"{mathpix_emulator.url}/v3/batch", json=body, headers=V3)
    assert resp.status_code == 200
    assert resp.json()["error_info"]["id"] == code and isinstance(resp.json()["error"], str)


def test_bad_json_and_unknown_batch(mathpix_emulator) -> None:
    resp = httpx.post(
        f"{mathpix_emulator.url}/v3/batch", content=b"{", headers={**V3, "content-type": "application/json"}
    )
    assert resp.status_code == 200 and resp.json()["error_info"]["id"] == "json_syntax"
    resp = httpx.get(f"{mathpix_emulator.url}/v3/batch/999999", headers=V3)
    assert resp.status_code == 200 and resp.json()["error_info"]["id"] == "batch_unknown_id"


def test_app_id_allow_list(mathpix_emulator_factory) -> None:
    emu = mathpix_emulator_factory(app_ids=["only-this"])
    resp = httpx.get(f"{emu.url}/v3/batch/1", headers=V3)
    assert resp.status_code == 401


def test_callback_posts_the_results(mathpix_emulator, doc_server, webhook_receiver) -> None:
    httpx.post(
        f"{mathpix_emulator.url}/v3/batch",
        json={
            "urls": {"a": doc_server.url("/pixel.png")},
            "callback": {"post": webhook_receiver.url, "headers": {"Authorization": "Bearer t"}},
        },
        headers=V3,
    )
    (call,) = webhook_receiver.wait(1)
    assert call["headers"]["Authorization"] == "Bearer t"
    assert call["json"]["keys"] == ["a"] and "a" in call["json"]["results"]


def test_defaults_documented_formats_alphabets_and_callback_fields(mathpix_emulator, doc_server) -> None:
    pixel = doc_server.url("/pixel.png")
    body = {
        "urls": {
            "plain": pixel,  # no formats anywhere: the result carries latex
            "display": {"url": pixel, "formats": ["text_display", "latex_normal", "asciimath", "mathml"]},
            "text": {"url": pixel, "ocr_behavior": "text"},
        },
        "include_detected_alphabets": True,
        "callback": {"post": "http://127.0.0.1:9/never", "reply": {"ok": True}, "body": {"tag": "x"}},
    }
    resp = httpx.post(f"{mathpix_emulator.url}/v3/batch", json=body, headers=V3)
    assert resp.status_code == 200 and "error" not in resp.json(), resp.text
    results = poll(mathpix_emulator.url, resp.json()["batch_id"], 3)["results"]
    assert "latex" in results["plain"] and "latex_simplified" not in results["plain"]
    assert {"text_display", "latex_normal", "asciimath", "mathml"} <= set(results["display"])
    assert "text" in results["text"]
    for result in results.values():
        assert result["detected_alphabets"]["en"] is True
    without = httpx.post(f"{mathpix_emulator.url}/v3/batch", json={"urls": {"p": pixel}}, headers=V3).json()
    assert "detected_alphabets" not in poll(mathpix_emulator.url, without["batch_id"], 1)["results"]["p"]
