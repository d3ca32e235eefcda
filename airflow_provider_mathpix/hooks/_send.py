"""One attempt of one call, sync and async: send the request, stream or read the answer.

The two functions differ only in ``await``; everything they decide is delegated to
``_transport`` (headers, the error mapping) and ``_io`` (upload source, download sink),
so the retry policy in ``_retry`` can wrap either.
"""

from __future__ import annotations

from typing import Any

import httpx

from airflow_provider_mathpix.hooks._connection import ClientSettings
from airflow_provider_mathpix.hooks._io import DownloadSink, UploadSource
from airflow_provider_mathpix.hooks._transport import check_answer, request_headers, transport_error
from airflow_provider_mathpix.models import ApiRequest


def send(
    client: httpx.Client,
    settings: ClientSettings,
    req: ApiRequest,
    upload: UploadSource | None,
    sink: DownloadSink | None,
    raw: bool,
) -> Any:
    """One attempt: the answer's JSON, its bytes (``raw``) or the byte count streamed into ``sink``.

    A fresh upload stream per attempt (``UploadSource.open``) and a restarted sink
    (``DownloadSink.begin``) make each attempt independent, so a retry re-sends whole.
    """
    handle = upload.open() if upload else None
    files: Any = {"file": (upload.filename, handle, "application/octet-stream")} if upload else None
    try:
        with client.stream(
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
                for chunk in resp.iter_bytes():
                    sink.write(chunk)
                return sink.commit()
            return check_answer(req, resp.status_code, resp.headers, resp.read(), raw=raw)
    except httpx.TransportError as exc:
        raise transport_error(req, exc, settings.base_url) from exc
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
) -> Any:
    """Async twin of :func:`send`."""
    handle = upload.open() if upload else None
    files: Any = {"file": (upload.filename, handle, "application/octet-stream")} if upload else None
    try:
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
            return check_answer(req, resp.status_code, resp.headers, await resp.aread(), raw=raw)
    except httpx.TransportError as exc:
        raise transport_error(req, exc, settings.base_url) from exc
    finally:
        if upload and handle is not None:
            upload.close(handle)
