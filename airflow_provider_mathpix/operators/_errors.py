"""Failures of a wait: each a ``MathpixError`` (so an ``AirflowException``) carrying a code.

Why codes: ``on_failure_callback`` and retry policies branch on what went wrong
(``timeout`` is worth a retry, ``file_errors`` usually is not), and the message alone
is for humans. API failures themselves are ``MathpixAPIError`` with the API's own code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_mathpix.exceptions import MathpixError


class MathpixWaitTimeout(MathpixError):
    """The deadline passed before Mathpix finished. ``code`` is ``"timeout"``."""

    code = "timeout"

    def __init__(self, message: str, *, job_id: str | None = None, file_id: str | None = None) -> None:
        self.job_id = job_id
        self.file_id = file_id
        super().__init__(message)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_rebuild_timeout, (str(self), self.job_id, self.file_id))


class MathpixFileFailed(MathpixError):
    """A single file ended in ``error`` (or one of its formats did); ``code`` is the API's."""

    def __init__(self, file_id: str, code: str, message: str) -> None:
        self.file_id = file_id
        self.code = code
        self.message = message
        super().__init__(f"Mathpix file {file_id} failed ({code}): {message}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (MathpixFileFailed, (self.file_id, self.code, self.message))


class MathpixJobFilesErrored(MathpixError):
    """A completed job had more errored files than the partial-success policy allows.

    ``code`` is ``"file_errors"``; ``errors_sample`` names up to 10 errored files.
    """

    code = "file_errors"

    def __init__(
        self,
        message: str,
        *,
        job_id: str,
        files_errored: int,
        file_count: int,
        errors_sample: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.job_id = job_id
        self.files_errored = files_errored
        self.file_count = file_count
        self.errors_sample = [dict(e) for e in errors_sample]
        super().__init__(message)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (
            _rebuild_files_errored,
            (str(self), self.job_id, self.files_errored, self.file_count, self.errors_sample),
        )


def _rebuild_timeout(message: str, job_id: str | None, file_id: str | None) -> MathpixWaitTimeout:
    return MathpixWaitTimeout(message, job_id=job_id, file_id=file_id)


def _rebuild_files_errored(
    message: str, job_id: str, files_errored: int, file_count: int, sample: list[dict[str, Any]]
) -> MathpixJobFilesErrored:
    return MathpixJobFilesErrored(
        message, job_id=job_id, files_errored=files_errored, file_count=file_count, errors_sample=sample
    )
