"""One attempt of one call: send the request, stream or read the answer.

What an attempt decides lives once, in :class:`Exchange` (the arguments of the request,
where the answer's bytes go, what the answer means, what a lost connection becomes);
:func:`send` and :func:`asend` are only the I/O edge, the same few lines with and
without ``await``. Headers, the body limit and the error mapping are ``_transport``'s,
the bound of the whole request ``_deadline``'s, upload source and download sink
``_io``'s, so the retry policy in ``_retry`` can wrap either function.
"""

from __future__ import annotations

from typing import IO, Any, NoReturn, Protocol

import httpx

from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.hooks._connection import ClientSettings
from airflow_provider_mathpix.hooks._deadline import end_deadline, request_deadline, start_deadline
from airflow_provider_mathpix.hooks._io import DownloadSink, UploadSource
from airflow_provider_mathpix.hooks._transport import (
    BodyReader,
    api_error,
    check_answer,
    leaks,
    request_headers,
    transport_error,
)


class Exchange:
    """One attempt's decisions, free of sync/async.

    A fresh upload stream per attempt (``UploadSource.open``) and a restarted sink
    (``DownloadSink.begin``) make each attempt independent, so a retry re-sends whole.
    The attempt ends within ``request_timeout`` (or ``budget``, the time left to the
    call, when smaller), however slowly the server answers.
    """

    def __init__(
        self,
        settings: ClientSettings,
        req: ApiRequest,
        upload: UploadSource | None,
        sink: DownloadSink | None,
        raw: bool,
        budget: float | None,
    ) -> None:
        self.settings = settings
        self.req = req
        self.upload = upload
        self.sink = sink
        self.raw = raw
        self.limit = (
            settings.request_timeout if budget is None else max(0.0, min(settings.request_timeout, budget))
        )
        self._handle: IO[bytes] | None = upload.open() if upload else None
        self._reader: BodyReader | None = None
        self._status = 0
        self._headers: httpx.Headers | None = None

    def request(self) -> dict[str, Any]:
        """The arguments of ``client.stream`` (sync and async alike)."""
        req, upload = self.req, self.upload
        files: Any = {"file": (upload.filename, self._handle, "application/octet-stream")} if upload else None
        return {
            "method": req.method,
            "url": req.path,
            "params": req.params,
            "json": req.json,
            "content": req.content,
            "data": req.form,
            "files": files,
            "headers": request_headers(req, self.settings),
        }

    def reusable(self) -> bool:
        """Whether the built request may be sent again as it is: a GET without query, body or headers."""
        req = self.req
        return (
            req.method == "GET"
            and self.upload is None
            and not req.params
            and req.json is None
            and req.content is None
            and req.form is None
            and not req.headers
        )

    def start(self, resp: httpx.Response) -> None:
        """The status line and headers arrived: stream into the sink, or collect the body."""
        self._status, self._headers = resp.status_code, resp.headers
        if self.sink is not None and resp.is_success:
            self.sink.begin()
        else:
            self._reader = BodyReader(self.req, resp.status_code, resp.headers, raw=self.raw)

    def feed(self, chunk: bytes) -> bool:
        """Take a chunk of the body; False once the rest is not wanted."""
        if self._reader is None:
            assert self.sink is not None
            self.sink.write(chunk)
            return True
        return self._reader.feed(chunk)

    def result(self) -> Any:
        """The answer's JSON, its bytes (``raw``), or the byte count in the sink; else raise."""
        if self._reader is None:
            assert self.sink is not None
            return self.sink.commit()
        assert self._headers is not None
        return check_answer(
            self.req,
            self._status,
            self._headers,
            self._reader.body(),
            raw=self.raw,
            secret=self.settings.app_key,
        )

    def success_body(self) -> bytes | None:
        """The body of a successful answer, as collected for parsing (None when streamed or failed)."""
        reader = self._reader
        return reader.body() if reader is not None and reader.success else None

    def no_answer(self, exc: httpx.TransportError) -> Exception:
        """The error for a request that got no (complete) answer; its cause is dropped if it holds the key."""
        settings = self.settings
        if "request_timeout" in str(exc):  # our deadline, not a single slow read
            error = api_error(
                self.req,
                None,
                "timeout",
                f"no complete answer within request_timeout ({settings.request_timeout:g} s, "
                "or less when the call's retry_deadline was nearer)",
            )
        else:
            error = transport_error(self.req, exc, settings.app_key, settings.base_url)
        error.__cause__ = None if leaks(exc, settings.app_key) else exc
        error.__suppress_context__ = True
        return error

    def close(self) -> None:
        if self.upload and self._handle is not None:
            self.upload.close(self._handle)


class Listener(Protocol):
    """What a pipelined caller learns of an attempt of :func:`asend` (a listing fetching ahead).

    ``trace`` is httpcore's ``trace`` request extension (``"http11.send_request_body.complete"``
    once the request is on the wire); ``answered`` gets a success body before it is parsed.
    """

    async def trace(self, event: str, info: dict[str, Any]) -> None: ...

    async def answered(self, body: bytes) -> None: ...


class Prepared:
    """Requests built once per client and sent again as they are (a trigger polls one URL).

    httpx sends a built request unmodified, so ``GET /files/v1/jobs/{id}`` built at a
    trigger's first poll spares each later poll the URL, header and cookie merging of
    ``build_request``. Only bodiless GETs (:meth:`Exchange.reusable`), and only while
    the client holds no cookie: a cookie a server sets goes into the requests httpx
    builds, so from then on every request is built again. The built requests carry the
    app_key in their headers: the repr shows a count only and pickling is refused.
    """

    #: Distinct URLs kept per client (a hook polling more than this rebuilds from scratch).
    LIMIT = 256

    def __init__(self) -> None:
        self._built: dict[tuple[str, str], httpx.Request] = {}

    def __repr__(self) -> str:
        return f"Prepared({len(self._built)} request(s))"

    def __reduce__(self) -> NoReturn:
        raise TypeError("prepared Mathpix requests hold the app_key and are not serializable")

    def __len__(self) -> int:
        return len(self._built)

    def request(self, client: httpx.AsyncClient, exchange: Exchange) -> httpx.Request:
        if client.cookies or not exchange.reusable():
            return client.build_request(**exchange.request())
        key = (exchange.req.method, exchange.req.path)
        built = self._built.get(key)
        if built is None:
            if len(self._built) >= self.LIMIT:
                self._built.clear()
            built = self._built[key] = client.build_request(**exchange.request())
        return built


def send(
    client: httpx.Client,
    settings: ClientSettings,
    req: ApiRequest,
    upload: UploadSource | None,
    sink: DownloadSink | None,
    raw: bool,
    budget: float | None = None,
) -> Any:
    """One attempt, blocking (see :class:`Exchange`)."""
    exchange = Exchange(settings, req, upload, sink, raw, budget)
    try:
        with request_deadline(exchange.limit), client.stream(**exchange.request()) as resp:
            exchange.start(resp)
            for chunk in resp.iter_bytes():
                if not exchange.feed(chunk):
                    break
            return exchange.result()
    except httpx.TransportError as exc:
        raise exchange.no_answer(exc)  # noqa: B904 - the cause is set there, or withheld when it holds the key
    finally:
        exchange.close()


async def asend(
    client: httpx.AsyncClient,
    settings: ClientSettings,
    req: ApiRequest,
    upload: UploadSource | None,
    sink: DownloadSink | None,
    raw: bool,
    budget: float | None = None,
    prepared: Prepared | None = None,
    listener: Listener | None = None,
) -> Any:
    """One attempt, awaited: :func:`send` with ``await``.

    What ``client.stream()`` does, without its context managers, and with the request
    built by ``prepared`` when given: this runs once per poll of every waiting trigger.
    A ``listener`` is told when the request is on the wire and gets the success body,
    its connection already back in the pool, before it is parsed.
    """
    exchange = Exchange(settings, req, upload, sink, raw, budget)
    deadline = start_deadline(exchange.limit)
    try:
        if listener is not None:
            request = client.build_request(**exchange.request(), extensions={"trace": listener.trace})
        elif prepared is not None:
            request = prepared.request(client, exchange)
        else:
            request = client.build_request(**exchange.request())
        resp = await client.send(request, stream=True)
        try:
            exchange.start(resp)
            async for chunk in resp.aiter_bytes():
                if not exchange.feed(chunk):
                    break
        finally:
            await resp.aclose()
        if listener is not None and (body := exchange.success_body()) is not None:
            await listener.answered(body)
        return exchange.result()
    except httpx.TransportError as exc:
        raise exchange.no_answer(exc)  # noqa: B904 - the cause is set there, or withheld when it holds the key
    finally:
        end_deadline(deadline)
        exchange.close()
