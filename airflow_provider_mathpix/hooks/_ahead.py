"""An async page walk that asks for the next page as soon as it can: before parsing this one.

With a cursor, the next page's request needs this page's token. The server's work on
page N+1 overlaps ours on page N (parsing it, the consumer taking its records) only if
that request leaves before them, so the token is guessed from the raw body
(``_pages.guess_token``) the moment it is in, and the request put on the wire. The
parsed page decides: a fetch that asked for another token is cancelled and the right
one asked for, so correctness never rests on the guess (or on the server's key order).

Bounds: one request ahead of the page being handed out, never a chain; each fetch is one
call of the driver (the one retry policy, its deadlines) in a task of its own, cancelled
when the walk stops early; its failure surfaces where the walk awaits that page, after
the records before it were handed out.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.hooks._operation import Send
from airflow_provider_mathpix.hooks._pages import PageWalk, guess_token

if TYPE_CHECKING:
    from airflow_provider_mathpix.hooks._driver import OperationDriver


class Fetch:
    """One page's request, in a task of its own; the ``_send.Listener`` of its attempts."""

    def __init__(self, ahead: Ahead, req: ApiRequest, token: str | None) -> None:
        self.ahead = ahead
        self.token = token
        loop = asyncio.get_running_loop()
        #: Done once the request is on the wire, or the fetch is over (failed trying, or cancelled).
        self.sent: asyncio.Future[None] = loop.create_future()
        # A context of its own: a context variable set where this fetch was started (the
        # deadline of the request whose body started it) is not this fetch's.
        self.task = loop.create_task(ahead.driver._acall(Send(req), self), context=ahead.context.copy())
        self.task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        if not self.sent.done():
            self.sent.set_result(None)

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        if not self.sent.done() and event.endswith(("send_request_body.complete", ".failed")):
            self.sent.set_result(None)

    async def answered(self, body: bytes) -> None:
        await self.ahead.answered(self, body)

    async def cancel(self) -> None:
        self.task.cancel()
        # wait(), not ``await task`` under suppress(CancelledError): a cancellation of the
        # walk itself while it waits here still propagates.
        await asyncio.wait((self.task,))
        if not self.task.cancelled():
            self.task.exception()  # retrieved: the failure of a page nobody wants is not reported


class Ahead:
    """The fetches of one walk: ``pending`` is the page the walk awaits next, ``guessed`` the one after."""

    def __init__(self, driver: OperationDriver, walk: PageWalk) -> None:
        self.driver = driver
        self.walk = walk
        self.context = contextvars.copy_context()
        self.pending: Fetch | None = None
        self.guessed: Fetch | None = None
        self._awaited: Fetch | None = None

    async def first(self) -> Any:
        self.pending = Fetch(self, self.walk.first(), None)
        return await self.page()

    async def page(self) -> Any:
        """The page of the pending fetch (its failure raised here)."""
        fetch = self.pending
        assert fetch is not None
        self._awaited = fetch
        try:
            return await fetch.task
        finally:
            self._awaited = None
            if fetch.task.done():  # else the walk was cancelled meanwhile: close() awaits the fetch's end
                self.pending = None

    async def answered(self, fetch: Fetch, body: bytes) -> None:
        """``fetch``'s body is in: if the walk awaits that page, ask for the next one now.

        Not for a page fetched while the consumer was still on the one before (it awaited
        its own I/O): that would be two requests ahead. Its successor is asked for by
        :meth:`claim` once it is parsed.
        """
        if fetch is not self._awaited or self.guessed is not None:
            return
        token = guess_token(body)
        if token is None or self.walk.repeats(token):
            return
        self.guessed = Fetch(self, self.walk.listing.build(token), token)
        await self.guessed.sent

    async def claim(self, page: Any) -> bool:
        """Make the fetch of the page after ``page`` (by its parsed token) pending, on the wire.

        False at the end of the listing. A guessed fetch of another token is cancelled.
        """
        req = self.walk.after(page)
        guessed, self.guessed = self.guessed, None
        if guessed is not None:
            if req is not None and guessed.token == self.walk.token:
                self.pending = guessed
                return True
            await guessed.cancel()
        if req is None:
            return False
        self.pending = Fetch(self, req, self.walk.token)
        await self.pending.sent
        return True

    async def close(self) -> None:
        """Cancel what is still asked for (the consumer stopped early, or a page failed)."""
        for fetch in (self.pending, self.guessed):
            if fetch is not None:
                await fetch.cancel()
        self.pending = self.guessed = None
