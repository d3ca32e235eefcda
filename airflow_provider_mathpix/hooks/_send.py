"""One attempt of one call, sync and async: send the request, stream or read the answer.

The two functions differ only in ``await``; everything they decide is delegated to
``_transport`` (headers, the body limit, the error mapping), ``_deadline`` (the bound
of the whole request) and ``_io`` (upload source, download sink), so the retry policy
in ``_retry`` can wrap either.
"""

from __future__ import annotations

from typing import Any

import httpx

from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.hooks._connection import ClientSettings
from airflow_provider_mathpix.hooks._deadline import request_deadline
from airflow_provider_mathpix.hooks._io import DownloadSink, UploadSource
from airflow_provider_mathpix.hooks._transport import (
    BodyReader,
    api_error,
    check_answer,
    leaks,
    request_headers,
    transport_error,
)


def send(
    client: httpx.Client,
    settings: ClientSettings,
    req: ApiRequest,
    upload: UploadSource | None,
    sink: DownloadSink | None,
    raw: bool,
    budget: float | None = None,
) -> Any:
    """One attempt: the answer's JSON, its bytes (``raw``) or the byte count streamed into ``sink``.

    A fresh upload stream per attempt (``UploadSource.open``) and a restarted sink
    (``DownloadSink.begin``) make each attempt independent, so a retry re-sends whole.
    The attempt ends within ``request_timeout`` (or ``budget``, the time left to the
    call, when smaller), however slowly the server answers.
    """
    handle = upload.open() if upload else None
    files: Any = {"file": (upload.filename, handle, "application/octet-stream")} if upload else None
    try:
        with (
            request_deadline(_limit(settings, budget)),
            client.stream(
                req.method,
                req.path,
                params=req.params,
                json=req.json,
                data=req.form,
                files=files,
                headers=request_headers(req, settings),
            ) as resp,
        ):
            if sink is not None and resp.is_success:
                sink.begin()
                for chunk in resp.iter_bytes():
                    sink.write(chunk)
                return sink.commit()
            reader = BodyReader(req, resp.status_code, resp.headers, raw=raw)
            for chunk in resp.iter_bytes():
                if not reader.feed(chunk):
                    break
            return check_answer(
                req, resp.status_code, resp.headers, reader.body(), raw=raw, secret=settings.app_key
            )
    except httpx.TransportError as exc:
        raise _no_answer(req, exc, settings) from (None if leaks(exc, settings.app_key) else exc)
    finally:
        if upload and handle is not None:
            upload.close(handle)


async def asend(
    client: httpx.AsyncClient,
    settings: ClientSettings,
    req: ApiRequest,
    upload: UploadSource | None,
    sink: DownloadSink | None,
    raw: bool,
    budget: float | None = None,
) -> Any:
    """Async twin of :func:`send`."""
    handle = upload.open() if upload else None
    files: Any = {"file": (upload.filename, handle, "application/octet-stream")} if upload else None
    try:
        with request_deadline(_limit(settings, budget)):
            async with client.stream(
                req.method,
                req.path,
                params=req.params,
                json=req.json,
                data=req.form,
                files=files,
                headers=request_headers(req, settings),
            ) as resp:
                if sink is not None and resp.is_success:
                    sink.begin()
                    async for chunk in resp.aiter_bytes():
                        sink.write(chunk)
                    return sink.commit()
                reader = BodyReader(req, resp.status_code, resp.headers, raw=raw)
                async for chunk in resp.aiter_bytes():
                    if not reader.feed(chunk):
                        break
                return check_answer(
                    req, resp.status_code, resp.headers, reader.body(), raw=raw, secret=settings.app_key
                )
    except httpx.TransportError as exc:
        raise _no_answer(req, exc, settings) from (None if leaks(exc, settings.app_key) else exc)
    finally:
        if upload and handle is not None:
            upload.close(handle)


def _limit(settings: ClientSettings, budget: float | None) -> float:
    return settings.request_timeout if budget is None else max(0.0, min(settings.request_timeout, budget))


def _no_answer(req: ApiRequest, exc: httpx.TransportError, settings: ClientSettings) -> Exception:
    if "request_timeout" in str(exc):  # our deadline, not a single slow read
        return api_error(
            req,
            None,
            "timeout",
            f"no complete answer within request_timeout ({settings.request_timeout:g} s, "
            "or less when the call's retry_deadline was nearer)",
        )
    return transport_error(req, exc, settings.app_key, settings.base_url)
