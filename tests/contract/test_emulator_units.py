"""The emulator's pure parts, tested without HTTP: timing spread, URI rules, ids, signatures."""

from __future__ import annotations

import time

import pytest

from airflow_provider_mathpix.testing import ids, rules, sign_webhook, verify_webhook
from airflow_provider_mathpix.testing.documents import Document
from airflow_provider_mathpix.testing.errors import ApiError
from airflow_provider_mathpix.testing.records import Submission
from airflow_provider_mathpix.testing.state import Store


def test_jitter_spreads_ready_times_within_bounds() -> None:
    store = Store()
    sub = Submission((), None, 0.0, is_job=False)
    doc = Document("pdf", ["a", "b"], b"%PDF-")
    recs = [store.new_file(sub, "https://x/a.pdf", 0.0) for _ in range(200)]
    for rec in recs:
        store.fetched(rec, doc, 100.0, 1.0, 0.5, jitter=0.5)
    spans = [rec.ready_at - 100.0 for rec in recs]  # 1 s + 2 pages * 0.5 s = 2 s without jitter
    assert all(1.0 <= s <= 3.0 for s in spans)
    assert max(spans) - min(spans) > 1.0
    again = Store()
    rec0 = again.new_file(sub, "https://x/a.pdf", 0.0)
    again.fetched(rec0, doc, 100.0, 1.0, 0.5, jitter=0.5)
    assert rec0.ready_at == recs[0].ready_at  # deterministic per file
    plain = Store()
    rec1 = plain.new_file(sub, "https://x/a.pdf", 0.0)
    plain.fetched(rec1, doc, 100.0, 1.0, 0.5)
    assert rec1.ready_at == 102.0


@pytest.mark.parametrize(
    ("uri", "kind", "provider", "bucket", "account"),
    [
        ("s3://b/k.pdf", "bucket", "aws", "b", None),
        ("gs://g/dir/k.pdf", "bucket", "gcp", "g", None),
        ("https://acct.blob.core.windows.net/box/a/b.pdf", "bucket", "azure", "box", "acct"),
        ("HTTPS://Example.com/a.pdf?sig=1", "http", None, None, None),
        ("http://127.0.0.1:8000/a.pdf", "http", None, None, None),
        ("http://localhost/a.pdf", "http", None, None, None),
        ("https://user@[::1]:443/a.pdf", "http", None, None, None),
    ],
)
def test_classify_uri(
    uri: str, kind: str, provider: str | None, bucket: str | None, account: str | None
) -> None:
    loc = rules.classify_uri(uri, "source_uri")
    assert (loc.kind, loc.provider, loc.bucket, loc.account) == (kind, provider, bucket, account)


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "ftp://x/y",
        "http://example.com/a.pdf",
        "s3:///k",
        "file:///etc/passwd",
        "https://acct.blob.core.windows.net/",
    ],
)
def test_classify_uri_rejects(uri: str) -> None:
    with pytest.raises(ApiError) as err:
        rules.classify_uri(uri, "source_uri")
    assert err.value.code == "bad_request" and "source_uri" in err.value.message


def test_loopback_http_can_be_switched_off() -> None:
    with pytest.raises(ApiError):
        rules.classify_uri("http://127.0.0.1/a.pdf", "source_uri", allow_loopback_http=False)


def test_file_ids_and_cursors_round_trip() -> None:
    prefix = ids.new_prefix()
    fid = ids.format_file_id(prefix, 123456)
    assert len(fid) == 36 and ids.parse_file_id(prefix, fid) == 123456
    assert ids.parse_file_id(ids.new_prefix(), fid) is None
    assert ids.parse_file_id(prefix, "not-an-id") is None
    assert ids.decode_cursor(ids.encode_cursor(987)) == 987
    assert ids.decode_cursor("%%%") is None and ids.decode_cursor(ids.encode_cursor(1)[:-1] + "!") is None


def test_signature_helpers() -> None:
    body = b'{"event":"file.completed"}'
    now = int(time.time())
    header = sign_webhook("s3cret", body, now)
    assert header.startswith(f"t={now},v1=")
    assert verify_webhook("s3cret", body, header)
    assert not verify_webhook("other", body, header)
    assert not verify_webhook("s3cret", body, sign_webhook("s3cret", body, now - 301))
    assert not verify_webhook("s3cret", body, "garbage")


def test_page_ranges() -> None:
    ranges = rules.parse_page_ranges("2, 4-5,9-")
    assert rules.select_pages(10, ranges) == [1, 3, 4, 8, 9]
    # /v3/pdf's forms: negative indices count from the end ("2 - -2": second to next-to-last)
    assert rules.select_pages(10, rules.parse_page_ranges("2--2")) == list(range(1, 9))
    assert rules.select_pages(10, rules.parse_page_ranges("2 - -2")) == list(range(1, 9))
    assert rules.select_pages(10, rules.parse_page_ranges("-1")) == [9]
    assert rules.select_pages(10, rules.parse_page_ranges("-3--2,1")) == [0, 7, 8]
    for bad in ("0", "3-1", "a", "-1--2", "1-0", "1,,2"):
        with pytest.raises(ApiError):
            rules.parse_page_ranges(bad)
