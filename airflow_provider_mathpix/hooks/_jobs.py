"""Plan a job submission: one job_id, validated items, one request per chunk (pure, no I/O).

Split from the hook so the sync and async paths share it and it is testable alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.models import (
    ApiRequest,
    JobItemChecker,
    chunked,
    job_options,
    new_job_id,
    submit_job_request,
    validate_id,
    validate_max_items_per_request,
)


class JobPlan:
    """The calls that submit ``items`` as ONE job.

    Every call names the same ``job_id`` (generated here when the caller gave none), so
    chunk 2 appends to chunk 1's job and a failed call re-sends only its own slice
    (re-sent items with a ``custom_id`` are deduplicated by Mathpix). A list or tuple is
    validated whole before the first request, so its bad input never half-submits a
    job; a lazy iterable is validated chunk by chunk as it streams (never materialised).
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
        self._prevalidated = isinstance(items, Sequence)
        if self._prevalidated:
            if not items:
                raise MathpixValidationError("items must contain at least one item")
            checker = JobItemChecker(needs_destination=self._needs_destination)
            for index, item in enumerate(items):
                checker.check(item, index)
        self._items = items
        self.calls = 0
        self.file_count = 0

    def requests(self) -> Iterator[ApiRequest]:
        """One validated request per chunk; counts what was handed out."""
        checker = JobItemChecker(needs_destination=self._needs_destination)
        for chunk in chunked(self._items, self.chunk_size):
            if self._prevalidated:  # checked whole in __init__: only drop unset (None) fields
                files = [{k: v for k, v in item.items() if v is not None} for item in chunk]
            else:
                files = [checker.check(item, self.file_count + offset) for offset, item in enumerate(chunk)]
            yield submit_job_request(self.job_id, files, self.options)
            self.calls += 1
            self.file_count += len(files)
        if self.file_count == 0:
            raise MathpixValidationError("items must contain at least one item")

    def result(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "file_count": self.file_count, "calls": self.calls}
