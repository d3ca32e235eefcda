"""Fixtures for hook tests: a connection pointing at the emulator, and real documents.

Connections come from ``AIRFLOW_CONN_*`` environment variables in Airflow's JSON form,
exactly as a DAG author configures one (docs/connections.md). Documents are served by a
real HTTP server on 127.0.0.1 so the emulator fetches them like Mathpix fetches a URL.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_mathpix.hooks.mathpix import MathpixHook

#: The app_key used everywhere in these tests; assertions check it never leaks.
APP_KEY = "mpx-SECRET-app-key-5f0c1e"
APP_ID = "test-app-id"
#: Tiny waits so retry tests take milliseconds (backoff and Retry-After are both capped).
FAST_RETRIES = {"max_retries": 4, "retry_max_wait": 0.01, "timeout": 10}


def set_connection(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    *,
    conn_id: str = "mathpix_default",
    password: str | None = APP_KEY,
    login: str | None = APP_ID,
    extra: dict[str, Any] | None = None,
) -> None:
    conn: dict[str, Any] = {
        "conn_type": "mathpix",
        "host": url,
        "extra": extra if extra is not None else FAST_RETRIES,
    }
    if password is not None:
        conn["password"] = password
    if login is not None:
        conn["login"] = login
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def emulator(mathpix_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shared emulator, with ``mathpix_default`` pointing at it."""
    set_connection(monkeypatch, mathpix_emulator.url)
    return mathpix_emulator


@pytest.fixture
def hook(emulator: Any) -> Iterator[MathpixHook]:
    with MathpixHook() as h:
        yield h


def make_pdf(pages: int = 2, title: str = "Sample") -> bytes:
    """A small real PDF with a text layer (what the emulator converts)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    for page in range(pages):
        pdf.drawString(72, 760, f"{title}: page {page + 1}")
        pdf.drawString(72, 740, "Euler: e^{i pi} + 1 = 0")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    return make_pdf()


def _png_1x1() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


class DocServer:
    """A loopback HTTP server: GET serves registered bytes by path (404 otherwise), POST records webhooks."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        files, posts = self.files, self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                posts.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str, data: bytes = b"") -> str:
        self.files[path] = data
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def doc_server() -> Iterator[DocServer]:
    server = DocServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def png_bytes() -> bytes:
    return _png_1x1()


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until truthy (emulated processing takes ~a second); fail clearly otherwise."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        time.sleep(interval)


async def await_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        await asyncio.sleep(interval)


class AsyncTwins:
    """Call a hook's ``a``-prefixed twins with the sync method names, inside ONE ``async with``.

    Lets one test body exercise both paths: ``api.get_job(x)`` runs ``await hook.aget_job(x)``
    on a private event loop, and ``api.iter_job_files(...)`` collects ``aiter_job_files``.
    """

    def __init__(self, hook: MathpixHook) -> None:
        import asyncio

        self.hook = hook
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(hook.__aenter__())
        self.client = hook._aclient

    def __getattr__(self, name: str) -> Callable[..., Any]:
        twin = getattr(self.hook, f"a{name}")

        def call(*args: Any, **kwargs: Any) -> Any:
            if name.startswith("iter_"):

                async def collect() -> list[Any]:
                    return [item async for item in twin(*args, **kwargs)]

                return self.loop.run_until_complete(collect())
            return self.loop.run_until_complete(twin(*args, **kwargs))

        return call

    def close(self) -> None:
        assert self.hook._aclient is self.client, "the block's AsyncClient must be reused by every call"
        self.loop.run_until_complete(self.hook.__aexit__(None, None, None))
        assert self.hook._aclient is None and self.client is not None and self.client.is_closed
        self.loop.close()


class SyncApi:
    def __init__(self, hook: MathpixHook) -> None:
        self.hook = hook

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.hook, name)
        if name.startswith("iter_"):
            return lambda *a, **k: list(method(*a, **k))
        return method  # type: ignore[no-any-return]

    def close(self) -> None:
        self.hook.close()


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, emulator: Any) -> Iterator[Any]:
    """The hook's public surface, once through the sync methods and once through the async twins."""
    hook = MathpixHook()
    facade = SyncApi(hook) if request.param == "sync" else AsyncTwins(hook)
    yield facade
    facade.close()
