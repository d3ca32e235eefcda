"""Reliability tests: each finding of the adversarial run, reproduced against real parts.

The emulator (fault injection, ``listing_lag``) and the small hostile loopback servers of
``hostile.py`` stand in for a sick Mathpix; nothing of the provider is mocked.
"""

from __future__ import annotations

import json as _json
import sys
from pathlib import Path
from typing import Any as _Any

import pytest as _pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # make ``tests.system.support`` importable

from tests.system.support import airflow_db, emulator, pdf_server, s3_emulator, s3_server

__all__ = ["airflow_db", "emulator", "pdf_server", "s3_emulator", "s3_server"]


@_pytest.fixture(scope="session")
def gcs_server() -> _Any:
    from airflow_provider_mathpix.testing.storage_servers import gcs_emulator_server

    with gcs_emulator_server() as server:
        yield server


@_pytest.fixture(scope="session")
def azure_server() -> _Any:
    from airflow_provider_mathpix.testing.storage_servers import azurite_server

    with azurite_server() as server:
        yield server


#: The key used against hostile servers; every test checks it never comes back out.
SECRET = "mpx-REL-secret-key-7d1f2a"


def connect(monkeypatch: _pytest.MonkeyPatch, url: str, *, password: str = SECRET, **extra: _Any) -> None:
    """Point ``mathpix_default`` at ``url`` (fast retries unless ``extra`` says otherwise)."""
    settings = {"max_retries": 2, "retry_max_wait": 0.01, "timeout": 5, **extra}
    conn = {"conn_type": "mathpix", "host": url, "login": "rel-app", "password": password, "extra": settings}
    monkeypatch.setenv("AIRFLOW_CONN_MATHPIX_DEFAULT", _json.dumps(conn))
