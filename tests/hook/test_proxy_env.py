"""The hook honours the proxy environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) like httpx.

Real parts: a loopback forward proxy (stdlib, threaded) forwards absolute-form requests
to the emulator and records what it saw; for an ``https://`` API it records the
``CONNECT host:443`` line and answers 502, which proves the route without TLS. Proxy
URLs carry credentials: neither they nor the app_key may show in an error or a log.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks._transport import environment_proxies
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.triggers.mathpix import MathpixJobTrigger
from tests.reliability.hostile import HostileServer, Request, trickle

from .conftest import APP_KEY, FAST_RETRIES, DocServer, set_connection

PROXY_USER = "proxy-user-q7"
PROXY_PASS = "pr0xy-Pa55-w0rd"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "transfer-encoding"}


class ForwardProxy:
    """A loopback forward proxy: absolute-form requests go on to their origin, CONNECT gets a 502."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []  # (method, request target, headers)
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen.append((self.command, self.path, headers))
                target = urlsplit(self.path)
                if not target.scheme:  # origin-form: the client took us for the API itself
                    self._reply(400, b"not a proxy request")
                    return
                length = int(headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
                path = target.path + (f"?{target.query}" if target.query else "")
                forwarded = {k: v for k, v in headers.items() if k not in HOP_BY_HOP}
                upstream.request(self.command, path, body=body, headers=forwarded)
                resp = upstream.getresponse()
                data = resp.read()
                upstream.close()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def do_CONNECT(self) -> None:
                seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                self._reply(502, b"")
                self.close_connection = True

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, *, credentials: bool = True) -> str:
        auth = f"{PROXY_USER}:{PROXY_PASS}@" if credentials else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def targets(self) -> list[str]:
        return [f"{method} {target}" for method, target, _ in self.seen]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    yield server
    server.close()


@pytest.fixture
def another_proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    yield server
    server.close()


def _proxy_auth() -> str:
    return "Basic " + base64.b64encode(f"{PROXY_USER}:{PROXY_PASS}".encode()).decode()


def _texts(exc: BaseException) -> str:
    """Everything an error shows: message, repr, its whole chain and the formatted traceback."""
    parts: list[str] = ["".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def _assert_no_secrets(text: str) -> None:
    for secret in (APP_KEY, PROXY_PASS, PROXY_USER, base64.b64encode(PROXY_PASS.encode()).decode()):
        assert secret not in text


async def _aget_job(job_id: str) -> dict[str, Any]:
    return await MathpixHook().aget_job(job_id)


def _get_job(mode: str, job_id: str) -> dict[str, Any]:
    if mode == "sync":
        with MathpixHook() as hook:
            return hook.get_job(job_id)
    import asyncio

    return asyncio.run(_aget_job(job_id))


def _submit_job(doc_server: DocServer, pdf: bytes, job_id: str) -> None:
    items = [{"source_uri": doc_server.url(f"/{job_id}.pdf", pdf), "custom_id": "doc-0"}]
    with MathpixHook() as hook:
        hook.submit_job(items, job_id=job_id)


# --------------------------------------------------------------------------- the same semantics as httpx

ENVIRONMENTS: list[dict[str, str]] = [
    {},
    {"HTTP_PROXY": "http://p:1"},
    {"https_proxy": "p:3128"},  # no scheme: http:// is meant
    {"ALL_PROXY": "socks5://s:1080", "HTTPS_PROXY": "https://u:pw@p:443"},
    {"http_proxy": "http://lower:1", "HTTP_PROXY": "http://upper:1"},  # lowercase wins
    {"http_proxy": "", "HTTP_PROXY": "http://upper:1"},  # an empty lowercase one unsets it
    {"HTTP_PROXY": "", "HTTPS_PROXY": "http://p:1"},
    {"HTTP_PROXY": "http://p:1", "REQUEST_METHOD": "GET"},  # CGI: HTTP_PROXY may come from a client
    {"http_proxy": "http://p:1", "REQUEST_METHOD": "GET"},
    {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "localhost, .example.com,example.org,127.0.0.1,::1"},
    {"all_proxy": "http://p:1", "no_proxy": "192.168.0.0/16,http://direct.example:8080,,"},
    {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com,*"},  # "*" anywhere: no proxy at all
    {"NO_PROXY": "example.com", "no_proxy": "other.example"},
]


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda env: json.dumps(env))
def test_the_proxy_map_is_the_one_httpx_builds(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from httpx._utils import get_environment_proxies  # httpx's own reading, as the oracle

    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert environment_proxies() == get_environment_proxies()


def test_a_changed_environment_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://first:1")
    assert environment_proxies() == {"https://": "http://first:1"}
    monkeypatch.setenv("HTTPS_PROXY", "http://second:1")
    assert environment_proxies() == {"https://": "http://second:1"}
    monkeypatch.setenv("NO_PROXY", "*")
    assert environment_proxies() == {}
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("NO_PROXY")
    assert environment_proxies() == {}


# --------------------------------------------------------------------------- routes through a real proxy


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_calls_go_through_the_proxy(
    mode: str,
    variable: str,
    emulator: Any,
    proxy: ForwardProxy,
    doc_server: DocServer,
    sample_pdf: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, proxy.url())
    _submit_job(doc_server, sample_pdf, "job-proxied")
    job = _get_job(mode, "job-proxied")

    assert job["job_id"] == "job-proxied"
    assert f"GET {emulator.url}/files/v1/jobs/job-proxied" in proxy.targets()
    assert all(target.startswith(("POST http://", "GET http://")) for target in proxy.targets())
    assert all(headers.get("proxy-authorization") == _proxy_auth() for _, _, headers in proxy.seen)


async def test_one_async_client_keeps_its_route(
    emulator: Any, proxy: ForwardProxy, another_proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The route is chosen when the client is built: polls do not read the environment again."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    async with MathpixHook() as hook:
        with pytest.raises(MathpixAPIError):
            await hook.aget_job("first")
        monkeypatch.setenv("HTTP_PROXY", another_proxy.url())
        with pytest.raises(MathpixAPIError):
            await hook.aget_job("second")
    assert [t.rsplit("/", 1)[1] for t in proxy.targets()] == ["first", "second"]
    assert another_proxy.seen == []
    with pytest.raises(MathpixAPIError):
        await MathpixHook().aget_job("third")  # a new client: the new environment
    assert another_proxy.targets() == [f"GET {emulator.url}/files/v1/jobs/third"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_environment_is_read_again_for_each_new_client(
    mode: str,
    emulator: Any,
    proxy: ForwardProxy,
    another_proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    with pytest.raises(MathpixAPIError):
        _get_job(mode, "one")
    monkeypatch.delenv("HTTP_PROXY")
    with pytest.raises(MathpixAPIError):
        _get_job(mode, "two")
    monkeypatch.setenv("HTTP_PROXY", another_proxy.url())
    with pytest.raises(MathpixAPIError):
        _get_job(mode, "three")
    assert proxy.targets() == [f"GET {emulator.url}/files/v1/jobs/one"]
    assert another_proxy.targets() == [f"GET {emulator.url}/files/v1/jobs/three"]
    assert emulator.stats()["requests"] >= 3


@pytest.mark.parametrize(
    ("variable", "exempt"),
    [("NO_PROXY", "127.0.0.1"), ("no_proxy", "example.com, 127.0.0.1"), ("NO_PROXY", "*")],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_proxy_exempts_the_host(
    mode: str, variable: str, exempt: str, emulator: Any, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv(variable, exempt)
    with pytest.raises(MathpixAPIError) as info:
        _get_job(mode, "direct")
    assert info.value.code == "not_found"  # the emulator answered
    assert proxy.seen == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_proxy_by_host_name(
    mode: str, emulator: Any, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, f"http://localhost:{urlsplit(emulator.url).port}")
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv("NO_PROXY", "localhost")
    with pytest.raises(MathpixAPIError) as info:
        _get_job(mode, "by-name")
    assert info.value.code == "not_found"
    assert proxy.seen == []
    monkeypatch.setenv("NO_PROXY", "example.com")  # a proxy for every host but that one
    with pytest.raises(MathpixAPIError):
        _get_job(mode, "by-name")
    assert proxy.targets() == [f"GET http://localhost:{urlsplit(emulator.url).port}/files/v1/jobs/by-name"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_without_proxy_variables_calls_go_direct(
    mode: str, emulator: Any, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())  # only for https://: this API is http://
    with pytest.raises(MathpixAPIError) as info:
        _get_job(mode, "plain")
    assert info.value.code == "not_found"
    monkeypatch.delenv("HTTPS_PROXY")
    with pytest.raises(MathpixAPIError):
        _get_job(mode, "plain")
    assert proxy.seen == []
    assert emulator.stats()["requests"] == 2


async def test_a_trigger_polls_through_the_proxy(
    emulator: Any,
    proxy: ForwardProxy,
    doc_server: DocServer,
    sample_pdf: bytes,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _submit_job(doc_server, sample_pdf, "job-polled")
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    trigger = MathpixJobTrigger("job-polled", "mathpix_default", poll_interval=0.1, end_time=time.time() + 30)
    events = [event.payload async for event in trigger.run()]

    assert [(e["kind"], e["status"]) for e in events] == [("job_finished", "success")]
    polls = [t for t in proxy.targets() if t == f"GET {emulator.url}/files/v1/jobs/job-polled"]
    assert polls and len(polls) == len(proxy.seen)
    _assert_no_secrets(caplog.text + json.dumps(events))


# --------------------------------------------------------------------------- https: a CONNECT tunnel


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_https_goes_through_a_connect_tunnel(
    mode: str,
    variable: str,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    set_connection(monkeypatch, "https://api.mathpix.com", extra={**FAST_RETRIES, "max_retries": 1})
    monkeypatch.setenv(variable, proxy.url())
    with pytest.raises(MathpixAPIError) as info:
        _get_job(mode, "tunnelled")

    assert info.value.code == "connection_error"
    assert "502" in info.value.message and "HTTPS_PROXY" in info.value.message
    assert proxy.targets() == ["CONNECT api.mathpix.com:443"] * 2  # one retry
    for _, _, headers in proxy.seen:
        assert headers.get("proxy-authorization") == _proxy_auth()
        assert APP_KEY not in json.dumps(headers)  # the key travels inside the tunnel only
    _assert_no_secrets(_texts(info.value) + caplog.text)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_unreachable_proxy_is_a_clear_error_without_credentials(
    mode: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    set_connection(monkeypatch, "https://api.mathpix.com", extra={**FAST_RETRIES, "max_retries": 1})
    monkeypatch.setenv("HTTPS_PROXY", f"http://{PROXY_USER}:{PROXY_PASS}@127.0.0.1:{port}")
    with pytest.raises(MathpixAPIError) as info:
        _get_job(mode, "unreachable")
    assert info.value.code == "connection_error"
    _assert_no_secrets(_texts(info.value) + caplog.text)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_unusable_proxy_url_is_named_not_shown(
    mode: str, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", f"ftp://{PROXY_USER}:{PROXY_PASS}@127.0.0.1:21")
    set_connection(monkeypatch, "https://api.mathpix.com")
    with pytest.raises(MathpixValidationError) as info:
        _get_job(mode, "never-sent")
    assert "HTTPS_PROXY" in str(info.value)
    _assert_no_secrets(_texts(info.value))


# --------------------------------------------------------------------------- the deadline, proxied


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_request_timeout_holds_through_a_trickling_proxy(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    holder: list[HostileServer] = []
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"{" * 100_000

    def behave(req: Request, sock: socket.socket) -> None:
        trickle(sock, answer, per_byte=0.3, stop=holder[0].stop)

    with HostileServer(behave) as slow_proxy:
        holder.append(slow_proxy)
        extra = {"timeout": 5, "request_timeout": 1, "max_retries": 0}
        set_connection(monkeypatch, "http://127.0.0.1:9", extra=extra)  # never reached: the proxy answers
        monkeypatch.setenv("HTTP_PROXY", slow_proxy.url)
        with pytest.raises(MathpixAPIError) as info:
            _get_job(mode, "slow")
    assert info.value.code == "timeout"
    assert "request_timeout" in info.value.message
    assert [r.target for r in slow_proxy.requests] == ["http://127.0.0.1:9/files/v1/jobs/slow"]
