"""Request building: every rule of the contract, checked before any request exists."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_mathpix.contract.callbacks import validate_callback_url
from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.formats import download_ext, validate_conversion_formats
from airflow_provider_mathpix.contract.ids import validate_id
from airflow_provider_mathpix.contract.job_limits import JobItemChecker
from airflow_provider_mathpix.contract.options import (
    _KNOWN_KEYS,
    ITEM_KEYS,
    KNOWN_OCR_OPTIONS,
    validate_options,
)
from airflow_provider_mathpix.contract.request import simple_request
from airflow_provider_mathpix.contract.requests_data_sources import create_data_source_request
from airflow_provider_mathpix.contract.requests_files import (
    download_request,
    submit_file_request,
    upload_file_request,
)
from airflow_provider_mathpix.contract.requests_images import (
    get_image_batch_request,
    submit_image_batch_request,
)
from airflow_provider_mathpix.contract.requests_jobs import job_files_request, jobs_request
from airflow_provider_mathpix.contract.requests_webhooks import (
    test_webhook_request as build_test_webhook_request,
)
from airflow_provider_mathpix.contract.uris import URI_KINDS, classify_uri

# ---------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("", "must not be empty"),
        ("a" * 257, "257 characters long"),
        ("a/b", "outside"),
        ("é", "outside"),
        ("a b", "outside"),
        (5, "must be a string"),
    ],
)
def test_bad_ids_name_the_field_and_rule(value: object, rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule) as info:
        validate_id(value, "job_id")
    assert "job_id" in str(info.value)


def test_good_ids_pass() -> None:
    for value in ("a", "A-z_0.9:x", "x" * 256):
        assert validate_id(value, "custom_id") == value


# ---------------------------------------------------------------- URIs


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("s3://bucket/key.pdf", "s3"),
        ("gs://bucket/dir/key.pdf", "gs"),
        ("S3://bucket/odd?name#1.pdf", "s3"),
        ("gs://bucket/?only-a-question-mark", "gs"),
        ("https://acct01.blob.core.windows.net/container/blob.pdf", "azure"),
        ("https://example.com/a.pdf", "https"),
        ("http://127.0.0.1:8000/a.pdf", "https"),
        ("http://localhost/a.pdf", "https"),
    ],
)
def test_supported_uris(uri: str, kind: str) -> None:
    assert classify_uri(uri, "source_uri") == kind


@pytest.mark.parametrize(
    ("uri", "rule"),
    [
        ("http://example.com/a.pdf", "unsupported scheme"),
        ("ftp://host/a.pdf", "unsupported scheme"),
        ("/local/file.pdf", "unsupported scheme"),
        ("file:///etc/passwd", "unsupported scheme"),
        ("s3://bucket", "no object key"),
        ("s3:///key", "no bucket"),
        ("gs://bucket/", "no object key"),
        ("https://acct01.blob.core.windows.net/", "without a container"),
        ("https://acct01.blob.core.windows.net/container", "no blob"),
        ("https:///nohost", "no host"),
        ("s3://bucket/a key.pdf", "whitespace"),
        ("", "non-empty"),
        (None, "non-empty"),
    ],
)
def test_unsupported_uris_are_rejected(uri: Any, rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule) as info:
        classify_uri(uri, "source_uri")
    assert "source_uri" in str(info.value)


def test_destination_may_be_a_bare_bucket_or_prefix() -> None:
    assert classify_uri("s3://bucket", "destination_uri", require_key=False) == "s3"
    assert (
        classify_uri("https://acct01.blob.core.windows.net/out", "destination_uri", require_key=False)
        == "azure"
    )


# ---------------------------------------------------------------- /uri and upload bodies


def test_submit_file_body() -> None:
    req = submit_file_request(
        "s3://b/k.pdf",
        idempotency_key="idem-1",
        conversion_formats={"docx": True, "md": True},
        destination_uri="s3://b/out",
        image_output_mode="local",
        rm_spaces=True,
        page_ranges="1-3, 5",
        metadata=None,
    )
    assert (req.method, req.path) == ("POST", "/files/v1/uri")
    assert req.json == {
        "source_uri": "s3://b/k.pdf",
        "conversion_formats": {"docx": True, "md": True},
        "destination_uri": "s3://b/out",
        "image_output_mode": "local",
        "rm_spaces": True,
        "page_ranges": "1-3, 5",
    }
    assert req.headers == {"Idempotency-Key": "idem-1"}


def test_conversion_formats_as_a_list_is_accepted() -> None:
    req = submit_file_request("https://x.org/a.pdf", conversion_formats=["md", "tex.zip"])
    assert req.json["conversion_formats"] == {"md": True, "tex.zip": True}


def test_custom_id_with_job_id_goes_in_the_body() -> None:
    req = submit_file_request("https://x.org/a.pdf", job_id="j1", custom_id="c1")
    assert req.json["job_id"] == "j1" and req.json["custom_id"] == "c1"


BAD_FILE_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"custom_id": "c1"}, "custom_id requires job_id"),
    ({"job_id": "bad id"}, "job_id"),
    ({"conversion_formats": {"../doc": True}}, "key '../doc' must be a format name"),
    ({"conversion_formats": {"md": "yes"}}, "true or false"),
    ({"conversion_formats": "md"}, "mapping"),
    ({"conversion_format": {"md": True}}, "did you mean 'conversion_formats'"),
    ({"image_output_mode": "remote", "destination_uri": "s3://b/o"}, "'local'"),
    ({"image_output_mode": "local"}, "needs destination_uri"),
    ({"destination_uri": "ftp://b/o"}, "unsupported scheme"),
    ({"page_ranges": "one-two"}, "page_ranges"),
    ({"destination_basename": "../up"}, "without '..'"),
    ({"filename": ""}, "filename must be a non-empty string"),
    ({"metadata": ["x"]}, "metadata must be a mapping"),
    ({"callback_url": "http://example.com/hook"}, "https://"),
    ({"callback_url": "https://10.0.0.5/hook"}, "private"),
    ({"callback_url": "https://localhost/hook"}, "private host"),
    ({"callback_url": "https://[::1]/hook"}, "private"),
    ({"callback_headers": {"X": "1"}}, "need callback_url"),
    ({"callback_events": ["file.completed"]}, "need callback_url"),
    ({"callback_url": "https://example.com/h", "callback_events": ["file.done"]}, "unknown events"),
    (
        {"callback_url": "https://example.com/h", "callback_events": "file.error"},
        "callback_events must be a list of",
    ),
    ({"callback_url": "https://example.com/h", "callback_headers": {"Host": "x"}}, "may not set 'Host'"),
    (
        {"callback_url": "https://example.com/h", "callback_headers": {"Mathpix-Signature": "x"}},
        "may not set",
    ),
    (
        {"callback_url": "https://example.com/h", "callback_headers": {f"X-{i}": "v" for i in range(11)}},
        "at most 10",
    ),
    ({"callback_url": "https://example.com/h", "callback_headers": {"X-Big": "v" * 5000}}, "at most 4096"),
    ({"rm_spaces": object()}, "JSON-serialisable"),
]


@pytest.mark.parametrize(("options", "rule"), BAD_FILE_OPTIONS)
def test_bad_file_options_are_rejected(options: dict[str, Any], rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule):
        submit_file_request("https://example.com/a.pdf", **options)


def test_source_uri_is_required() -> None:
    with pytest.raises(InvalidInput, match="source_uri"):
        submit_file_request(None)  # type: ignore[arg-type]


def test_bad_idempotency_key() -> None:
    with pytest.raises(InvalidInput, match="idempotency_key"):
        submit_file_request("https://example.com/a.pdf", idempotency_key="has space")


def test_good_callback_options() -> None:
    req = submit_file_request(
        "https://example.com/a.pdf",
        callback_url="https://hooks.example.com/mathpix",
        callback_headers={"X-Token": "t"},
        callback_events=["file.completed", "file.error"],
    )
    assert req.json["callback_events"] == ["file.completed", "file.error"]


def test_upload_form_fields() -> None:
    req = upload_file_request(
        "a.pdf", job_id="j", custom_id="c", conversion_formats={"md": True}, rm_spaces=False
    )
    assert (req.method, req.path) == ("POST", "/files/v1")
    assert req.form is not None
    assert req.form["filename"] == "a.pdf" and req.form["job_id"] == "j" and req.form["custom_id"] == "c"
    assert json.loads(req.form["options_json"]) == {"conversion_formats": {"md": True}, "rm_spaces": False}


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"custom_id": "c"}, "custom_id requires job_id"),
        ({"source_uri": "s3://b/k"}, "source_uri is for submit_file"),
        ({"conversion_formats": {"o dt": True}}, "must be a format name"),
    ],
)
def test_bad_upload_options(kwargs: dict[str, Any], rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule):
        upload_file_request("a.pdf", **kwargs)


# ---------------------------------------------------------------- other endpoints


def test_job_files_query() -> None:
    req = job_files_request("j", "error", 500, "tok")
    assert req.path == "/files/v1/jobs/j/files"
    assert req.params == {"status": "error", "limit": 500, "paging_state": "tok"}


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (("j", "done"), "status must be one of"),
        (("j", None, 0), "page_size"),
        (("j", None, "10"), "page_size"),
        (("j/x",), "job_id"),
    ],
)
def test_bad_job_files_query(args: tuple[Any, ...], rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule):
        job_files_request(*args)


def test_jobs_query_and_dates() -> None:
    import datetime

    req = jobs_request(datetime.date(2026, 1, 2), "2026-02-01", 10)
    assert req.params == {"start": "2026-01-02", "end": "2026-02-01", "limit": 10}
    for start, end, rule in [
        ("2026/01/01", None, "yyyy-MM-dd"),
        ("2026-02-30", None, "not a real date"),
        ("2026-03-01", "2026-02-01", "after end"),
    ]:
        with pytest.raises(InvalidInput, match=rule):
            jobs_request(start, end)


def test_download_request() -> None:
    assert download_request("f1", "tex.zip").path == "/files/v1/f1.tex.zip"
    assert download_request("f1", ".md").path == "/files/v1/f1.md"
    for ext in ("", "../x", "MD", "md/x", None):
        with pytest.raises(InvalidInput, match="ext"):
            download_request("f1", ext)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="file_id"):
        download_request("../etc", "md")


def test_simple_request_validates_every_path_id() -> None:
    req = simple_request("GET", "/files/v1/jobs/{job_id}/files/{custom_id}", job_id="j", custom_id="c:1")
    assert req.path == "/files/v1/jobs/j/files/c:1"
    with pytest.raises(InvalidInput, match="custom_id"):
        simple_request("GET", "/files/v1/jobs/{job_id}/files/{custom_id}", job_id="j", custom_id="a/b")


def test_data_source_request() -> None:
    grant = {"iam_role_arn": "arn:x", "aws_external_id": "ext"}
    req = create_data_source_request(
        "aws", "my-bucket", "iam_role", provider_specific_details=grant, region="us-east-1"
    )
    assert req.json == {
        "provider": "aws",
        "bucket": "my-bucket",
        "auth_method": "iam_role",
        "provider_specific_details": grant,
        "region": "us-east-1",
    }
    keyed = create_data_source_request(
        "aws",
        "b",
        "access_key",
        provider_specific_details={"aws_access_key_id": "AKIA"},
        region="eu-west-1",
        secret="s3cr3t",
    )
    assert keyed.json is not None and keyed.json["secret"] == "s3cr3t"
    for args, rule in [
        (("dropbox", "b", "iam_role"), "provider must be one of"),
        (("gcp", "b", "iam_role"), "auth_method for gcp"),
        (("gcp", "b", "access_key"), "auth_method for gcp"),
        (("azure", "b", "access_key"), "auth_method for azure"),
        (("aws", "s3://b", "iam_role"), "bare bucket"),
        (("aws", "", "iam_role"), "bucket must be a non-empty string"),
        (("aws", "b", "iam_role"), "provider_specific_details is required"),
    ]:
        with pytest.raises(InvalidInput, match=rule):
            create_data_source_request(*args)


def test_webhook_test_request() -> None:
    req = build_test_webhook_request("https://example.com/h", {"X-A": "1"})
    assert req.json == {"callback_url": "https://example.com/h", "callback_headers": {"X-A": "1"}}
    with pytest.raises(InvalidInput, match="callback_url"):
        build_test_webhook_request("https://192.168.1.1/h")


def test_image_batch_request() -> None:
    req = submit_image_batch_request(
        {"a": "https://example.com/a.png", "b": {"url": "https://example.com/b.png", "formats": ["text"]}},
        formats=["latex_simplified"],
        ocr_behavior="text",
        callback={"post": "https://example.com/cb", "headers": {"X": "1"}},
    )
    assert req.v3 and req.path == "/v3/batch"
    assert req.json["urls"]["b"] == {"url": "https://example.com/b.png", "formats": ["text"]}
    assert req.json["formats"] == ["latex_simplified"]
    assert get_image_batch_request(17).path == "/v3/batch/17"
    assert get_image_batch_request("17").v3


@pytest.mark.parametrize(
    ("urls", "options", "rule"),
    [
        ({}, {}, "non-empty mapping"),
        ({"a": "s3://b/k.png"}, {}, "https:// image URL"),
        ({"a": {"formats": ["text"]}}, {}, r"urls\['a'\].url is required"),
        ({"a": "https://x.org/a.png"}, {"formats": "text"}, "non-empty list"),
        ({"a": "https://x.org/a.png"}, {"ocr_behavior": "math"}, "'latex' or 'text'"),
        ({"a": "https://x.org/a.png"}, {"confidence_threshold": 2}, "from 0 to 1"),
        ({"a": "https://x.org/a.png"}, {"callback": {"post": "http://x.org"}}, "https://"),
        ({"a": "https://x.org/a.png"}, {"format": ["text"]}, "did you mean 'formats'"),
    ],
)
def test_bad_image_batches(urls: Any, options: dict[str, Any], rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule):
        submit_image_batch_request(urls, **options)


@pytest.mark.parametrize("bad", [-1, "x1", True, 1.5])
def test_bad_batch_ids(bad: Any) -> None:
    with pytest.raises(InvalidInput, match="batch_id"):
        get_image_batch_request(bad)


def test_loopback_callbacks_only_when_allowed() -> None:
    for url in ("http://127.0.0.1:8000/cb", "https://localhost/cb"):
        with pytest.raises(InvalidInput, match="callback_url"):
            validate_callback_url(url)
        assert validate_callback_url(url, loopback_callbacks=True) == url
    with pytest.raises(InvalidInput, match="private"):
        validate_callback_url("https://10.1.2.3/cb", loopback_callbacks=True)
    req = submit_file_request(
        "https://x.org/a.pdf", callback_url="http://[::1]:9/cb", loopback_callbacks=True
    )
    assert req.json["callback_url"] == "http://[::1]:9/cb"


# ---------------------------------------------------------------- fuzzing: reject, never crash

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_any_uri_is_classified_or_rejected_cleanly(uri: str) -> None:
    try:
        kind = classify_uri(uri, "source_uri")
    except InvalidInput as exc:
        assert "source_uri" in str(exc)
    else:
        assert kind in URI_KINDS


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(sorted((_KNOWN_KEYS - {"source_uri"}) | {"rm_spaces", "x"})), _json, max_size=4
    )
)
def test_any_options_are_accepted_or_rejected_cleanly(options: dict) -> None:
    try:
        req = submit_file_request("https://example.com/a.pdf", **options)
    except InvalidInput:
        return
    assert req.json["source_uri"] == "https://example.com/a.pdf"
    json.dumps(req.json)  # whatever is accepted can be sent


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(sorted(ITEM_KEYS | {"x"})), _json | st.just("s3://b/k"), max_size=4))
def test_any_job_item_is_accepted_or_rejected_cleanly(item: dict) -> None:
    try:
        out = JobItemChecker().check(item, 7)
    except InvalidInput as exc:
        assert "files[7]" in str(exc)
    else:
        assert out["source_uri"] == item["source_uri"]


@settings(max_examples=200)
@given(
    st.dictionaries(st.text(max_size=5), _json | st.just("https://x.org/a.png"), max_size=3),
    st.dictionaries(
        st.sampled_from(["formats", "ocr_behavior", "callback", "metadata", "confidence_threshold"]), _json
    ),
)
def test_any_image_batch_is_accepted_or_rejected_cleanly(urls: dict, options: dict) -> None:
    try:
        req = submit_image_batch_request(urls, **options)
    except InvalidInput:
        return
    json.dumps(req.json)


def test_conversion_formats_are_an_open_list(caplog: pytest.LogCaptureFixture) -> None:
    listed = {"latex": True, "jpg": True, "png": True, "tex.zip": True}
    assert validate_conversion_formats(listed) == listed
    assert not caplog.records  # every format the contract lists passes silently
    with caplog.at_level("WARNING", logger="airflow_provider_mathpix.contract.formats"):
        future = {"md": True, "svg.zip": True}
        assert validate_conversion_formats(future) == future  # passed through, not refused
        validate_conversion_formats(future)
    warnings = [r.getMessage() for r in caplog.records if "svg.zip" in r.getMessage()]
    assert len(warnings) == 1 and "sending it to Mathpix as given" in warnings[0]  # warned once
    req = submit_file_request("https://x.org/a.pdf", conversion_formats=future)
    assert req.json is not None and req.json["conversion_formats"] == future
    assert download_ext("latex") == "tex" and download_ext("tex.zip") == "tex.zip"


def test_documented_options_are_never_refused() -> None:
    off = submit_file_request("https://x.org/a.pdf", callback_url="https://x.org/h", callback_events=[])
    assert off.json is not None and off.json["callback_events"] == []  # the off switch
    for option in sorted(KNOWN_OCR_OPTIONS):
        validate_options({option: True}, "", allow_item_keys=True)  # never a "did you mean"
    batch = submit_image_batch_request(
        {"k": "https://x.org/a.png"}, confidence_threshold=0.5, confidence_rate_threshold=0.3
    )
    assert batch.json is not None and batch.json["confidence_rate_threshold"] == 0.3
    with pytest.raises(InvalidInput, match="did you mean 'conversion_formats'"):
        validate_options({"conversion_format": {"md": True}}, "", allow_item_keys=True)
