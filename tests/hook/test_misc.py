"""Data sources, onboarding identities, webhook config and /v3 image batches (sync and async)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import DocServer, make_pdf, wait_until


def test_data_source_lifecycle(api: Any) -> None:
    identities = api.get_onboarding_identities()
    assert set(identities["aws"]) == {"trust_account_id", "external_id"}
    assert set(identities["azure"]) == {"app_id", "tenant_id"}
    grant = {"iam_role_arn": "arn:aws:iam::1:role/x", "aws_external_id": identities["aws"]["external_id"]}
    created = api.create_data_source(
        "aws",
        "hook-bucket",
        "iam_role",
        provider_specific_details=grant,
        name="n",
    )
    ds_id = created["data_source_id"]
    listed = api.list_data_sources()
    assert [d["data_source_id"] for d in listed] == [ds_id]
    assert listed[0]["bucket"] == "hook-bucket" and listed[0]["provider"] == "aws"
    probe = api.test_data_source(ds_id)
    assert probe["result"] in ("ok", "failed") and set(probe["checks"]) == {"read", "write"}
    with pytest.raises(MathpixAPIError) as info:
        api.create_data_source("aws", "hook-bucket", "iam_role", provider_specific_details=grant)
    assert (info.value.code, info.value.http_status) == ("conflict", 409)
    assert api.delete_data_source(ds_id) == {"data_source_id": ds_id, "status": "deleted"}
    assert api.list_data_sources() == []


def test_onboarding_identities_and_webhook_config(api: Any) -> None:
    identities = api.get_onboarding_identities()
    assert {"aws", "gcp", "azure"} <= set(identities)
    assert api.get_webhook_config()["signing_secret"]


def test_webhook_test_delivers_to_a_loopback_receiver(api: Any, doc_server: DocServer) -> None:
    """Against a loopback emulator the hook allows a loopback callback (never against a remote API)."""
    receiver = doc_server.url("/webhook")
    before = len(doc_server.posts)
    result = api.test_webhook(receiver, {"X-Token": "t-1"})
    assert result["status"] == "delivered", result
    path, headers, _ = doc_server.posts[before]
    assert path == "/webhook" and headers.get("X-Token") == "t-1" and "Mathpix-Signature" in headers
    # Nothing listens on port 9 (discard): a failed delivery is still an answer, not an error.
    assert api.test_webhook("http://127.0.0.1:9/hook")["status"] == "failed"


def test_image_batch(api: Any, doc_server: DocServer, png_bytes: bytes) -> None:
    urls = {f"img-{i}": doc_server.url(f"/batch/{i}.png", png_bytes) for i in range(3)}
    urls["img-1"] = {"url": urls["img-1"], "formats": ["text", "data"]}  # type: ignore[assignment]
    batch_id = api.submit_image_batch(urls, formats=["text"])
    done = wait_until(lambda: len((b := api.get_image_batch(batch_id))["results"]) == 3 and b)
    assert sorted(done["keys"]) == sorted(urls)


def test_real_options_are_never_blocked(
    api: Any, emulator: Any, doc_server: DocServer, png_bytes: bytes
) -> None:
    """Options Mathpix documents pass the hook's checks, even when they resemble each other."""
    url = doc_server.url("/batch/options.png", png_bytes)
    batch_id = api.submit_image_batch(
        {"k": url}, confidence_threshold=0.5, confidence_rate_threshold=0.3, include_detected_alphabets=True
    )
    done = wait_until(lambda: len((b := api.get_image_batch(batch_id))["results"]) == 1 and b)
    assert "detected_alphabets" in done["results"]["k"]
    # callback_events=[] is the documented off switch: accepted, and nothing is delivered
    before = len(doc_server.posts)
    file_id = api.submit_file(
        doc_server.url("/quiet.pdf", make_pdf(1)),
        callback_url=doc_server.url("/quiet-hook"),
        callback_events=[],
        confidence_rate_threshold=0.2,
        include_page_breaks=True,
    )
    # a control file with the default events, submitted after it, is delivered: once its
    # delivery arrived, the quiet file's (due no later) would have too
    api.submit_file(doc_server.url("/loud.pdf", make_pdf(1)), callback_url=doc_server.url("/loud-hook"))
    assert wait_until(lambda: any(p[0] == "/loud-hook" for p in doc_server.posts[before:]))
    assert api.get_file(file_id)["status"] == "completed"
    assert [p for p in doc_server.posts[before:] if p[0] == "/quiet-hook"] == []
    with pytest.raises(MathpixValidationError, match="did you mean 'confidence_rate_threshold'"):
        api.submit_image_batch({"k": url}, confidence_rate_treshold=0.3)  # a near miss is still caught


def test_image_batch_v3_error_under_http_200(api: Any, doc_server: DocServer, png_bytes: bytes) -> None:
    url = doc_server.url("/batch/err.png", png_bytes)
    with pytest.raises(MathpixAPIError) as info:
        api.submit_image_batch({"k": url}, formats=["not_a_format"])
    assert info.value.http_status == 200 and info.value.path == "/v3/batch"
    with pytest.raises(MathpixAPIError) as missing:
        api.get_image_batch(987654)
    assert missing.value.code not in ("", "unknown_error")


@pytest.mark.parametrize(
    "call",
    [
        lambda h: h.create_data_source("ftp", "b", "iam_role"),
        lambda h: h.create_data_source("gcp", "b", "iam_role"),
        lambda h: h.create_data_source("aws", "b", "iam_role", provider_specific_details={"role_arn": "x"}),
        lambda h: h.create_data_source("aws", "b", "iam_role"),  # details are required
        lambda h: h.create_data_source(
            "azure", "c", "azure_ad", provider_specific_details={"account_name": "a"}
        ),
        lambda h: h.create_data_source(
            "aws", "b", "access_key", provider_specific_details={"aws_access_key_id": "AKIA"}, region="r"
        ),  # no secret
        lambda h: h.create_data_source(
            "gcp",
            "b",
            "service_account",
            provider_specific_details={"gcp_project_id": "p", "target_sa_email": "e"},
            secret="s",
        ),  # a secret on a keyless grant
        lambda h: h.test_data_source("has space"),
        lambda h: h.delete_data_source(""),
        lambda h: h.test_webhook("http://example.com/hook"),
        lambda h: h.test_webhook("https://169.254.169.254/latest"),
        lambda h: h.test_webhook("https://example.com/hook", {"Content-Type": "x"}),
        lambda h: h.submit_image_batch({}),
        lambda h: h.submit_image_batch({"a": "s3://bucket/img.png"}),
        lambda h: h.get_image_batch("abc"),
    ],
)
def test_bad_inputs_send_nothing(hook: MathpixHook, emulator: Any, call: Any) -> None:
    with pytest.raises(MathpixValidationError):
        call(hook)
    assert emulator.stats()["requests"] == 0


def test_loopback_callbacks_are_refused_for_a_remote_api(monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import set_connection

    set_connection(monkeypatch, "https://api.mathpix.com", conn_id="mathpix_remote")
    with MathpixHook("mathpix_remote") as hook:
        for call in (
            lambda: hook.test_webhook("http://127.0.0.1:8080/hook"),
            lambda: hook.submit_file("https://example.com/a.pdf", callback_url="https://localhost/cb"),
            lambda: hook.submit_job([{"source_uri": "s3://b/k"}], callback_url="https://127.0.0.1/cb"),
        ):
            with pytest.raises(MathpixValidationError, match="callback_url"):
                call()
