"""Fixtures of the real-deployment tests: the backend (Celery + PostgreSQL + Redis, or
LocalExecutor + SQLite where those services are absent) and a running deployment."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from e2e_deployment import (
    Backend,
    celery_postgres_backend,
    local_sqlite_backend,
    postgres_and_redis_available,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def airflow_backend(tmp_path: Path) -> Iterator[Backend]:
    """CeleryExecutor on PostgreSQL + Redis when both answer; LocalExecutor + SQLite otherwise.

    ``MATHPIX_E2E_BACKEND=local`` forces the fallback (to exercise it on a machine that has
    the services); ``=celery`` insists on Celery and fails loudly when the services are absent.
    """
    home = tmp_path / "airflow-home"
    home.mkdir()
    wanted = os.environ.get("MATHPIX_E2E_BACKEND", "auto")
    if wanted == "celery" or (wanted == "auto" and postgres_and_redis_available()):
        factory = celery_postgres_backend()
    else:
        factory = local_sqlite_backend(home)
    with factory as backend:
        print(f"e2e backend: {backend.name}")
        yield backend
