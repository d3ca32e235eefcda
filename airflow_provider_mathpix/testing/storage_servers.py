"""Start, wait for and stop real storage emulators on free loopback ports.

Three servers stand in for the three clouds: a moto S3 server, ``gcp-storage-emulator``
and Azurite (Node.js). Each runs as its own subprocess, so its memory and CPU never
count against the process under test (the storage benchmarks measure the provider's
RSS), and so a hung server can be killed without taking the test run with it.

Each context manager yields a :class:`StorageServer` carrying what both parties of a
test need:

- ``bucket_store_config``: the config block for the Mathpix emulator's
  :class:`~airflow_provider_mathpix.testing.buckets.BucketStore` (its storage access);
- ``airflow_env``: ``AIRFLOW_CONN_…`` variables (and ``STORAGE_EMULATOR_HOST`` for GCS)
  that point Airflow's default connections (``aws_default``, ``google_cloud_default``,
  ``wasb_default``) at the same server (the DAG author's storage access).

Nothing here imports Airflow: the fixtures can start servers before Airflow loads.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft; not a secret).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"
S3_REGION = "us-east-1"
GCS_PROJECT = "test-project"

STARTUP_TIMEOUT = 60.0
GCSFS_FLAG = "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"


class StorageServerError(RuntimeError):
    """A storage emulator could not be started (the message carries the tail of its log)."""


@dataclass
class StorageServer:
    """A running storage emulator and how to reach it."""

    kind: str  # "s3" | "gs" | "azure"
    endpoint_url: str
    bucket_store_config: dict[str, Any]
    airflow_env: dict[str, str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_path: Path | None = None

    def uri(self, bucket: str, key: str = "") -> str:
        """The Mathpix form of an object URI in this server's storage."""
        if self.kind == "s3":
            return f"s3://{bucket}/{key}"
        if self.kind == "gs":
            return f"gs://{bucket}/{key}"
        return f"https://{AZURITE_ACCOUNT}.blob.core.windows.net/{bucket}/{key}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_azurite() -> str | None:
    """Locate the ``azurite-blob`` executable.

    Looked up in ``$AZURITE_BIN``, then the Makefile's local npm install
    (``.tools/node_modules/.bin`` at the repository root), then ``PATH``.
    """
    explicit = os.environ.get("AZURITE_BIN")
    if explicit and Path(explicit).exists():
        return explicit
    repo_root = Path(__file__).resolve().parents[2]
    for name in ("azurite-blob", "azurite"):
        local = repo_root / ".tools" / "node_modules" / ".bin" / name
        if local.exists():
            return str(local)
    return shutil.which("azurite-blob") or shutil.which("azurite")


# ---------------------------------------------------------------------- process plumbing
def _http_ready(url: str) -> bool:
    """Any HTTP answer (even 4xx) means the server is listening and speaking HTTP."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def _start(
    cmd: list[str],
    ready_url: str,
    name: str,
    env: dict[str, str] | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> tuple[Any, Path]:
    log_fd, log_name = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    log_path = Path(log_name)
    with os.fdopen(log_fd, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StorageServerError(f"{name} exited with {proc.returncode}: {_tail(log_path)}")
        if _http_ready(ready_url):
            return proc, log_path
        time.sleep(0.1)
    _stop(proc)
    raise StorageServerError(f"{name} not ready after {timeout:.0f}s: {_tail(log_path)}")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def _running(server: StorageServer) -> Iterator[StorageServer]:
    try:
        yield server
    finally:
        _stop(server.process)
        if server.log_path is not None:
            with contextlib.suppress(OSError):
                server.log_path.unlink()


def _conn_json(conn_type: str, **fields: Any) -> str:
    return json.dumps({"conn_type": conn_type, **fields})


# ---------------------------------------------------------------------- the three servers
def s3_connection_env(endpoint_url: str, conn_id: str = "aws_default") -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` for an AWS connection pointed at an S3-compatible endpoint."""
    conn = _conn_json(
        "aws",
        login=S3_ACCESS_KEY,
        password=S3_SECRET_KEY,
        extra={"endpoint_url": endpoint_url, "region_name": S3_REGION},
    )
    return {f"AIRFLOW_CONN_{conn_id.upper()}": conn}


def gcs_connection_env(endpoint_url: str, conn_id: str = "google_cloud_default") -> dict[str, str]:
    """A Google connection for the emulator.

    ``gcs.endpoint`` points the ``gs://`` ObjectStoragePath filesystem (gcsfs) at the
    emulator; ``STORAGE_EMULATOR_HOST`` does the same for google-cloud-storage, which
    the google provider's ``GCSHook`` uses; ``is_anonymous`` skips Google auth.
    ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` stops gcsfs (2025.x+) from asking Google's
    gRPC storage-control API for the bucket type, which an emulator does not serve (each
    ``gs://`` call would otherwise wait out a 60 s timeout); it must be set before gcsfs is
    imported.
    """
    conn = _conn_json(
        "google_cloud_platform",
        extra={"is_anonymous": True, "project": GCS_PROJECT, "gcs.endpoint": endpoint_url},
    )
    return {
        f"AIRFLOW_CONN_{conn_id.upper()}": conn,
        "STORAGE_EMULATOR_HOST": endpoint_url,
        GCSFS_FLAG: "false",
    }


def azurite_connection_string(blob_endpoint: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={blob_endpoint};"
    )


def azure_connection_env(connection_string: str, conn_id: str = "wasb_default") -> dict[str, str]:
    """A ``wasb`` connection (used by WasbHook and by ``abfs://`` paths) for Azurite."""
    conn = _conn_json("wasb", extra={"connection_string": connection_string})
    return {f"AIRFLOW_CONN_{conn_id.upper()}": conn}


@contextlib.contextmanager
def moto_s3_server(host: str = "127.0.0.1") -> Iterator[StorageServer]:
    """A moto S3 server subprocess (``python -m moto.server``)."""
    port = free_port(host)
    endpoint = f"http://{host}:{port}"
    proc, log_path = _start(
        [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
        f"{endpoint}/moto-api/",
        "moto-s3",
        env={"MOTO_ALLOW_NONEXISTENT_REGION": "true"},
    )
    with _running(_s3_server(endpoint, proc, log_path)) as server:
        yield server


@contextlib.contextmanager
def seeded_moto_s3_server(
    bucket: str, prefix: str, count: int, body: bytes = b"%PDF-1.4\n%%EOF\n", host: str = "127.0.0.1"
) -> Iterator[StorageServer]:
    """A moto S3 server subprocess that starts with ``count`` objects ``<prefix><i:07d>.pdf`` in ``bucket``.

    Why: uploading through the S3 API costs a request per object (minutes for 100,000+
    objects on a small machine); writing them into moto's backend before the server
    starts takes seconds. The objects are then listed and read over real S3 HTTP.
    """
    port = free_port(host)
    endpoint = f"http://{host}:{port}"
    body_fd, body_name = tempfile.mkstemp(prefix="seed-body-")
    with os.fdopen(body_fd, "wb") as out:
        out.write(body)
    try:
        args = ["seeded-moto", host, str(port), bucket, prefix, str(count), body_name]
        proc, log_path = _start(
            [sys.executable, "-m", __name__, *args],
            f"{endpoint}/moto-api/",
            "moto-s3-seeded",
            env={"MOTO_ALLOW_NONEXISTENT_REGION": "true"},
            timeout=STARTUP_TIMEOUT + count / 500,
        )
    finally:
        os.unlink(body_name)
    with _running(_s3_server(endpoint, proc, log_path)) as server:
        yield server


def _serve_seeded_moto(host: str, port: int, bucket: str, prefix: str, count: int, body_path: str) -> None:
    """Subprocess body of :func:`seeded_moto_s3_server`: seed the backend, then serve until SIGTERM."""
    import signal
    import threading

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    body = Path(body_path).read_bytes()
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    backend.create_bucket(bucket, S3_REGION)
    for i in range(count):
        backend.put_object(bucket, f"{prefix}{i:07d}.pdf", body)
    _index_listing(backend, bucket)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    stop.wait()
    server.stop()


def _index_listing(backend: Any, seeded_bucket: str) -> None:
    """Serve ``ListObjectsV2`` of the seeded bucket from a sorted index (same answers, O(page)).

    moto re-sorts a bucket's every key on each page (O(n log n) per 1,000 keys), which
    makes walking 200,000 keys take many minutes and would dominate the very benchmark
    that measures the walker. The index answers the same pages; any other request (a
    delimiter, another bucket, or the bucket after keys were added) goes to moto as is.
    """
    import bisect
    import hashlib

    original = backend.list_objects_v2
    names = sorted(backend.get_bucket(seeded_bucket).keys.keys())

    def list_objects_v2(
        bucket: Any,
        prefix: str | None,
        delimiter: str | None,
        continuation_token: str | None,
        start_after: str | None,
        max_keys: int,
    ) -> Any:
        if delimiter or bucket.name != seeded_bucket or len(bucket.keys) != len(names) or max_keys <= 0:
            return original(
                bucket=bucket,
                prefix=prefix,
                delimiter=delimiter,
                continuation_token=continuation_token,
                start_after=start_after,
                max_keys=max_keys,
            )
        prefix = prefix or ""
        if continuation_token:
            i = bisect.bisect_right(names, backend._pagination_tokens.get(continuation_token) or "")
        elif start_after:
            i = bisect.bisect_right(names, start_after)
        else:
            i = bisect.bisect_left(names, prefix)
        i = max(i, bisect.bisect_left(names, prefix))
        page: list[Any] = []
        while i < len(names) and len(page) < max_keys and names[i].startswith(prefix):
            page.append(bucket.keys[names[i]])
            i += 1
        truncated = i < len(names) and names[i].startswith(prefix)
        token = None
        if truncated:
            token = hashlib.md5(page[-1].name.encode()).hexdigest()
            backend._pagination_tokens[token] = page[-1].name
        return page, truncated, token

    backend.list_objects_v2 = list_objects_v2


def _s3_server(endpoint: str, proc: subprocess.Popen[bytes], log_path: Path) -> StorageServer:
    return StorageServer(
        kind="s3",
        endpoint_url=endpoint,
        bucket_store_config={
            "s3": {
                "endpoint_url": endpoint,
                "aws_access_key_id": S3_ACCESS_KEY,
                "aws_secret_access_key": S3_SECRET_KEY,
                "region_name": S3_REGION,
            }
        },
        airflow_env=s3_connection_env(endpoint),
        process=proc,
        log_path=log_path,
    )


@contextlib.contextmanager
def gcs_emulator_server(host: str = "127.0.0.1") -> Iterator[StorageServer]:
    """A ``gcp-storage-emulator`` subprocess, in memory."""
    port = free_port(host)
    endpoint = f"http://{host}:{port}"
    proc, log_path = _start(
        [sys.executable, "-m", "gcp_storage_emulator", "start", "-H", host, "--port", str(port), "-M", "-q"],
        f"{endpoint}/storage/v1/b",
        "gcp-storage-emulator",
    )
    server = StorageServer(
        kind="gs",
        endpoint_url=endpoint,
        bucket_store_config={"gs": {"endpoint_url": endpoint, "project": GCS_PROJECT}},
        airflow_env=gcs_connection_env(endpoint),
        process=proc,
        log_path=log_path,
    )
    with _running(server):
        yield server


@contextlib.contextmanager
def azurite_server(host: str = "127.0.0.1", azurite_bin: str | None = None) -> Iterator[StorageServer]:
    """An Azurite blob service subprocess, in memory.

    ``--loose`` and ``--skipApiVersionCheck`` let newer azure-storage-blob clients
    talk to it; ``--disableProductStyleUrl`` keeps the account in the path
    (``http://127.0.0.1:PORT/devstoreaccount1``).
    """
    exe = azurite_bin or find_azurite()
    if exe is None:
        raise StorageServerError(
            "Azurite not found: run `make setup` (installs it into .tools/ with npm) or set AZURITE_BIN"
        )
    port = free_port(host)
    endpoint = f"http://{host}:{port}/{AZURITE_ACCOUNT}"
    proc, log_path = _start(
        [
            exe,
            "--blobHost",
            host,
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
            "--disableProductStyleUrl",
            "--disableTelemetry",
            "--silent",
        ],
        f"http://{host}:{port}/{AZURITE_ACCOUNT}?comp=list",
        "azurite",
    )
    conn_str = azurite_connection_string(endpoint)
    server = StorageServer(
        kind="azure",
        endpoint_url=endpoint,
        bucket_store_config={"azure": {"connection_string": conn_str, "account_name": AZURITE_ACCOUNT}},
        airflow_env=azure_connection_env(conn_str),
        process=proc,
        log_path=log_path,
    )
    with _running(server):
        yield server


SERVER_FACTORIES: dict[str, Callable[[], contextlib.AbstractContextManager[StorageServer]]] = {
    "s3": moto_s3_server,
    "gs": gcs_emulator_server,
    "azure": azurite_server,
}


@contextlib.contextmanager
def storage_servers(kinds: tuple[str, ...] = ("s3", "gs", "azure")) -> Iterator[dict[str, StorageServer]]:
    """Start several servers at once; yields ``{kind: StorageServer}``."""
    with contextlib.ExitStack() as stack:
        yield {kind: stack.enter_context(SERVER_FACTORIES[kind]()) for kind in kinds}


def merged_bucket_store_config(servers: dict[str, StorageServer]) -> dict[str, Any]:
    """One BucketStore config covering every running server."""
    config: dict[str, Any] = {}
    for server in servers.values():
        config.update(server.bucket_store_config)
    return config


def merged_airflow_env(servers: dict[str, StorageServer]) -> dict[str, str]:
    env: dict[str, str] = {}
    for server in servers.values():
        env.update(server.airflow_env)
    return env


# ---------------------------------------------------------------------- bucket setup (test side)
def create_bucket(server: StorageServer, bucket: str) -> None:
    """Create a bucket/container in ``server`` with the vendor client (test setup only)."""
    if server.kind == "s3":
        _s3_admin(server).create_bucket(Bucket=bucket)
    elif server.kind == "gs":
        _gcs_admin(server).create_bucket(bucket)
    else:
        _azure_admin(server).create_container(bucket)


def put_objects(server: StorageServer, bucket: str, objects: dict[str, bytes]) -> None:
    """Upload a few objects for a test (setup only; bulk fixtures use :func:`put_many`)."""
    put_many(server, bucket, objects.items())


def put_many(server: StorageServer, bucket: str, objects: Any, workers: int = 16) -> int:
    """Upload ``(key, bytes)`` pairs with a small thread pool; returns the count."""
    from concurrent.futures import ThreadPoolExecutor

    if server.kind == "s3":
        client = _s3_admin(server)

        def put(item: tuple[str, bytes]) -> None:
            client.put_object(Bucket=bucket, Key=item[0], Body=item[1])
    elif server.kind == "gs":
        gbucket = _gcs_admin(server).bucket(bucket)

        def put(item: tuple[str, bytes]) -> None:
            gbucket.blob(item[0]).upload_from_string(item[1])
    else:
        container = _azure_admin(server).get_container_client(bucket)

        def put(item: tuple[str, bytes]) -> None:
            container.upload_blob(item[0], item[1], overwrite=True)

    count = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(put, objects):
            count += 1
    return count


def list_keys(server: StorageServer, bucket: str, prefix: str = "") -> list[str]:
    """All keys under ``prefix`` (test assertions; small listings only)."""
    if server.kind == "s3":
        pages = _s3_admin(server).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    if server.kind == "gs":
        return [blob.name for blob in _gcs_admin(server).list_blobs(bucket, prefix=prefix)]
    container = _azure_admin(server).get_container_client(bucket)
    return [blob.name for blob in container.list_blobs(name_starts_with=prefix)]


def read_object(server: StorageServer, bucket: str, key: str) -> bytes:
    """One object's bytes (test assertions on what the emulator wrote into a bucket)."""
    if server.kind == "s3":
        return bytes(_s3_admin(server).get_object(Bucket=bucket, Key=key)["Body"].read())
    if server.kind == "gs":
        return bytes(_gcs_admin(server).bucket(bucket).blob(key).download_as_bytes())
    blob = _azure_admin(server).get_blob_client(container=bucket, blob=key)
    return bytes(blob.download_blob().readall())


def _s3_admin(server: StorageServer) -> Any:
    from .buckets import make_s3_client

    return make_s3_client(server.bucket_store_config["s3"])


def _gcs_admin(server: StorageServer) -> Any:
    from .buckets import make_gcs_client

    return make_gcs_client(server.bucket_store_config["gs"])


def _azure_admin(server: StorageServer) -> Any:
    from .buckets import make_azure_client

    return make_azure_client(server.bucket_store_config["azure"])


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "seeded-moto":
        _host, _port, _bucket, _prefix, _count, _body = sys.argv[2:]
        _serve_seeded_moto(_host, int(_port), _bucket, _prefix, int(_count), _body)
    else:
        sys.exit(
            "usage: python -m airflow_provider_mathpix.testing.storage_servers "
            "seeded-moto HOST PORT BUCKET PREFIX COUNT BODY_FILE"
        )
