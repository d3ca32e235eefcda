"""Contract-test fixtures: plain httpx against the emulator, plus local document and webhook servers.

No provider code is imported here: these tests pin the HTTP contract of
``mathpix-api.md`` as the emulator serves it. Helpers live in ``mathpix_contract.py``
(this folder is put on ``sys.path`` because pytest runs with ``--import-mode=importlib``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from mathpix_contract import APP_KEY, DocServer, PNG_1x1, Receiver, make_docx, make_pdf


@pytest.fixture(scope="session")
def doc_server() -> Iterator[DocServer]:
    routes: dict[str, tuple[int, bytes, str]] = {
        "/three-pages.pdf": (
            200,
            make_pdf(["Alpha page one", "Beta page two", "Gamma page three"]),
            "application/pdf",
        ),
        "/one-page.pdf": (200, make_pdf(["Single page E = mc^2"]), "application/pdf"),
        "/report.docx": (200, make_docx(["Quarterly report", "Revenue grew"]), "application/octet-stream"),
        "/notes.txt": (200, b"just some plain text, not a document\n", "text/plain"),
        "/pixel.png": (200, PNG_1x1, "image/png"),
    }
    server_state = DocServer("", routes)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            server_state.hits[path] = server_state.hits.get(path, 0) + 1
            status, body, ctype = server_state.routes.get(path, (404, b"not here", "text/plain"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    server_state.base = f"http://127.0.0.1:{srv.server_port}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server_state
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.calls.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "raw": raw,
                    "json": json.loads(raw),
                }
            )
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    state.url = f"http://127.0.0.1:{srv.server_port}/hook"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def client(mathpix_emulator: Any) -> Iterator[httpx.Client]:
    """An httpx client on the emulator with a valid app_key."""
    with httpx.Client(base_url=mathpix_emulator.url, headers={"app_key": APP_KEY}, timeout=60) as c:
        yield c
