"""Suite-wide setup: an isolated AIRFLOW_HOME, set before anything imports Airflow.

Area-specific fixtures live in each folder's own conftest.py (tests/contract,
tests/hook, tests/operators, tests/storage, tests/system, tests/e2e).
"""

from __future__ import annotations

import os
import tempfile

_HOME = tempfile.mkdtemp(prefix="mathpix-airflow-home-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault(
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    f"sqlite:///{os.path.join(os.environ['AIRFLOW_HOME'], 'airflow.db')}",
)
