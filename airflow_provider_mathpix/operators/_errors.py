"""Where the wait failures used to live; they are in :mod:`airflow_provider_mathpix.exceptions` now.

Re-exported (classes and the pickle helpers) so existing imports and exceptions pickled
by an earlier version keep working.
"""

from __future__ import annotations

from airflow_provider_mathpix.exceptions import (
    MathpixFileFailed,
    MathpixJobFilesErrored,
    MathpixWaitTimeout,
    _rebuild_files_errored,
    _rebuild_timeout,
)

__all__ = [
    "MathpixFileFailed",
    "MathpixJobFilesErrored",
    "MathpixWaitTimeout",
    "_rebuild_files_errored",
    "_rebuild_timeout",
]
