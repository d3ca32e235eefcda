"""Operator, sensor and trigger tests share the DAG-run fixtures of ``tests/system/support.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # make ``tests.system.support`` importable

from tests.system.support import airflow_db, emulator, pdf_server, s3_emulator, s3_server

__all__ = ["airflow_db", "emulator", "pdf_server", "s3_emulator", "s3_server"]
