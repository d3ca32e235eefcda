"""Webhooks: signing secret, signed deliveries (file and job events), callback rules, the test endpoint."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import pytest
from mathpix_contract import assert_error, wait_job


def verify(secret: str, raw: bytes, header: str) -> bool:
    """A receiver's check, written from the contract (not the emulator's code)."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    t = int(fields["t"])
    if abs(time.time() - t) > 300:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def secret_of(client: httpx.Client) -> str:
    body = client.get("/files/v1/webhook-config").json()
    assert set(body) == {"signing_secret"} and body["signing_secret"]
    return body["signing_secret"]


def test_file_completed_is_signed_and_mirrors_polling(
    client: httpx.Client, doc_server, webhook_receiver
) -> None:
    secret = secret_of(client)
    fid = client.post(
        "/files/v1/uri",
        json={
            "source_uri": doc_server.url("/three-pages.pdf"),
            "callback_url": webhook_receiver.url,
            "callback_headers": {"Authorization": "Bearer abc", "X-Trace": "t1"},
        },
    ).json()["file_id"]
    calls = webhook_receiver.wait(1)
    assert len(calls) == 1
    call = calls[0]
    assert call["headers"]["Authorization"] == "Bearer abc" and call["headers"]["X-Trace"] == "t1"
    assert verify(secret, call["raw"], call["headers"]["Mathpix-Signature"])
    assert not verify("wrong-secret", call["raw"], call["headers"]["Mathpix-Signature"])
    assert not verify(secret, call["raw"] + b" ", call["headers"]["Mathpix-Signature"])
    event = call["json"]
    assert event["event"] == "file.completed"
    assert event["data"] == client.get(f"/files/v1/{fid}").json()
    assert event["data"]["status"] == "completed" and event["data"]["num_pages"] == 3


def test_file_error_event(client: httpx.Client, doc_server, webhook_receiver, mathpix_emulator) -> None:
    client.post(
        "/files/v1/uri",
        json={"source_uri": doc_server.url("/gone.pdf"), "callback_url": webhook_receiver.url},
    )
    (call,) = webhook_receiver.wait(1)
    assert call["json"]["event"] == "file.error"
    assert call["json"]["data"]["error_info"]["id"] == "not_found"
    assert wait_until_stat(mathpix_emulator, "webhooks_delivered", 1)


def wait_until_stat(emu, name: str, value: int) -> bool:
    from mathpix_contract import wait_until

    return bool(wait_until(lambda: emu.stats()[name] >= value))


def test_job_completed_fires_after_finalize_only(client: httpx.Client, doc_server, webhook_receiver) -> None:
    files = [{"source_uri": doc_server.url("/one-page.pdf"), "custom_id": f"c{i}"} for i in range(20)]
    client.post(
        "/files/v1/jobs", json={"job_id": "hooked", "files": files, "callback_url": webhook_receiver.url}
    )
    wait_job(client, "hooked")
    assert webhook_receiver.calls == []  # members default to job.completed, which needs finalize
    client.post("/files/v1/jobs/hooked/finalize")
    (call,) = webhook_receiver.wait(1)
    assert call["json"]["event"] == "job.completed"
    data = call["json"]["data"]
    assert data["job_id"] == "hooked" and data["status"] == "completed" and data["files_completed"] == 20
    secret = secret_of(client)
    assert verify(secret, call["raw"], call["headers"]["Mathpix-Signature"])


def test_job_member_file_events_when_asked(client: httpx.Client, doc_server, webhook_receiver) -> None:
    files = [
        {"source_uri": doc_server.url("/one-page.pdf"), "custom_id": "ok"},
        {"source_uri": doc_server.url("/x.pdf")},
    ]
    client.post(
        "/files/v1/jobs",
        json={
            "job_id": "evts",
            "files": files,
            "callback_url": webhook_receiver.url,
            "callback_events": ["file.completed", "file.error"],
        },
    )
    calls = webhook_receiver.wait(2)
    assert sorted(c["json"]["event"] for c in calls) == ["file.completed", "file.error"]


def test_finalize_before_completion_waits_for_the_last_file(
    client: httpx.Client, mathpix_emulator, doc_server, webhook_receiver
) -> None:
    mathpix_emulator.configure(time_per_file=0.5)
    files = [{"source_uri": doc_server.url("/one-page.pdf"), "custom_id": f"c{i}"} for i in range(3)]
    client.post(
        "/files/v1/jobs", json={"job_id": "early", "files": files, "callback_url": webhook_receiver.url}
    )
    client.post("/files/v1/jobs/early/finalize")
    (call,) = webhook_receiver.wait(1)
    assert call["json"]["data"]["status"] == "completed" and call["json"]["data"]["files_completed"] == 3


@pytest.mark.parametrize(
    "fields",
    [
        {"callback_url": "http://example.com/hook"},  # not https
        {"callback_url": "https://10.1.2.3/hook"},  # private address
        {"callback_url": "https://192.168.0.5/hook"},
        {"callback_url": "ftp://example.com/hook"},
        {"callback_url": "https://example.com/h", "callback_headers": {f"X-{i}": "v" for i in range(11)}},
        {"callback_url": "https://example.com/h", "callback_headers": {"X-Big": "v" * 4100}},
        {"callback_url": "https://example.com/h", "callback_headers": {"Host": "evil"}},
        {"callback_url": "https://example.com/h", "callback_headers": {"content-type": "text/plain"}},
        {"callback_url": "https://example.com/h", "callback_headers": {"User-Agent": "x"}},
        {"callback_url": "https://example.com/h", "callback_headers": {"Mathpix-Signature": "x"}},
        {"callback_url": "https://example.com/h", "callback_events": ["file.started"]},
        {"callback_headers": {"X-A": "b"}},  # needs callback_url
        {"callback_events": ["file.completed"]},  # needs callback_url
    ],
)
def test_callback_rules(client: httpx.Client, doc_server, fields: dict[str, object]) -> None:
    body = {"source_uri": doc_server.url("/one-page.pdf"), **fields}
    assert_error(client.post("/files/v1/uri", json=body), 400, "bad_request")
    job = {"files": [{"source_uri": doc_server.url("/one-page.pdf")}], **fields}
    assert_error(client.post("/files/v1/jobs", json=job), 400, "bad_request")


def test_callback_limits_at_the_edge_pass(client: httpx.Client, doc_server) -> None:
    headers = {f"X-H{i}": "v" for i in range(10)}
    ok = client.post(
        "/files/v1/uri",
        json={
            "source_uri": doc_server.url("/one-page.pdf"),
            "callback_url": "https://example.com/h",
            "callback_headers": headers,
        },
    )
    assert ok.status_code == 200, ok.text


def test_webhook_config_test_endpoint(client: httpx.Client, webhook_receiver) -> None:
    resp = client.post(
        "/files/v1/webhook-config/test",
        json={"callback_url": webhook_receiver.url, "callback_headers": {"X-T": "1"}},
    )
    assert resp.status_code == 200
    assert resp.json() == {"status": "delivered", "response_code": 200, "detail": "HTTP 200"}
    (call,) = webhook_receiver.calls
    assert call["headers"]["X-T"] == "1"
    assert verify(secret_of(client), call["raw"], call["headers"]["Mathpix-Signature"])
    webhook_receiver.status = 500
    failed = client.post("/files/v1/webhook-config/test", json={"callback_url": webhook_receiver.url}).json()
    assert failed["status"] == "failed" and failed["response_code"] == 500
    assert_error(
        client.post("/files/v1/webhook-config/test", json={"callback_url": "http://example.com"}),
        400,
        "bad_request",
    )
    assert_error(client.post("/files/v1/webhook-config/test", json={}), 400, "bad_request")


def test_uri_job_member_defaults_to_job_completed(client: httpx.Client, doc_server, webhook_receiver) -> None:
    body = {
        "source_uri": doc_server.url("/one-page.pdf"),
        "job_id": "via-uri",
        "callback_url": webhook_receiver.url,
    }
    client.post("/files/v1/uri", json={**body, "custom_id": "a"})
    client.post("/files/v1/uri", json={**body, "custom_id": "b"})
    wait_job(client, "via-uri")
    client.post("/files/v1/jobs/via-uri/finalize")
    calls = webhook_receiver.wait(1)
    assert [c["json"]["event"] for c in calls] == ["job.completed"]
    assert calls[0]["json"]["data"]["file_count"] == 2
