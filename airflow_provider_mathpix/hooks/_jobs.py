"""Plan a job submission: one job_id, validated items, one request per chunk (pure, no I/O).

Split from the hook so the sync and async paths share it and it is testable alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

from airflow_provider_mathpix.contract.ids import custom_id_from_uri, new_job_id, validate_id
from airflow_provider_mathpix.contract.items import BuiltItems
from airflow_provider_mathpix.contract.job_limits import JobItemChecker, validate_max_items_per_request
from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.contract.requests_jobs import JobBody, job_options
from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.hooks.custom_ids import CompactDigests


class JobPlan:
    """The calls that submit ``items`` as ONE job.

    Every call names the same ``job_id`` (generated here when the caller gave none), so
    chunk 2 appends to chunk 1's job and a failed call re-sends only its own slice. Mathpix
    deduplicates job members only on ``(job_id, custom_id)`` (never on an Idempotency-Key
    when there is a job_id), so an item without ``custom_id`` gets one derived from its
    ``source_uri``: a call re-sent after a lost answer returns the same files. A list or tuple is
    validated whole before the first request, so its bad input never half-submits a
    job; a lazy iterable is validated chunk by chunk as it streams (never materialised).
    :class:`~airflow_provider_mathpix.contract.items.BuiltItems` were checked when they
    were built: they are sent as they are.
    """

    def __init__(
        self,
        items: Iterable[Mapping[str, Any]],
        job_id: str | None,
        max_items_per_request: int | None,
        options: Mapping[str, Any],
        *,
        loopback_callbacks: bool = False,
    ) -> None:
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
            raise MathpixValidationError(
                "items must be an iterable of item mappings (each with a source_uri)"
            )
        self.job_id = validate_id(job_id, "job_id") if job_id is not None else new_job_id()
        self.chunk_size = validate_max_items_per_request(max_items_per_request)
        self.options = job_options(options, loopback_callbacks=loopback_callbacks)
        self._needs_destination = self.options.get("image_output_mode") == "local"
        self._built = isinstance(items, BuiltItems)
        self._prevalidated = isinstance(items, Sequence)
        prepared: list[Any] | Iterator[Any]
        if self._built:
            prepared = iter(items)
        elif self._prevalidated:
            prepared = [_with_custom_id(i) for i in items]
            if not prepared:
                raise MathpixValidationError("items must contain at least one item")
            checker = JobItemChecker(needs_destination=self._needs_destination, seen=CompactDigests())
            for index, item in enumerate(prepared):
                checker.check(item, index)
        else:
            prepared = map(_with_custom_id, items)
        self._items = prepared
        self.calls = 0
        self.file_count = 0
        self.sending = 0

    def requests(self) -> Iterator[ApiRequest]:
        """One validated request per chunk; counts what was handed out (``sending``: this one's items)."""
        checker = JobItemChecker(needs_destination=self._needs_destination, seen=CompactDigests())
        items = iter(self._items)
        # Each item is checked (or trimmed) and encoded as it is taken from the stream: a
        # chunk exists once, as the request's bytes, never as a list of item dicts.
        while True:
            body = JobBody(self.job_id, self.options)
            for offset, item in enumerate(itertools.islice(items, self.chunk_size)):
                body.add(
                    cast("dict[str, Any]", item)
                    if self._built  # checked, and unset fields dropped, by the builder
                    else {k: v for k, v in item.items() if v is not None}
                    if self._prevalidated  # checked whole in __init__: only drop unset (None) fields
                    else checker.check(item, self.file_count + offset)
                )
            if not body.count:
                break
            self.sending = body.count
            yield body.request()
            self.calls += 1
            self.file_count += body.count
        if self.file_count == 0:
            raise MathpixValidationError("items must contain at least one item")

    def result(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "file_count": self.file_count, "calls": self.calls}


def _with_custom_id(item: Any) -> Any:
    """``item`` with a ``custom_id`` derived from its ``source_uri`` when it has none (else as is)."""
    if not isinstance(item, Mapping) or item.get("custom_id") is not None:
        return item
    source = item.get("source_uri")
    if not isinstance(source, str) or not source:
        return item  # the checker names what is wrong
    return {**item, "custom_id": custom_id_from_uri(source)}
