"""Start the storage emulators on free loopback ports and set up buckets in them.

Three servers stand in for the three clouds: a moto S3 server, ``gcp-storage-emulator``
and Azurite (Node.js), each a subprocess (see :mod:`.processes`).

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
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .buckets import make_azure_client, make_gcs_client, make_s3_client
from .connection_env import (
    AZURITE_ACCOUNT,
    GCS_PROJECT,
    S3_ACCESS_KEY,
    S3_REGION,
    S3_SECRET_KEY,
    azure_connection_env,
    azurite_connection_string,
    gcs_connection_env,
    s3_connection_env,
)
from .processes import STARTUP_TIMEOUT, StorageServerError, find_azurite, free_port, running, start_process

#: the module ``seeded_moto_s3_server`` runs as its subprocess
SEEDED_MOTO_MODULE = "airflow_provider_mathpix.testing.seeded_moto"


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


@contextlib.contextmanager
def moto_s3_server(host: str = "127.0.0.1") -> Iterator[StorageServer]:
    """A moto S3 server subprocess (``python -m moto.server``)."""
    port = free_port(host)
    endpoint = f"http://{host}:{port}"
    proc, log_path = start_process(
        [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
        f"{endpoint}/moto-api/",
        "moto-s3",
        env={"MOTO_ALLOW_NONEXISTENT_REGION": "true"},
    )
    server = _s3_server(endpoint, proc, log_path)
    with running(proc, log_path):
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
        args = [host, str(port), bucket, prefix, str(count), body_name]
        proc, log_path = start_process(
            [sys.executable, "-m", SEEDED_MOTO_MODULE, *args],
            f"{endpoint}/moto-api/",
            "moto-s3-seeded",
            env={"MOTO_ALLOW_NONEXISTENT_REGION": "true"},
            timeout=STARTUP_TIMEOUT + count / 500,
        )
    finally:
        os.unlink(body_name)
    server = _s3_server(endpoint, proc, log_path)
    with running(proc, log_path):
        yield server


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
    proc, log_path = start_process(
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
    with running(proc, log_path):
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
    proc, log_path = start_process(
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
    with running(proc, log_path):
        yield server


def merged_bucket_store_config(servers: dict[str, StorageServer]) -> dict[str, Any]:
    """One BucketStore config covering every running server."""
    config: dict[str, Any] = {}
    for server in servers.values():
        config.update(server.bucket_store_config)
    return config


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
    return make_s3_client(server.bucket_store_config["s3"])


def _gcs_admin(server: StorageServer) -> Any:
    return make_gcs_client(server.bucket_store_config["gs"])


def _azure_admin(server: StorageServer) -> Any:
    return make_azure_client(server.bucket_store_config["azure"])
