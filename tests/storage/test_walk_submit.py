"""A bucket walk submitted as one job (moto + the emulator), and the S3 listing's timestamps left as text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from airflow_provider_mathpix.testing.storage_servers import StorageServer, put_objects


def test_the_job_holds_exactly_what_was_walked(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    sample_pdf: bytes,
) -> None:
    """Chunks encoded item by item into bodies arrive as the walk's items, each once."""
    from airflow_provider_mathpix.hooks.mathpix import MathpixHook
    from airflow_provider_mathpix.prefix_walk import iter_source_items

    src = make_bucket(s3_server, "walk")
    put_objects(s3_server, src, {f"in/doc-{i}.pdf": sample_pdf for i in range(7)})
    prefix = s3_server.uri(src, "in")
    walked = list(iter_source_items(prefix))
    with MathpixHook() as hook:
        result = hook.submit_job(iter_source_items(prefix), job_id="walked", max_items_per_request=3)
        listed = hook.iter_job_files("walked")
    assert result == {"job_id": "walked", "file_count": 7, "calls": 3}
    # A listed file names its source by ``filename``: the last segment of its source_uri.
    got = sorted((f["custom_id"], f["filename"]) for f in listed)
    assert got == sorted((item["custom_id"], item["source_uri"].rsplit("/", 1)[-1]) for item in walked)
    assert bucket_emulator.stats()["files_created"] == 7


def test_the_s3_listing_keeps_timestamps_as_text_and_a_window_reads_them_right(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    storage_env: Callable[[StorageServer], None],
    sample_pdf: bytes,
) -> None:
    """botocore's generic (dateutil) parse is off for the walk; ``modified`` equals what it would give."""
    import boto3

    from airflow_provider_mathpix.incremental import WalkStats, iter_incremental_items
    from airflow_provider_mathpix.prefix_walk import list_objects, list_s3_objects
    from airflow_provider_mathpix.storage import location_of

    storage_env(s3_server)
    src = make_bucket(s3_server, "stamp")
    put_objects(s3_server, src, {"in/a.pdf": sample_pdf, "in/b.pdf": sample_pdf})
    raw = list(list_s3_objects(src, "in/", "aws_default"))
    assert [type(entry["LastModified"]) for entry in raw] == [str, str]

    plain = boto3.client("s3", **s3_server.bucket_store_config["s3"])  # parses times as botocore does
    parsed = plain.list_objects_v2(Bucket=src, Prefix="in/")
    expected = {entry["Key"]: entry["LastModified"] for entry in parsed["Contents"]}
    objects, _ = list_objects(location_of(s3_server.uri(src, "in"))[0], "in/", "aws_default")
    listed = {obj.key: obj.modified for obj in objects}
    assert listed == expected
    assert all(isinstance(t, datetime) and t.utcoffset() is not None for t in listed.values())

    # The window compares the parsed times: a bound at an object's own time keeps it
    # (modified_after is inclusive) and excludes it as modified_before (exclusive).
    first = min(expected.values())
    stats = WalkStats()
    inside = list(iter_incremental_items(s3_server.uri(src, "in"), modified_after=first, stats=stats))
    assert len(inside) == 2 and stats.outside_window == 0
    stats = WalkStats()
    before = list(iter_incremental_items(s3_server.uri(src, "in"), modified_before=first, stats=stats))
    assert before == [] and stats.outside_window == 2
