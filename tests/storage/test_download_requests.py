"""What a download into a bucket asks of the store: one listing, one write per output, no HEAD.

A counting loopback proxy sits in front of the real storage emulator (moto, the GCS
emulator, Azurite) and records every request the download makes; the connection under
test points at the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.operators._download import OutputDownloader, _job_targets
from airflow_provider_mathpix.testing.connection_env import (
    azure_connection_env,
    azurite_connection_string,
    gcs_connection_env,
)
from airflow_provider_mathpix.testing.storage_servers import (
    StorageServer,
    list_keys,
    put_objects,
    read_object,
    s3_connection_env,
)

from .test_download import N_FILES, completed_job  # noqa: F401  (the completed job fixture)


@contextlib.contextmanager
def counting_proxy(upstream: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Forward every request to ``upstream`` and record (method, path?query)."""
    seen: list[tuple[str, str]] = []
    target = urllib.parse.urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            seen.append((self.command, self.path))
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for key, value in resp.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            length_out = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
            self.send_header("Content-Length", length_out or "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()


def _download(job_id: str, destination: Any, **kwargs: Any) -> Any:
    hook = MathpixHook()
    downloader = OutputDownloader(
        hook, destination, str(destination), ["md"], concurrency=4, format_poll_interval=0.1, **kwargs
    )
    return asyncio.run(downloader.run(_job_targets(hook, job_id)))


def _read(server: StorageServer, bucket: str, key: str) -> bytes:
    return read_object(server, bucket, key)


def proxied_env(server: StorageServer, proxy: str, conn_id: str) -> dict[str, str]:
    """A connection ``conn_id`` to ``server``'s cloud that goes through the proxy at ``proxy``."""
    if server.kind == "s3":
        return s3_connection_env(proxy, conn_id)
    if server.kind == "gs":
        return gcs_connection_env(proxy, conn_id)
    account = urllib.parse.urlsplit(server.endpoint_url).path  # Azurite: /<account>
    return azure_connection_env(azurite_connection_string(proxy + account), conn_id)


#: How each cloud's filesystem writes one small object: S3 PutObject and Azure Put Blob are
#: PUTs, a GCS simple upload is a POST to the upload endpoint.
WRITE = {"s3": "PUT", "gs": "POST", "azure": "PUT"}


def test_bucket_writes_are_one_request_each_after_one_listing(
    storage_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    completed_job: dict[str, Any],  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk import ObjectStoragePath

    out = make_bucket(storage_server, "counted")
    scheme = {"s3": "s3", "gs": "gs", "azure": "abfs"}[storage_server.kind]
    write = WRITE[storage_server.kind]
    with counting_proxy(storage_server.endpoint_url) as (proxy, seen):
        for key, value in proxied_env(storage_server, proxy, "counted").items():
            monkeypatch.setenv(key, value)
        dest = ObjectStoragePath(f"{scheme}://{out}/results", conn_id="counted")

        first = _download(completed_job["job_id"], dest)
        assert (first.written, first.skipped, first.failed) == (N_FILES, 0, 0)
        # One listing of the (empty) destination, then one request per output: no HEAD,
        # no stat, no listing per write, no temporary key.
        assert [method for method, _ in seen] == ["GET"] + [write] * N_FILES, seen

        seen.clear()
        again = _download(completed_job["job_id"], dest)
        assert (again.written, again.skipped) == (0, N_FILES)
        assert [method for method, _ in seen] == ["GET"], seen  # the one listing, nothing written

        seen.clear()
        trusted = _download(completed_job["job_id"], dest, trust_existing=True)
        assert (trusted.written, trusted.skipped) == (0, N_FILES)
        assert [method for method, _ in seen] == ["GET"], seen

        # Same size, other bytes: the listed checksum tells them apart, and only that one is rewritten.
        original = _read(storage_server, out, "results/doc-0.pdf.md")
        put_objects(storage_server, out, {"results/doc-0.pdf.md": bytes(len(original))})
        seen.clear()
        repaired = _download(completed_job["job_id"], dest)
        assert (repaired.written, repaired.skipped) == (1, N_FILES - 1)
        assert [method for method, _ in seen] == ["GET", write], seen
        assert _read(storage_server, out, "results/doc-0.pdf.md") == original

    assert sorted(list_keys(storage_server, out)) == sorted(f"results/doc-{i}.pdf.md" for i in range(N_FILES))


def test_a_filesystem_this_loop_cannot_open_is_written_from_threads(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    completed_job: dict[str, Any],  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Storage options that cannot be rebuilt on the download's loop still get every output written."""
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_mathpix.operators._bucket import BucketStore

    async def cannot_open(destination: Any) -> None:
        raise TypeError("unexpected storage option")

    monkeypatch.setattr(BucketStore, "open", cannot_open)
    out = make_bucket(s3_server, "threads")
    for key, value in s3_connection_env(s3_server.endpoint_url, "threads").items():
        monkeypatch.setenv(key, value)
    totals = _download(completed_job["job_id"], ObjectStoragePath(f"s3://{out}/results", conn_id="threads"))
    assert (totals.written, totals.failed) == (N_FILES, 0), [e["reason"] for e in totals.errors_sample]
    assert sorted(list_keys(s3_server, out)) == sorted(f"results/doc-{i}.pdf.md" for i in range(N_FILES))
