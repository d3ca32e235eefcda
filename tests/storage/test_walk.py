"""Walking a source prefix into job items: pure rules, then each cloud's real emulator."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from airflow_provider_mathpix import prefix_walk, storage
from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.prefix_walk import iter_source_items
from airflow_provider_mathpix.storage import (
    SourcePrefixEmpty,
    StorageLocation,
    StorageProviderMissing,
    basename_for,
    destination_for,
    find_data_source,
    glob_match,
    key_selected,
    parse_location,
)
from airflow_provider_mathpix.testing.storage_servers import StorageServer, put_objects

# ---------------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://acme/contracts/2026-05/", StorageLocation("s3", "acme", "contracts/2026-05/")),
        ("gs://acme", StorageLocation("gs", "acme", "")),
        ("gcs://acme/x", StorageLocation("gs", "acme", "x")),
        (
            "https://acct.blob.core.windows.net/cont/in%20box/",
            StorageLocation("azure", "cont", "in box/", account="acct"),
        ),
        ("abfs://cont/in", StorageLocation("azure", "cont", "in")),
        ("abfss://cont@acct.dfs.core.windows.net/in", StorageLocation("azure", "cont", "in", account="acct")),
    ],
)
def test_parse_location(uri: str, expected: StorageLocation) -> None:
    assert parse_location(uri) == expected


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("ftp://host/x", "unsupported scheme 'ftp'"),
        ("/local/dir", "unsupported scheme"),
        ("https://example.com/docs/", "unsupported scheme 'https'"),
        ("s3:///key", "has no bucket"),
        ("", "non-empty"),
    ],
)
def test_parse_location_rejects(uri: str, match: str) -> None:
    with pytest.raises(MathpixValidationError, match=match) as err:
        parse_location(uri)
    assert "source_prefix" in str(err.value)


def test_mathpix_uri_percent_encodes_keys() -> None:
    loc = StorageLocation("s3", "b", "")
    assert loc.mathpix_uri("in/a b%#.pdf") == "s3://b/in/a%20b%25%23.pdf"
    assert loc.mathpix_uri("in/plain-key_1.pdf") == "s3://b/in/plain-key_1.pdf"
    azure = StorageLocation("azure", "c", "", account="acct")
    assert azure.mathpix_uri("x/é.pdf") == "https://acct.blob.core.windows.net/c/x/%C3%A9.pdf"
    with pytest.raises(MathpixValidationError, match="account unknown"):
        StorageLocation("azure", "c", "").mathpix_uri("k")


@pytest.mark.parametrize(
    ("key", "pattern", "expected"),
    [
        ("a.pdf", "*.pdf", True),
        ("sub/a.pdf", "*.pdf", False),
        ("sub/a.pdf", "**/*.pdf", True),
        ("a.pdf", "**/*.pdf", True),
        ("x/y/z/a.pdf", "x/**/a.pdf", True),
        ("a.pdfx", "*.pdf", False),
        ("a1.pdf", "a?.pdf", True),
        ("a1.pdf", "a[!0-9].pdf", False),
        ("ab.pdf", "a[a-c].pdf", True),
        ("a+b(1).pdf", "a+b(1).pdf", True),
    ],
)
def test_glob_match(key: str, pattern: str, expected: bool) -> None:
    assert glob_match(key, pattern) is expected


def test_key_selected() -> None:
    assert key_selected("a.PDF", None, [".pdf"])
    assert not key_selected("a.txt", None, [".pdf", ".docx"])
    assert not key_selected("folder/", None, None)
    assert not key_selected("", None, None)
    assert not key_selected("sub/a.pdf", "*.pdf", [".pdf"])


def test_layout_helpers() -> None:
    assert destination_for("s3://out/processed/2026-05/", "contract-001") == (
        "s3://out/processed/2026-05/contract-001/"
    )
    assert basename_for("2026/contract-001.pdf") == "contract-001"
    assert basename_for("README") == "README"
    assert basename_for(".hidden") == ".hidden"


def test_find_data_source() -> None:
    listing = [
        {"data_source_id": "1", "provider": "aws", "bucket": "a"},
        {"data_source_id": "2", "provider": "gcp", "bucket": "b"},
    ]
    assert find_data_source(listing, "gcp", "b") == listing[1]
    assert find_data_source(listing, "aws", "b") is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pattern": ""}, "pattern"),
        ({"suffixes": ".pdf"}, "suffixes"),
        ({"suffixes": [""]}, "suffixes"),
        ({"on_empty": "ignore"}, "on_empty"),
        ({"destination_prefix": "ftp://x/y"}, "destination_prefix"),
        ({"destination_prefix": "abfs://cont/out"}, "destination_prefix for Azure"),
    ],
)
def test_bad_walk_options_fail_before_listing(kwargs: dict[str, object], match: str) -> None:
    # No server and no connection exist for this bucket: validation must come first.
    with pytest.raises(MathpixValidationError, match=match):
        iter_source_items("s3://nowhere/in", **kwargs)  # type: ignore[arg-type]


def test_missing_provider_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real provider package is installed here; hide it to provoke the ImportError.
    monkeypatch.setitem(sys.modules, "airflow.providers.amazon.aws.hooks.s3", None)
    with pytest.raises(StorageProviderMissing, match=r"airflow-provider-mathpix\[amazon\]"):
        list(iter_source_items("s3://bucket/in"))


def test_missing_provider_for_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "airflow.providers.microsoft.azure.fs.adls", None)
    with pytest.raises(StorageProviderMissing, match=r"\[microsoft-azure\]"):
        storage.to_object_storage_path("https://acct.blob.core.windows.net/c/out")


# ---------------------------------------------------------------------- against the emulators

OBJECTS = {
    "in/a.pdf": b"%PDF a",
    "in/sub/b c.PDF": b"%PDF b",
    "in/notes.txt": b"text",
    "in-old/z.pdf": b"%PDF z",
    "other/y.pdf": b"%PDF y",
}


@pytest.fixture
def source_bucket(
    storage_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    storage_env: Callable[[StorageServer], None],
) -> str:
    storage_env(storage_server)
    bucket = make_bucket(storage_server, "src")
    put_objects(storage_server, bucket, OBJECTS)
    return bucket


def test_walk_yields_mathpix_items(storage_server: StorageServer, source_bucket: str) -> None:
    items = list(iter_source_items(storage_server.uri(source_bucket, "in"), suffixes=[".pdf"]))

    assert items == [
        {"source_uri": storage_server.uri(source_bucket, "in/a.pdf"), "custom_id": "a.pdf"},
        {
            "source_uri": storage_server.uri(source_bucket, "in/sub/b%20c.PDF"),
            "custom_id": storage.custom_id_from_key("sub/b c.PDF"),
        },
    ]
    # "in-old/" shares the string prefix "in" but is another folder.
    assert all("in-old" not in item["source_uri"] for item in items)


def test_walk_pattern_and_destination(storage_server: StorageServer, source_bucket: str) -> None:
    dest = storage_server.uri("outputs", "processed/2026-05/")
    items = list(
        iter_source_items(storage_server.uri(source_bucket, "in/"), pattern="*.pdf", destination_prefix=dest)
    )
    assert items == [
        {
            "source_uri": storage_server.uri(source_bucket, "in/a.pdf"),
            "custom_id": "a.pdf",
            "destination_uri": storage_server.uri("outputs", "processed/2026-05/a.pdf/"),
            "destination_basename": "a",
        }
    ]


def test_walk_whole_bucket_and_object_storage_path(storage_server: StorageServer, source_bucket: str) -> None:
    from airflow.sdk import ObjectStoragePath

    scheme = {"s3": "s3", "gs": "gs", "azure": "abfs"}[storage_server.kind]
    conn = {"s3": "aws_default", "gs": "google_cloud_default", "azure": "wasb_default"}[storage_server.kind]
    path = ObjectStoragePath(f"{scheme}://{source_bucket}/", conn_id=conn)
    ids = sorted(item["custom_id"] for item in iter_source_items(path, pattern="**/*.pdf"))
    assert ids == sorted(storage.custom_id_from_key(k) for k in ("in/a.pdf", "in-old/z.pdf", "other/y.pdf"))


def test_walk_named_connection(
    storage_server: StorageServer, source_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Move the default connection to another id: the walk must use the one it is given.
    for key, value in storage_server.airflow_env.items():
        if key.startswith("AIRFLOW_CONN_"):
            monkeypatch.delenv(key)
            monkeypatch.setenv("AIRFLOW_CONN_MY_STORAGE", value)
    items = list(iter_source_items(storage_server.uri(source_bucket, "other"), conn_id="my_storage"))
    assert [item["custom_id"] for item in items] == ["y.pdf"]


def test_empty_prefix_fails_or_succeeds(storage_server: StorageServer, source_bucket: str) -> None:
    uri = storage_server.uri(source_bucket, "nothing-here")
    with pytest.raises(SourcePrefixEmpty, match="matched no object"):
        list(iter_source_items(uri))
    assert list(iter_source_items(uri, on_empty="succeed")) == []
    with pytest.raises(SourcePrefixEmpty, match="suffixes"):
        list(iter_source_items(storage_server.uri(source_bucket, "in"), suffixes=[".docx"]))


@pytest.mark.parametrize("cloud", ["s3", "azure"])
def test_walk_streams_page_by_page(
    cloud: str,
    request: pytest.FixtureRequest,
    make_bucket: Callable[[StorageServer, str], str],
    storage_env: Callable[[StorageServer], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The listing is read lazily: a key added after the first item arrives is still seen.

    A walker that materialised the listing before yielding would miss it. (Not run on
    gcp-storage-emulator: it ignores ``maxResults`` and answers every listing in one page.)
    """
    server: StorageServer = request.getfixturevalue({"s3": "s3_server", "azure": "azure_server"}[cloud])
    storage_env(server)
    bucket = make_bucket(server, "lazy")
    monkeypatch.setattr(prefix_walk, "LIST_PAGE_SIZE", 2)
    put_objects(server, bucket, {f"many/{i:02d}.pdf": b"%PDF" for i in range(6)})
    walk = iter_source_items(server.uri(bucket, "many"))
    first = next(walk)
    assert first["custom_id"] == "00.pdf"
    put_objects(server, bucket, {"many/99.pdf": b"%PDF late"})
    rest = [item["custom_id"] for item in walk]
    assert rest == [f"{i:02d}.pdf" for i in range(1, 6)] + ["99.pdf"]


def test_missing_bucket_is_a_clear_error(
    storage_server: StorageServer, storage_env: Callable[[StorageServer], None]
) -> None:
    from airflow_provider_mathpix.storage import SourcePrefixUnreadable

    storage_env(storage_server)
    with pytest.raises(SourcePrefixUnreadable, match="cannot list source_prefix") as err:
        list(iter_source_items(storage_server.uri("no-such-bucket-here", "in")))
    assert "no-such-bucket-here" in str(err.value)
