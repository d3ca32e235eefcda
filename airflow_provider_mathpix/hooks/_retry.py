"""The ONE retry policy of the provider, shared by the sync and async paths.

Which failures are retryable is a contract rule (``contract.retry.is_retryable``); this module
only decides *when* and *how often*: honour ``Retry-After`` when the server sent one
(plus jitter, capped by ``retry_max_wait``), else exponential backoff with jitter,
bounded by a number of attempts and by ``retry_deadline``, which bounds the whole
call: every attempt (see :class:`CallBudget`) and every single wait.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import tenacity

from airflow_provider_mathpix.contract.retry import is_retryable
from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks._connection import ClientSettings

#: First backoff step in seconds; doubles per attempt up to ``retry_max_wait``.
BACKOFF_BASE = 0.5
#: Jitter added to a ``Retry-After``, as a fraction of it: 100 clients told "2 s" come
#: back spread over one second instead of within the same 100 ms.
RETRY_AFTER_JITTER = 0.5


def should_retry(exc: BaseException) -> bool:
    return isinstance(exc, MathpixAPIError) and is_retryable(exc.http_status, exc.code)


def backoff_seconds(
    attempt: int, cap: float, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """Seconds to sleep before attempt ``attempt + 1``.

    ``Retry-After`` wins (the server knows its own recovery time), plus up to half of it
    again at random, never beyond ``cap``. Without it, "equal jitter": half of the
    exponential step fixed, half random, so many workers hitting one 503 do not come
    back in lockstep.
    """
    if retry_after is not None:
        return min(cap, retry_after + (rng or random).uniform(0, retry_after * RETRY_AFTER_JITTER))
    step = min(cap, BACKOFF_BASE * 2 ** max(0, attempt - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


class CallBudget:
    """The time one call (all its attempts and waits) may take: ``retry_deadline`` from now."""

    def __init__(self, settings: ClientSettings) -> None:
        self.deadline = time.monotonic() + settings.retry_deadline
        self._last: MathpixAPIError | None = None

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def judge(self, exc: MathpixAPIError) -> MathpixAPIError:
        """The error to report for a failed attempt.

        An attempt cut short by the call's own deadline says nothing about the API:
        the failure before it (the 503 the API kept answering) is the one reported.
        """
        if exc.code == "timeout" and exc.http_status is None and self.left() <= 0 and self._last is not None:
            return self._last
        self._last = exc
        return exc


class _Wait(tenacity.wait.wait_base):
    def __init__(self, cap: float, budget: CallBudget) -> None:
        self.cap = cap
        self.budget = budget

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        wait = backoff_seconds(retry_state.attempt_number, self.cap, retry_after)
        return max(0.0, min(wait, self.budget.left()))


class _StopAtDeadline(tenacity.stop.stop_base):
    """Stop when the wait ahead would use up what is left of the call's budget."""

    def __init__(self, budget: CallBudget) -> None:
        self.budget = budget

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.budget.left() - retry_state.upcoming_sleep <= 0


def _log_before_sleep(logger: Any, settings: ClientSettings) -> Callable[[tenacity.RetryCallState], None]:
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


def retry_kwargs(settings: ClientSettings, logger: Any, budget: CallBudget) -> dict[str, Any]:
    """Arguments for ``tenacity.Retrying`` and ``tenacity.AsyncRetrying`` alike."""
    return {
        "retry": tenacity.retry_if_exception(should_retry),
        "stop": tenacity.stop_after_attempt(settings.max_retries + 1) | _StopAtDeadline(budget),
        "wait": _Wait(settings.retry_max_wait, budget),
        "before_sleep": _log_before_sleep(logger, settings),
        "reraise": True,
    }


T = TypeVar("T")


def call_retrying(settings: ClientSettings, logger: Any, attempt: Callable[[float], T]) -> T:
    """``attempt(seconds_left)`` under the policy of :func:`retry_kwargs`, within ``retry_deadline``."""
    budget = CallBudget(settings)

    def once() -> T:
        try:
            return attempt(budget.left())
        except MathpixAPIError as exc:
            reported = budget.judge(exc)
            if reported is exc:
                raise
            raise reported from None

    return tenacity.Retrying(**retry_kwargs(settings, logger, budget))(once)


async def acall_retrying(
    settings: ClientSettings, logger: Any, attempt: Callable[[float], Awaitable[T]]
) -> T:
    """``await attempt(seconds_left)`` under the policy of :func:`retry_kwargs`, as a plain loop.

    The same stop rules (attempts; the wait ahead using up the budget), the same waits
    and the same warning as the tenacity form; written out because the async path serves
    triggers, where a successful poll must cost nothing beyond the request (tenacity
    inspects its callbacks on every call).
    """
    budget = CallBudget(settings)
    number = 1
    while True:
        try:
            try:
                return await attempt(budget.left())
            except MathpixAPIError as exc:
                reported = budget.judge(exc)
                if reported is exc:
                    raise
                raise reported from None
        except Exception as exc:
            if not should_retry(exc) or number >= settings.max_retries + 1:
                raise
            retry_after = getattr(exc, "retry_after", None)
            wait = max(0.0, min(backoff_seconds(number, settings.retry_max_wait, retry_after), budget.left()))
            if budget.left() - wait <= 0:
                raise
            logger.warning(
                "Mathpix call failed (%s); retry %d/%d in %.2f s", exc, number, settings.max_retries, wait
            )
            await asyncio.sleep(wait)
            number += 1
