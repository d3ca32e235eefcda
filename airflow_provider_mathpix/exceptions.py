"""Errors raised by the Mathpix provider.

Every failure a DAG author sees is an ``AirflowException`` subclass, so Airflow's
retry and callback machinery treats it like any other task failure, and the API's
machine-readable code travels with it so ``on_failure_callback`` can branch on it.
"""

from __future__ import annotations

from airflow.exceptions import AirflowException


class MathpixError(AirflowException):
    """Base class of every error raised by this provider."""


class MathpixValidationError(MathpixError, ValueError):
    """Bad input caught before any request is sent (names the field and the rule)."""


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
