"""A job's items, built once: each entry of a ``files`` list or of a prefix walk becomes one checked item.

The builder is the one place that turns what a DAG author (or a bucket listing) gives
into the items ``POST /files/v1/jobs`` carries: a ``source_uri`` checked against the
contract, a ``custom_id`` (derived from the source when not given, so a retry
re-submits the same pair), the destination rule, and every field checked once with
duplicates of ``custom_id`` refused. What it yields is wrapped in :class:`BuiltItems`,
which the hook's job plan submits as it is instead of checking every item again.

The destination rule (``destination_prefix``): an item without its own
``destination_uri`` gets ``<prefix>/<custom_id>/`` and ``destination_basename=<custom_id>``,
so every document has its own folder and its outputs are named after its ``custom_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.ids import custom_id_from_uri
from airflow_provider_mathpix.contract.job_limits import JobItemChecker, SeenDigests
from airflow_provider_mathpix.contract.uris import classify_uri

Entry = str | Mapping[str, Any]


class BuiltItems:
    """Items that came out of :func:`build_items`: checked, with ``custom_id`` and destinations.

    Iterating it iterates the underlying list or stream (a walk is never materialised).
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[dict[str, Any]]) -> None:
        self._items = items

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._items)


def destination_for(destination_prefix: str, custom_id: str) -> str:
    """``<destination_prefix>/<custom_id>/``: one folder per document (the SCS layout)."""
    return f"{destination_prefix.rstrip('/')}/{custom_id}/"


def destination_of(destination_prefix: str, custom_id: str) -> tuple[str, str]:
    """The destination rule: ``(destination_uri, destination_basename)`` of a document under a prefix."""
    return destination_for(destination_prefix, custom_id), custom_id


def with_destination(item: dict[str, Any], destination_prefix: str | None) -> dict[str, Any]:
    """``item`` with the destination rule applied when it names no ``destination_uri`` of its own."""
    if destination_prefix and "destination_uri" not in item:
        uri, basename = destination_of(destination_prefix, item["custom_id"])
        item["destination_uri"] = uri
        item.setdefault("destination_basename", basename)
    return item


def destination_overrides(
    items: Iterable[Mapping[str, Any]], destination_prefix: str | None
) -> dict[str, tuple[str | None, str | None]]:
    """``custom_id -> (destination_uri, destination_basename)`` of the items the rule does not describe.

    What naming a job's outputs needs to remember: every other item's outputs follow
    from its ``custom_id`` and the prefix.
    """
    overrides: dict[str, tuple[str | None, str | None]] = {}
    for item in items:
        custom_id = item["custom_id"]
        dest, base = item.get("destination_uri"), item.get("destination_basename")
        follows_rule = destination_prefix and (dest, base) == destination_of(destination_prefix, custom_id)
        if dest and not follows_rule:
            overrides[custom_id] = (dest, base)
    return overrides


def entry_overrides(
    entries: Iterable[object], destination_prefix: str | None
) -> dict[str, tuple[str | None, str | None]]:
    """:func:`destination_overrides` of a ``files`` list already built once (nothing checked again).

    Only the entries naming a destination of their own are read: resuming after a
    deferral needs their output names, not the list.
    """
    own = (
        with_destination({**entry, "custom_id": custom_id_of(entry)}, destination_prefix)
        for entry in entries
        if isinstance(entry, Mapping) and ("destination_uri" in entry or "destination_basename" in entry)
    )
    return destination_overrides(own, destination_prefix)


def custom_id_of(item: Mapping[str, Any]) -> str:
    """The item's ``custom_id``, or the one derived from its ``source_uri`` (stable across retries)."""
    given = item.get("custom_id")
    return str(given) if given is not None else custom_id_from_uri(str(item["source_uri"]))


def item_of_entry(entry: object, index: int) -> dict[str, Any]:
    """A ``files`` entry (a source URI or an item dict) as an item with its ``custom_id``.

    A source whose ``custom_id`` must be derived from it is checked first, so a bad
    URI is named as ``files[i].source_uri`` rather than through an id made from it.
    """
    if isinstance(entry, str):
        item: dict[str, Any] = {"source_uri": entry}
    elif isinstance(entry, Mapping):
        item = dict(entry)
    else:
        raise InvalidInput(
            f"files[{index}] must be a source URI string or an item dict, got {type(entry).__name__}"
        )
    source = item.get("source_uri")
    if not isinstance(source, str) or not source:
        raise InvalidInput(f"files[{index}].source_uri is required")
    if item.get("custom_id") is None:
        classify_uri(source, f"files[{index}].source_uri")
        item["custom_id"] = custom_id_of(item)
    return item


def build_items(
    entries: Iterable[Entry],
    *,
    destination_prefix: str | None = None,
    needs_destination: bool = False,
    seen: SeenDigests | None = None,
) -> Iterator[dict[str, Any]]:
    """Each entry as a checked job item, lazily (a walk of millions streams through).

    ``entries``: a ``files`` list, or the items of a prefix walk. ``needs_destination``:
    ``image_output_mode="local"`` job-wide, which needs a destination on every item.
    ``seen``: where the ``custom_id`` digests are kept (a compact store for long walks).
    """
    checker = JobItemChecker(needs_destination=needs_destination, seen=seen)
    for index, entry in enumerate(entries):
        yield checker.check(with_destination(item_of_entry(entry, index), destination_prefix), index)


def build_item_list(
    entries: Iterable[Entry],
    *,
    destination_prefix: str | None = None,
    needs_destination: bool = False,
) -> BuiltItems:
    """Every entry built and checked before anything is sent (a list is in memory anyway)."""
    return BuiltItems(
        list(build_items(entries, destination_prefix=destination_prefix, needs_destination=needs_destination))
    )
