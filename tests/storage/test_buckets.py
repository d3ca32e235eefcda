"""BucketStore (the Mathpix emulator's view of customer buckets) against the real storage emulators."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_provider_mathpix.testing.buckets import (
    BucketAccessDenied,
    BucketLocation,
    BucketNotFound,
    BucketStore,
    ObjectNotFound,
    UnsupportedURI,
    is_bucket_uri,
    join_uri,
    parse_bucket_uri,
)
from airflow_provider_mathpix.testing.storage_servers import StorageServer, list_keys, put_objects

PROVIDER = {"s3": "aws", "gs": "gcp", "azure": "azure"}


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://acme-source/contracts/a.pdf", BucketLocation("aws", "acme-source", "contracts/a.pdf")),
        ("gs://b/k/x y.pdf", BucketLocation("gcp", "b", "k/x y.pdf")),
        (
            "https://acct.blob.core.windows.net/cont/dir/a%20b.pdf",
            BucketLocation("azure", "cont", "dir/a b.pdf", account="acct"),
        ),
        ("s3://bucket", BucketLocation("aws", "bucket", "")),
    ],
)
def test_parse_bucket_uri(uri: str, expected: BucketLocation) -> None:
    assert parse_bucket_uri(uri) == expected
    assert is_bucket_uri(uri)


@pytest.mark.parametrize(
    "uri", ["https://example.com/a.pdf", "ftp://x/y", "s3:///key", "https://.blob.core.windows.net/c/b", "x"]
)
def test_parse_rejects_non_bucket_uris(uri: str) -> None:
    with pytest.raises(UnsupportedURI):
        parse_bucket_uri(uri)
    assert not is_bucket_uri(uri)


def test_join_uri_has_one_slash() -> None:
    assert join_uri("s3://b/out/", "x.md") == "s3://b/out/x.md"
    assert join_uri("s3://b/out", "/x.md") == "s3://b/out/x.md"


def _store(server: StorageServer) -> BucketStore:
    return BucketStore(server.bucket_store_config)


def test_read_write_roundtrip(
    storage_server: StorageServer, make_bucket: Callable[[StorageServer, str], str]
) -> None:
    bucket = make_bucket(storage_server, "rw")
    put_objects(storage_server, bucket, {"in/doc one.pdf": b"%PDF-1.4 one"})
    store = _store(storage_server)

    assert store.read(storage_server.uri(bucket, "in/doc one.pdf")) == b"%PDF-1.4 one"
    store.write(storage_server.uri(bucket, "out/doc/doc.md"), b"# title", "text/markdown")
    assert store.read(storage_server.uri(bucket, "out/doc/doc.md")) == b"# title"
    assert sorted(list_keys(storage_server, bucket)) == ["in/doc one.pdf", "out/doc/doc.md"]


def test_missing_object_and_bucket(
    storage_server: StorageServer, make_bucket: Callable[[StorageServer, str], str]
) -> None:
    bucket = make_bucket(storage_server, "miss")
    store = _store(storage_server)

    with pytest.raises(ObjectNotFound):
        store.read(storage_server.uri(bucket, "absent.pdf"))
    with pytest.raises(BucketNotFound):
        store.read(storage_server.uri(f"{bucket}-gone", "a.pdf"))
    with pytest.raises(BucketAccessDenied):
        store.write(storage_server.uri(f"{bucket}-gone", "a.md"), b"x")


def test_probe(storage_server: StorageServer, make_bucket: Callable[[StorageServer, str], str]) -> None:
    bucket = make_bucket(storage_server, "probe")
    store = _store(storage_server)
    provider = PROVIDER[storage_server.kind]

    assert store.probe(provider, bucket, "devstoreaccount1") == {"read": True, "write": True}
    assert store.probe(provider, f"{bucket}-gone", "devstoreaccount1") == {"read": False, "write": False}


def test_unconfigured_scheme_is_denied() -> None:
    store = BucketStore(None)
    for uri in ("s3://b/k", "gs://b/k", "https://acct.blob.core.windows.net/c/k"):
        with pytest.raises(BucketAccessDenied, match="configured"):
            store.read(uri)


def test_write_needs_an_object_key(s3_server: StorageServer) -> None:
    with pytest.raises(UnsupportedURI):
        _store(s3_server).write("s3://bucket/prefix/", b"x")


def test_azure_other_account_is_denied(
    azure_server: StorageServer, make_bucket: Callable[[StorageServer, str], str]
) -> None:
    bucket = make_bucket(azure_server, "acct")
    put_objects(azure_server, bucket, {"a.pdf": b"x"})
    with pytest.raises(BucketAccessDenied, match="account"):
        _store(azure_server).read(f"https://someoneelse.blob.core.windows.net/{bucket}/a.pdf")
