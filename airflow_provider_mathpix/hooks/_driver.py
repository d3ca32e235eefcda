"""The hook's I/O edge: the async client, the drivers that perform operations, the page walks.

:class:`OperationDriver` is everything of :class:`~airflow_provider_mathpix.hooks.mathpix.MathpixHook`
except its endpoints and its connection: it keeps one ``httpx.AsyncClient`` inside
``async with`` (the hook keeps its ``httpx.Client``), and runs an endpoint's operation
(``_operation``) with blocking calls (``_run``) or awaits (``_arun``). Every request goes
through ``_call`` / ``_acall``: the one retry policy (``_retry``) around one attempt
(``_send``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncGenerator, Iterator
from typing import Any, Self, TypeVar

import httpx

from airflow_provider_mathpix._compat import BaseHook
from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.exceptions import MathpixAPIError, validation_errors
from airflow_provider_mathpix.hooks._ahead import Ahead
from airflow_provider_mathpix.hooks._connection import ClientSettings
from airflow_provider_mathpix.hooks._operation import Listing, Mask, Operation, Send, Step, Stepper
from airflow_provider_mathpix.hooks._pages import PageWalk
from airflow_provider_mathpix.hooks._retry import acall_retrying, call_retrying
from airflow_provider_mathpix.hooks._send import Listener, Prepared, asend, send
from airflow_provider_mathpix.hooks._settings_cache import SHARED_SETTINGS
from airflow_provider_mathpix.hooks._transport import client_kwargs

T = TypeVar("T")


class OperationDriver(BaseHook):
    """Settings, clients and drivers of a Mathpix hook (see the module docstring)."""

    def __init__(self, mathpix_conn_id: str) -> None:
        super().__init__()
        self.mathpix_conn_id = mathpix_conn_id
        self._settings: ClientSettings | None = None
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._aclient: httpx.AsyncClient | None = None
        self._aprepared = Prepared()  # requests built by _aclient, sent again (see _send.Prepared)
        self._adepth = 0  # holders of _aclient: ``async with`` blocks, operations, requests in flight

    # ------------------------------------------------------------------ settings and clients

    # The hook itself reads its connection and masks secrets (see MathpixHook).

    def _get_settings(self) -> ClientSettings:
        raise NotImplementedError

    async def _aget_settings(self) -> ClientSettings:
        raise NotImplementedError

    def _mask(self, secret: str) -> None:
        raise NotImplementedError

    async def _amask(self, secret: str) -> None:
        raise NotImplementedError

    def get_conn(self) -> httpx.Client:
        raise NotImplementedError  # the hook's public client (MathpixHook.get_conn)

    async def __aenter__(self) -> Self:
        settings = await self._aget_settings()
        # No await between the check and the assignment: concurrent tasks entering at
        # once share one client instead of each building (and leaking) their own.
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(**client_kwargs(settings, asynchronous=True))
        self._adepth += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._adepth -= 1
        if self._adepth == 0 and self._aclient is not None:
            # Nothing is in flight on it: each request holds the client (see _acall).
            client, self._aclient = self._aclient, None
            self._aprepared = Prepared()  # what the closed client built is not sent by the next one
            await client.aclose()

    # ------------------------------------------------------------------ running operations

    def _run(self, operation: Operation[T]) -> T:
        """Perform ``operation``'s steps with blocking calls; its return value is the result."""
        with validation_errors():
            steps = Stepper(operation)
            for step in steps:
                steps.outcome(self._perform, step)
                del step  # the next chunk of a job is built without this one alive
            return steps.result

    async def _arun(self, operation: Operation[T]) -> T:
        """Perform ``operation``'s steps with awaits, all its requests on one client.

        The client is opened at the first request (not before: bad input is refused
        before the connection is read, as in :meth:`_run`) and closed with the operation
        unless the caller's ``async with hook:`` block already holds one (a trigger's
        polls: then nothing is set up per call).
        """
        entered = False

        async def enter_and_perform(step: Step) -> Any:
            nonlocal entered
            await self.__aenter__()  # inside the step, so a failure is thrown into the operation
            entered = True
            return await self._aperform(step)

        try:
            with validation_errors():
                steps = Stepper(operation)
                for step in steps:
                    opening = not entered and isinstance(step, Send) and self._aclient is None
                    await steps.aoutcome(enter_and_perform if opening else self._aperform, step)
                    del step
                return steps.result
        finally:
            if entered:
                await self.__aexit__(None, None, None)

    def _perform(self, step: Step) -> Any:
        if isinstance(step, Send):
            return self._call(step)
        if isinstance(step, Mask):
            self._mask(step.secret)
            return None
        return self._get_settings()

    async def _aperform(self, step: Step) -> Any:
        if isinstance(step, Send):
            return await self._acall(step)
        if isinstance(step, Mask):
            await self._amask(step.secret)
            return None
        return await self._aget_settings()

    def _call(self, call: Send) -> Any:
        """One request under the retry policy and the call's ``retry_deadline``."""
        settings = self._get_settings()
        client = self.get_conn()
        return call_retrying(
            settings,
            self.log,
            lambda left: send(client, settings, call.req, call.upload, call.sink, call.raw, left),
        )

    async def _acall(self, call: Send, listener: Listener | None = None) -> Any:
        """One request under the retry policy, holding the client it is sent on.

        Held like an ``async with`` block: a call that started on the client another
        call opened (concurrent calls outside a block, a listing's page fetched ahead)
        must not have it closed under it, mid-answer or between retries, when that
        other call ends. The client closes when its last holder lets go.
        """
        async with self:
            settings = await self._aget_settings()
            client, prepared = self._aclient, self._aprepared
            assert client is not None  # held by this block
            try:
                return await acall_retrying(
                    settings,
                    self.log,
                    lambda left: asend(
                        client, settings, call.req, call.upload, call.sink, call.raw, left, prepared, listener
                    ),
                )
            except MathpixAPIError as exc:
                if exc.http_status == 401:  # the key was refused: the next wait reads the connection again
                    SHARED_SETTINGS.forget(settings)
                raise

    def _pages(self, listing: Listing) -> Iterator[dict[str, Any]]:
        walk = PageWalk(listing)
        req: ApiRequest | None = walk.first()
        while req is not None:
            page = self._call(Send(req))
            yield from walk.records(page)
            req = walk.after(page)

    async def _apages(self, listing: Listing) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The pages of ``listing``, each one's successor on the wire before it is handed out.

        So the server's work on the next page overlaps ours on this one: the next request
        goes out as soon as this page's body is in (its token guessed from the raw bytes,
        see ``_ahead.Ahead``), before the page is parsed and while the consumer takes its
        records. The sync walk has no loop to overlap on, and a thread per listing would
        cost more than it saves. Whole pages, not records: the ``@listing`` twin is the
        one async-generator step per record.
        """
        if self._aclient is None:
            # Outside a caller's block: one client for the whole walk, closed with the generator.
            async with self, contextlib.aclosing(self._apages(listing)) as pages:
                async for page in pages:
                    yield page
            return
        # A client is open (the caller's block, or a concurrent call's): each page's request
        # holds it while in flight (see _acall), the walk never holds it between pages, so
        # a consumer that stops early (``break``) does not delay closing it.
        ahead = Ahead(self, PageWalk(listing))
        try:
            page = await ahead.first()
            while True:
                more = await ahead.claim(page)
                yield ahead.walk.records(page)
                if not more:
                    return
                page = await ahead.page()
        finally:
            await ahead.close()
