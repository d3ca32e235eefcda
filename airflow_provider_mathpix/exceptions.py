"""Errors raised by the Mathpix provider.

Every failure a DAG author sees is an ``AirflowException`` subclass, so Airflow's
retry and callback machinery treats it like any other task failure, and the API's
machine-readable code travels with it so ``on_failure_callback`` can branch on it.
They all live here, so a DAG author catches any of them from one module; the failures
of a wait carry a code too (``timeout`` is worth a retry, ``file_errors`` usually is
not). Each survives pickling with its attributes (Airflow ships exceptions across
processes).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from airflow.exceptions import AirflowException

from airflow_provider_mathpix.contract.errors import InvalidInput

__all__ = [
    "MathpixAPIError",
    "MathpixError",
    "MathpixFileFailed",
    "MathpixJobFilesErrored",
    "MathpixSetupError",
    "MathpixValidationError",
    "MathpixWaitTimeout",
    "validation_errors",
]

F = TypeVar("F", bound=Callable[..., Any])


class MathpixError(AirflowException):
    """Base class of every error raised by this provider."""


class MathpixValidationError(MathpixError, InvalidInput):
    """Bad input caught before any request is sent (names the field and the rule)."""


class validation_errors(contextlib.ContextDecorator):  # lower case: reads like contextlib.suppress
    """Re-raise the contract's :class:`InvalidInput` as :class:`MathpixValidationError`.

    Used at the public entry points (hook methods, operator and sensor constructors), as
    ``with validation_errors():`` or as a decorator (of plain or ``async`` functions): the
    contract cannot raise an Airflow exception (it imports no Airflow), and a DAG author
    should catch one class. ``from None``: the contract's frames add nothing to a message
    that names the field and the rule.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, InvalidInput) and not isinstance(exc, MathpixValidationError):
            raise MathpixValidationError(str(exc)) from None

    def __call__(self, func: F) -> F:  # type: ignore[override]
        if not inspect.iscoroutinefunction(func):
            return super().__call__(func)  # type: ignore[return-value]

        @functools.wraps(func)
        async def translated(*args: Any, **kwargs: Any) -> Any:
            with self._recreate_cm():
                return await func(*args, **kwargs)

        return translated  # type: ignore[return-value]


class MathpixAPIError(MathpixError):
    """The Mathpix API answered with an error.

    ``code`` is the envelope's machine-readable code (``error`` or ``error_info.id``),
    ``http_status`` the HTTP status, ``message`` the API's sentence. ``method`` and
    ``path`` say which request failed; headers (and so the app_key) are never kept.
    ``retry_after`` holds the seconds a ``Retry-After`` header asked for, when one came
    (the retry policy honours it); it is informational and not part of the message.
    """

    retry_after: float | None = None

    def __init__(
        self,
        code: str,
        http_status: int | None,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.code = code
        self.http_status = http_status
        self.message = message
        self.method = method
        self.path = path
        where = f" on {method} {path}" if method and path else ""
        status = f"HTTP {http_status}" if http_status is not None else "no HTTP status"
        super().__init__(f"Mathpix API error {code!r} ({status}){where}: {message}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keep the exception picklable (Airflow ships exceptions across processes).
        return (
            _rebuild_api_error,
            (self.code, self.http_status, self.message, self.method, self.path),
        )


def _rebuild_api_error(
    code: str, http_status: int | None, message: str, method: str | None, path: str | None
) -> MathpixAPIError:
    return MathpixAPIError(code, http_status, message, method=method, path=path)


# --------------------------------------------------------------------------- waits


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


class MathpixSetupError(MathpixError):
    """A wait could not start, so Mathpix was never asked (``code`` names why).

    ``connection_not_found`` (the connection id is defined nowhere the worker or triggerer
    looks) or ``trigger_setup_error`` (the client could not be built there: a connection
    the hook refuses, an import the running Airflow lacks). Work already submitted to
    Mathpix is unaffected; fix the cause and clear the task.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"Could not wait on Mathpix ({code}): {message}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (MathpixSetupError, (self.code, self.message))


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
