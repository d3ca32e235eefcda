"""The compact "what is already there" of a bucket destination, from one listing (pure)."""

from __future__ import annotations

import hashlib
import io

from airflow_provider_mathpix.operators._bucket import Existing, _s3_digest, md5_of


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def test_lookups_after_one_unsorted_listing() -> None:
    found = Existing()
    names = [f"doc-{i}.pdf.md" for i in range(500, 0, -1)]
    for i, name in enumerate(names):
        found.add(name, i, _md5(name.encode()) if i % 2 else None)
    found.seal()
    assert len(found) == 500
    for i, name in enumerate(names):
        assert found.size_of(name) == i
    assert found.size_of("doc-0.pdf.md") is None
    assert found.size_of("doc-1.pdf.mmd") is None


def test_skip_needs_same_size_and_the_listed_checksum() -> None:
    found = Existing()
    found.add("a.md", 5, _md5(b"hello"))
    found.add("b.md", 5, None)  # the store listed no checksum: size decides
    found.seal()
    assert found.holds("a.md", 5, lambda: md5_of(io.BytesIO(b"hello")))
    assert not found.holds("a.md", 5, lambda: md5_of(io.BytesIO(b"jello")))
    assert not found.holds("a.md", 6, lambda: md5_of(io.BytesIO(b"hello!")))
    assert found.holds("b.md", 5, lambda: b"never asked")
    assert not found.holds("c.md", 5, lambda: md5_of(io.BytesIO(b"hello")))


def test_only_a_single_part_etag_is_a_checksum() -> None:
    digest = _md5(b"x")
    assert _s3_digest(f'"{digest.hex()}"') == digest
    assert _s3_digest('"0123456789abcdef0123456789abcdef-3"') is None  # multipart upload
    assert _s3_digest(None) is None
