"""Where a job's documents come from: exactly one of a ``files`` list or a ``source_prefix``, checked early.

At parse time only what is already known is checked (a templated value waits for its
rendering; a local folder is on a worker's disk the DAG processor may not see); at
execute time everything is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_mathpix import storage
from airflow_provider_mathpix.common.validation import is_template
from airflow_provider_mathpix.contract.uris import classify_uri
from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.local_source import local_folder, local_path_of


def check_job_sources(
    *, task_id: str, files: Any, source_prefix: Any, destination_prefix: Any, at_parse_time: bool
) -> None:
    """Reject a job's source arguments before any request, naming the field."""
    has_files = files is not None
    has_prefix = source_prefix is not None and source_prefix != ""
    if has_files == has_prefix:
        got = "both" if has_files else "neither"
        raise MathpixValidationError(f"{task_id}: give exactly one of files or source_prefix (got {got})")
    if destination_prefix is not None and not is_template(destination_prefix, at_parse_time):
        classify_uri(destination_prefix, "destination_prefix", require_key=False)
    listed = has_files and not is_template(files, at_parse_time)
    if listed and (isinstance(files, (str, bytes)) or not isinstance(files, Iterable)):
        raise MathpixValidationError(
            f"files must be a list of source URIs or item dicts, got {type(files).__name__}"
        )
    if has_prefix and not is_template(source_prefix, at_parse_time):
        if local_path_of(source_prefix) is not None:
            # The folder is on the worker's disk, which the DAG processor may not see.
            if not at_parse_time:
                local_folder(source_prefix)
        else:
            storage.location_of(source_prefix)


def positive_int(value: object, field: str) -> int:
    """A count argument (``upload_concurrency``, ``max_files_per_job``): an integer of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MathpixValidationError(f"{field} must be a positive integer, got {value!r}")
    return value
