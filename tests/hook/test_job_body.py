"""Job chunks on the wire: a retried call re-sends the identical bytes, a repeat is refused before its call.

A recording proxy (a real loopback HTTP server) stands between the hook and the emulator
and keeps the body of every ``POST /files/v1/jobs`` it forwards, so what the hook sent
on each attempt is compared byte for byte.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import set_connection


class RecordingProxy:
    """Forwards every request to ``upstream``; records the bodies of job calls.

    An answer the upstream loses (its connection breaks) is lost here too: the proxy
    closes the client's connection without answering.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.bodies: list[bytes] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command == "POST" and self.path.startswith("/files/v1/jobs"):
                    proxy.bodies.append(body)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    answer = conn.getresponse()
                    payload = answer.read()
                except (http.client.HTTPException, OSError):
                    self.close_connection = True  # the answer was lost upstream: lose it here too
                    return
                finally:
                    conn.close()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProxy]:
    recorder = RecordingProxy(emulator.url)
    set_connection(monkeypatch, recorder.url)
    yield recorder
    recorder.close()


def _items(n: int) -> Iterator[dict[str, str]]:
    for i in range(n):
        yield {"source_uri": f"s3://hook-tests/body/{i}.pdf", "custom_id": f"body-{i}"}


@pytest.mark.parametrize("kind", ["503", "drop_after"])
def test_a_retried_chunk_re_sends_the_identical_bytes(
    emulator: Any, proxy: RecordingProxy, kind: str
) -> None:
    # The first call fails once: with a 503, or processed with its answer lost.
    emulator.set_faults([{"kind": kind, "method": "POST", "path": "/files/v1/jobs", "rate": 1.0, "count": 1}])
    with MathpixHook() as hook:
        result = hook.submit_job(_items(7), job_id="body-retry", max_items_per_request=3)
    assert result == {"job_id": "body-retry", "file_count": 7, "calls": 3}
    assert len(proxy.bodies) == 4 and proxy.bodies[0] == proxy.bodies[1]  # the same bytes, re-sent
    chunks = [json.loads(body) for body in proxy.bodies[1:]]
    assert [c["files"] for c in chunks] == [list(_items(7))[i : i + 3] for i in (0, 3, 6)]
    assert {c["job_id"] for c in chunks} == {"body-retry"}
    stats = emulator.stats()
    assert stats["faults_by_kind"] == {kind: 1}
    assert stats["files_created"] == 7  # the job's files are exactly the items
    assert stats["duplicates_absorbed"] == (3 if kind == "drop_after" else 0)
    with MathpixHook() as hook:
        listed = hook.iter_job_files("body-retry")
    assert sorted(f["custom_id"] for f in listed) == sorted(i["custom_id"] for i in _items(7))


def test_a_custom_id_repeated_in_a_later_chunk_is_refused_before_that_chunk_is_sent(
    emulator: Any, proxy: RecordingProxy
) -> None:
    items = [*_items(5), {"source_uri": "s3://hook-tests/body/again.pdf", "custom_id": "body-1"}]
    with MathpixHook() as hook, pytest.raises(MathpixValidationError) as caught:
        hook.submit_job(iter(items), job_id="body-dup", max_items_per_request=3)
    assert "files[5] (custom_id 'body-1')" in str(caught.value)
    assert "appears more than once" in str(caught.value)
    assert len(proxy.bodies) == 1  # chunk 1 went; chunk 2, which carries the repeat, never did
    assert [f["custom_id"] for f in json.loads(proxy.bodies[0])["files"]] == ["body-0", "body-1", "body-2"]
    assert emulator.stats()["files_created"] == 3
