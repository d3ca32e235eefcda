"""Fixtures for the bucket tests: real storage emulators, fresh buckets per test.

The three servers (moto S3, gcp-storage-emulator, Azurite) are session-scoped
subprocesses: starting them costs seconds, buckets cost milliseconds, so each test
gets its own uniquely named buckets instead of its own server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

# Before anything imports gcsfs: no gRPC bucket-type lookups against the GCS emulator.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from airflow_provider_mathpix.testing.storage_servers import (
    StorageServer,
    azurite_server,
    create_bucket,
    gcs_emulator_server,
    moto_s3_server,
)

CLOUDS = ("s3", "gs", "azure")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[StorageServer]:
    with moto_s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[StorageServer]:
    with gcs_emulator_server() as server:
        yield server


@pytest.fixture(scope="session")
def azure_server() -> Iterator[StorageServer]:
    with azurite_server() as server:
        yield server


@pytest.fixture(params=CLOUDS)
def storage_server(request: pytest.FixtureRequest) -> StorageServer:
    """Each of the three clouds in turn."""
    name = {"s3": "s3_server", "gs": "gcs_server", "azure": "azure_server"}[request.param]
    server: StorageServer = request.getfixturevalue(name)
    return server


@pytest.fixture
def make_bucket() -> Callable[[StorageServer, str], str]:
    """Create a uniquely named bucket (lowercase, valid on all three clouds) and return its name."""

    def make(server: StorageServer, label: str = "b") -> str:
        name = f"{label}-{uuid.uuid4().hex[:12]}"
        create_bucket(server, name)
        return name

    return make


@pytest.fixture
def storage_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[StorageServer], None]:
    """Point Airflow's default storage connections at a server (env vars, undone after the test)."""

    def apply(server: StorageServer) -> None:
        for key, value in server.airflow_env.items():
            monkeypatch.setenv(key, value)

    return apply
