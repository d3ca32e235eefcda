"""Fault injection: every kind, path/method matching, counts, and seeded reproducibility."""

from __future__ import annotations

import httpx
import pytest
from mathpix_contract import APP_KEY, assert_error

H = {"app_key": APP_KEY}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("429", 429, "rate_limited"),
        ("429_retry_after", 429, "rate_limited"),
        ("quota_exceeded", 429, "quota_exceeded"),
        ("500", 500, "internal_error"),
        ("502", 502, "bad_gateway"),
        ("503", 503, "unavailable"),
        ("504", 504, "gateway_timeout"),
        ("storage_throttled", 503, "storage_throttled"),
    ],
)
def test_status_faults_use_the_envelope(
    client: httpx.Client, mathpix_emulator, kind: str, status: int, code: str
) -> None:
    mathpix_emulator.set_faults([{"kind": kind, "path": "/files/v1/jobs", "retry_after": 3}])
    resp = client.get("/files/v1/jobs")
    assert_error(resp, status, code)
    if kind == "429_retry_after":
        assert resp.headers["retry-after"] == "3"
    else:
        assert "retry-after" not in resp.headers
    stats = mathpix_emulator.stats()
    assert stats["faults_injected"] == 1 and stats["faults_by_kind"] == {kind: 1}


def test_html_502_is_not_json(client: httpx.Client, mathpix_emulator) -> None:
    mathpix_emulator.set_faults([{"kind": "html_502"}])
    resp = client.get("/files/v1/jobs")
    assert resp.status_code == 502
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.text.lstrip().startswith("<html")


def test_drop_is_a_protocol_error_for_the_client(client: httpx.Client, mathpix_emulator) -> None:
    mathpix_emulator.set_faults([{"kind": "drop", "method": "GET", "count": 1}])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get("/files/v1/jobs")
    assert client.get("/files/v1/jobs").status_code == 200  # only the first was dropped


def test_latency_still_answers(client: httpx.Client, mathpix_emulator) -> None:
    mathpix_emulator.set_faults([{"kind": "latency", "latency": 0.05, "count": 2}])
    assert [client.get("/files/v1/jobs").status_code for _ in range(3)] == [200, 200, 200]
    assert mathpix_emulator.stats()["faults_by_kind"] == {"latency": 2}


def test_rules_match_method_and_path_glob_and_count(
    client: httpx.Client, mathpix_emulator, doc_server
) -> None:
    mathpix_emulator.set_faults([{"kind": "503", "method": "POST", "path": "/files/v1/jobs*", "count": 2}])
    body = {"job_id": "f", "files": [{"source_uri": doc_server.url("/one-page.pdf"), "custom_id": "a"}]}
    assert client.get("/files/v1/jobs").status_code == 200  # GET does not match
    codes = [client.post("/files/v1/jobs", json=body).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert (
        client.post("/files/v1/uri", json={"source_uri": doc_server.url("/one-page.pdf")}).status_code == 200
    )
    assert mathpix_emulator.stats()["files_created"] == 2


def _pattern(emu_url: str, n: int = 40) -> list[int]:
    with httpx.Client(base_url=emu_url, headers=H) as c:
        return [c.get("/files/v1/jobs").status_code for _ in range(n)]


def test_seeded_faults_are_reproducible(mathpix_emulator_factory) -> None:
    rules = [{"kind": "500", "rate": 0.5}]
    a = _pattern(mathpix_emulator_factory(faults=rules, seed=42).url)
    b = _pattern(mathpix_emulator_factory(faults=rules, seed=42).url)
    c = _pattern(mathpix_emulator_factory(faults=rules, seed=7).url)
    assert a == b
    assert a != c
    assert 0 < a.count(500) < len(a)


def test_set_faults_restarts_the_sequence_and_reset_restores_start_rules(mathpix_emulator_factory) -> None:
    emu = mathpix_emulator_factory(faults=[{"kind": "500", "rate": 0.5}], seed=3)
    first = _pattern(emu.url, 20)
    emu.reset()
    assert _pattern(emu.url, 20) == first  # reset: the start rules with fresh coins
    emu.set_faults([])
    assert _pattern(emu.url, 5) == [200] * 5


def test_faults_http_twin(client: httpx.Client, mathpix_emulator) -> None:
    url = f"{mathpix_emulator.url}/_emulator/faults"
    resp = httpx.put(url, json=[{"kind": "429", "path": "/files/v1/jobs", "count": 1}])
    assert resp.status_code == 200
    assert resp.json()[0]["kind"] == "429" and resp.json()[0]["remaining"] == 1
    assert client.get("/files/v1/jobs").status_code == 429
    assert httpx.get(url).json()[0]["remaining"] == 0
    for bad in (
        [{"kind": "teapot"}],
        [{"kind": "500", "rate": 2}],
        {"kind": "500"},
        [{"kind": "500", "extra": 1}],
    ):
        assert_error(httpx.put(url, json=bad), 400, "bad_request")


def test_v3_rate_limit_uses_the_v3_shape(mathpix_emulator) -> None:
    mathpix_emulator.set_faults([{"kind": "429", "path": "/v3/*"}])
    resp = httpx.post(f"{mathpix_emulator.url}/v3/batch", json={}, headers={"app_key": "k", "app_id": "i"})
    assert resp.status_code == 429
    body = resp.json()
    assert body["error_info"]["id"] == "http_max_requests" and isinstance(body["error"], str)


def test_drop_after_processing_then_retry_is_absorbed(
    client: httpx.Client, mathpix_emulator, doc_server
) -> None:
    """The answer is lost but the job exists: a retry with the same ids creates nothing new."""
    mathpix_emulator.set_faults(
        [{"kind": "drop_after", "method": "POST", "path": "/files/v1/jobs", "count": 1}]
    )
    body = {
        "job_id": "lost",
        "files": [{"source_uri": doc_server.url("/one-page.pdf"), "custom_id": f"c{i}"} for i in range(50)],
    }
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/files/v1/jobs", json=body)
    assert client.post("/files/v1/jobs", json=body).json() == {"job_id": "lost", "file_count": 50}
    stats = mathpix_emulator.stats()
    assert stats["files_created"] == 50 and stats["duplicates_absorbed"] == 50
    assert stats["faults_by_kind"] == {"drop_after": 1}
