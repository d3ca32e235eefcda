"""Suite-wide setup: an isolated AIRFLOW_HOME, set before anything imports Airflow.

Area-specific fixtures live in each folder's own conftest.py (tests/contract,
tests/hook, tests/operators, tests/storage, tests/system, tests/e2e).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator

import pytest

_HOME = tempfile.mkdtemp(prefix="mathpix-airflow-home-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault(
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    f"sqlite:///{os.path.join(os.environ['AIRFLOW_HOME'], 'airflow.db')}",
)


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own HTTP(S)_PROXY must not carry the tests' loopback calls off to it.

    The hook honours the proxy variables as httpx does; tests that want a proxy set them.
    """
    for scheme in ("http", "https", "all", "no"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)


@pytest.fixture(autouse=True)
def _fresh_object_storage_filesystems() -> Iterator[None]:
    """Forget the filesystems Airflow's ObjectStoragePath built in the previous test.

    ``airflow.sdk.io.store.attach`` keeps one store per ``<protocol>-<conn_id>`` for the
    life of the process, and the store keeps the fsspec filesystem it first built from the
    connection. In a deployment that is harmless: every task try runs in its own process.
    Here one pytest process runs many DAGs, and each test points ``aws_default`` (and the
    GCS/Azure defaults) at its own storage emulator through ``AIRFLOW_CONN_*`` variables;
    without this, a test would write through an ``s3fs`` built for an earlier test's moto
    server, which may have stopped (``EndpointConnectionError``) or hold other buckets.
    """
    _forget_object_stores()  # also what a test module built while being collected
    yield
    _forget_object_stores()


def _forget_object_stores() -> None:
    store = sys.modules.get("airflow.sdk.io.store")  # not imported yet: nothing cached
    if store is not None:
        store._STORE_CACHE.clear()
