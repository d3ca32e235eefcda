"""Fixtures of the real-deployment tests: the backend (Celery + PostgreSQL + Redis, or
LocalExecutor + SQLite where those services are absent) and a running deployment."""

from __future__ import annotations

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
    """CeleryExecutor on PostgreSQL + Redis when both answer; LocalExecutor + SQLite otherwise."""
    home = tmp_path / "airflow-home"
    home.mkdir()
    factory = celery_postgres_backend() if postgres_and_redis_available() else local_sqlite_backend(home)
    with factory as backend:
        print(f"e2e backend: {backend.name}")
        yield backend
