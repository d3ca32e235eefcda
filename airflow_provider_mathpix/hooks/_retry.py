"""The ONE retry policy of the provider, shared by the sync and async paths.

Which failures are retryable is a contract rule (``models.is_retryable``); this module
only decides *when* and *how often*: honour ``Retry-After`` when the server sent one
(capped by ``retry_max_wait``), else exponential backoff with jitter, bounded by both a
number of attempts and a total time, so a task never hangs on a sick API.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import tenacity

from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks._connection import ClientSettings
from airflow_provider_mathpix.models import is_retryable

#: First backoff step in seconds; doubles per attempt up to ``retry_max_wait``.
BACKOFF_BASE = 0.5


def should_retry(exc: BaseException) -> bool:
    return isinstance(exc, MathpixAPIError) and is_retryable(exc.http_status, exc.code)


def backoff_seconds(
    attempt: int, cap: float, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """Seconds to sleep before attempt ``attempt + 1``.

    ``Retry-After`` wins (the server knows its own recovery time) but never beyond
    ``cap``. Without it, "equal jitter": half of the exponential step fixed, half random,
    so many workers hitting one 503 do not come back in lockstep.
    """
    if retry_after is not None:
        return min(retry_after, cap)
    step = min(cap, BACKOFF_BASE * 2 ** max(0, attempt - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


class _Wait(tenacity.wait.wait_base):
    def __init__(self, cap: float) -> None:
        self.cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        return backoff_seconds(retry_state.attempt_number, self.cap, retry_after)


def _log_before_sleep(logger: Any, settings: ClientSettings):  # type: ignore[no-untyped-def]
    def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        logger.warning(
            "Mathpix call failed (%s); retry %d/%d in %.2f s",
            exc,
            retry_state.attempt_number,
            settings.max_retries,
            wait,
        )

    return before_sleep


def retry_kwargs(settings: ClientSettings, logger: Any) -> dict[str, Any]:
    """Arguments for ``tenacity.Retrying`` and ``tenacity.AsyncRetrying`` alike."""
    return {
        "retry": tenacity.retry_if_exception(should_retry),
        "stop": tenacity.stop_after_attempt(settings.max_retries + 1)
        | tenacity.stop_after_delay(settings.retry_deadline),
        "wait": _Wait(settings.retry_max_wait),
        "before_sleep": _log_before_sleep(logger, settings),
        "reraise": True,
    }


def retrying(settings: ClientSettings, logger: Any) -> tenacity.Retrying:
    return tenacity.Retrying(**retry_kwargs(settings, logger))


T = TypeVar("T")


async def acall_retrying(
    settings: ClientSettings, logger: Any, call: Callable[..., Awaitable[T]], *args: Any
) -> T:
    """``await call(*args)`` under the policy of :func:`retry_kwargs`, as a plain loop.

    The same stop rules (attempts, then total time since the first attempt, checked after
    each failure), the same waits and the same warning as the tenacity form; written out
    because the async path serves triggers, where a successful poll must cost nothing
    beyond the request (tenacity inspects its callbacks on every call).
    """
    began = time.monotonic()
    attempt = 1
    while True:
        try:
            return await call(*args)
        except Exception as exc:
            if (
                not should_retry(exc)
                or attempt >= settings.max_retries + 1
                or time.monotonic() - began >= settings.retry_deadline
            ):
                raise
            wait = backoff_seconds(attempt, settings.retry_max_wait, getattr(exc, "retry_after", None))
            logger.warning(
                "Mathpix call failed (%s); retry %d/%d in %.2f s", exc, attempt, settings.max_retries, wait
            )
            await asyncio.sleep(wait)
            attempt += 1
