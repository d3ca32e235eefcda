"""Fixtures for the bucket tests: real storage emulators, fresh buckets per test.

The three servers (moto S3, gcp-storage-emulator, Azurite) are session-scoped
subprocesses: starting them costs seconds, buckets cost milliseconds, so each test
gets its own uniquely named buckets instead of its own server.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # make ``tests.system.support`` importable

# Before anything imports gcsfs: no gRPC bucket-type lookups against the GCS emulator.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

# Initialise Airflow before any provider module: when ``airflow_provider_mathpix.exceptions``
# is the first import of a process, Airflow's initialisation loads get_provider_info(),
# which imports hooks._connection -> exceptions while it is still half-imported (circular
# import, reported to the hook/package owners). Test modules here import in either order.
import airflow  # noqa: F401

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


# ---------------------------------------------------------------------- Mathpix emulator with buckets
@pytest.fixture(scope="session")
def all_storage(
    s3_server: StorageServer, gcs_server: StorageServer, azure_server: StorageServer
) -> dict[str, StorageServer]:
    return {"s3": s3_server, "gs": gcs_server, "azure": azure_server}


@pytest.fixture(scope="session")
def _bucket_emulator_session(all_storage: dict[str, StorageServer]) -> Iterator[Any]:
    from airflow_provider_mathpix.testing import MathpixEmulator
    from airflow_provider_mathpix.testing.storage_servers import merged_bucket_store_config

    with MathpixEmulator(storage=merged_bucket_store_config(all_storage)) as emu:
        yield emu


@pytest.fixture
def bucket_emulator(
    _bucket_emulator_session: Any, all_storage: dict[str, StorageServer], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The Mathpix emulator reading/writing the three storage emulators, fresh state per test.

    ``mathpix_default`` and the three default storage connections point at them.
    """
    from tests.system.support import connection_uri_env

    _bucket_emulator_session.reset()
    for server in all_storage.values():
        for key, value in server.airflow_env.items():
            monkeypatch.setenv(key, value)
    for key, value in connection_uri_env(_bucket_emulator_session.url).items():
        monkeypatch.setenv(key, value)
    yield _bucket_emulator_session
    _bucket_emulator_session.reset()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    from tests.system.support import init_airflow_db

    init_airflow_db()


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    from tests.system.support import make_pdf

    return make_pdf(1, "Bucket sample")


@pytest.fixture(autouse=True)
def _quiet_azure_sdk_logs() -> None:
    """The Azure SDK logs every request and response at INFO; keep failures readable."""
    import logging

    logging.getLogger("azure").setLevel(logging.WARNING)
