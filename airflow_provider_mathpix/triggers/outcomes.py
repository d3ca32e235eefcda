"""From a failed poll to the wait's outcome: ride it out, or end the wait with a typed error event.

Shared by the triggers (async, in the triggerer) and the in-process waits of operators
and sensors (sync, in a worker), so both end a wait on the same errors with the same
events. The pure readings of status records are in ``contract.status``.
"""

from __future__ import annotations

import httpx

from airflow_provider_mathpix._compat import is_connection_not_found
from airflow_provider_mathpix.contract.events import ApiError, RequestError, SetupError, WaitOn
from airflow_provider_mathpix.contract.retry import WAITABLE_CODES, is_retryable
from airflow_provider_mathpix.exceptions import MathpixAPIError

#: The code of a poll that failed on our side with no answer from Mathpix; the
#: exception's class is named in the message, not used as a code.
REQUEST_ERROR_CODE = "request_error"


def is_transient(exc: BaseException) -> bool:
    """Whether a failed poll is worth repeating later rather than ending the wait.

    The hook already retried with backoff; an error still transient after that (a long
    rate-limit window, a 503 burst, a dropped connection) is ridden out until the
    deadline, while anything the caller must fix (401, 404, a monthly quota) ends it.
    """
    if isinstance(exc, MathpixAPIError):
        # The retry rules are the hook's (contract.retry.is_retryable), written once; a format
        # still converting is a state to wait on, not a failure.
        return exc.code in WAITABLE_CODES or is_retryable(exc.http_status, exc.code)
    return isinstance(exc, (httpx.TransportError, TimeoutError, ConnectionError))


def setup_error(exc: BaseException, conn_id: str | None, on: WaitOn) -> SetupError:
    """The event of a wait that never reached Mathpix.

    ``connection_not_found`` when the connection id is defined nowhere Airflow looks;
    ``trigger_setup_error`` for anything else that stopped the client being built (a
    connection the hook refuses, an import that fails on this Airflow). Either way the
    message names the cause, so it is never mistaken for a file or job that failed.
    """
    if is_connection_not_found(exc):
        where = f"AIRFLOW_CONN_{conn_id.upper()}" if conn_id else "AIRFLOW_CONN_<ID>"
        return SetupError(
            on,
            "connection_not_found",
            f"the Airflow connection is not defined where this process looks for it "
            f"(metadata DB, {where}, secrets backend): {exc}",
        )
    return SetupError(
        on,
        "trigger_setup_error",
        f"could not start waiting on Mathpix with connection {conn_id!r}: {type(exc).__name__}: {exc}",
    )


def error_event(exc: BaseException, on: WaitOn) -> ApiError | RequestError | SetupError:
    """The event of a poll that failed for good: the API's code and sentence, never headers."""
    if is_connection_not_found(exc):
        return setup_error(exc, None, on)
    if isinstance(exc, MathpixAPIError):
        return ApiError(on, exc.code, exc.http_status, exc.message)
    return RequestError(on, REQUEST_ERROR_CODE, f"{type(exc).__name__}: {exc}")
