"""Fail before submitting when a bucket a job involves is not a registered Mathpix data source."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_mathpix import storage
from airflow_provider_mathpix.contract.uris import classify_uri
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.local_source import local_path_of


def buckets_involved(
    *, source_prefix: Any, uris: Iterable[str], destination_prefix: str | None
) -> dict[tuple[str, str], str]:
    """``(kind, bucket) -> a URI naming it`` for every bucket of a job; public ``https://`` needs none.

    ``source_prefix`` is a bucket prefix (a local folder needs no data source); ``uris``
    the sources and destinations of an explicit item list.
    """
    buckets: dict[tuple[str, str], str] = {}

    def add(uri: str) -> None:
        loc = storage.parse_location(uri, "uri")
        buckets.setdefault((loc.kind, loc.bucket), uri)

    if source_prefix is not None and local_path_of(source_prefix) is None:
        loc, _ = storage.location_of(source_prefix)
        scheme = "abfs" if loc.kind == "azure" else loc.kind
        buckets.setdefault((loc.kind, loc.bucket), f"{scheme}://{loc.bucket}/{loc.key}")
    for uri in uris:
        if classify_uri(uri, "source_uri", require_key=False) != "https":
            add(uri)
    if destination_prefix:
        add(destination_prefix)
    return buckets


def check_data_sources(
    hook: MathpixHook, *, source_prefix: Any, uris: Iterable[str], destination_prefix: str | None
) -> None:
    """One ``GET /files/v1/data-sources`` covers every bucket involved; an unknown one fails."""
    buckets = buckets_involved(source_prefix=source_prefix, uris=uris, destination_prefix=destination_prefix)
    if not buckets:
        return
    sources = hook.list_data_sources()
    for uri in buckets.values():
        storage.check_data_source(hook, uri, data_sources=sources)
