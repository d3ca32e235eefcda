"""The provider reaches Airflow only through ``_compat`` (so it runs on 2.11 to 3.3).

The version matrix (``make compat``, ``tests/compat/``) proves the provider works on each
release; this guard keeps a direct ``airflow.sdk`` import, which Airflow 2 lacks, from
creeping back in between matrix runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from airflow_provider_mathpix import _compat

PACKAGE = Path(_compat.__file__).parent


def _runtime_sdk_imports(path: Path) -> list[str]:
    """``airflow.sdk`` imports executed at runtime (``if TYPE_CHECKING:`` blocks excluded)."""
    tree = ast.parse(path.read_text())
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow.sdk"):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} from {node.module}")
        if isinstance(node, ast.Import):
            found += [
                f"{path}:{node.lineno} import {a.name}"
                for a in node.names
                if a.name.startswith("airflow.sdk")
            ]
    return found


def test_no_module_imports_airflow_sdk_at_runtime_except_compat():
    offenders = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "_compat.py"
        for hit in _runtime_sdk_imports(path)
    ]
    assert offenders == [], "import these through airflow_provider_mathpix._compat:\n" + "\n".join(offenders)


def test_example_dags_import_through_common_compat():
    examples = PACKAGE.parent / "example_dags"
    offenders = [hit for path in sorted(examples.glob("*.py")) for hit in _runtime_sdk_imports(path)]
    assert offenders == []


def test_connection_not_found_is_recognised_for_core_and_sdk_classes():
    from airflow.exceptions import AirflowNotFoundException as Core
    from airflow.sdk.exceptions import AirflowNotFoundException as Sdk

    assert _compat.is_connection_not_found(Core("The conn_id `x` isn't defined"))
    assert _compat.is_connection_not_found(Sdk("The conn_id `x` isn't defined"))
    assert not _compat.is_connection_not_found(KeyError("x"))


@pytest.mark.parametrize("native", [True, False], ids=["native-amask_secret", "thread-fallback"])
async def test_amask_secret_masks_on_every_path(native, monkeypatch):
    """Airflow >= 3.3 masks natively; older releases run the sync masker in a thread."""
    import airflow.sdk.log as sdk_log
    from airflow.sdk.log import redact

    if not native:
        monkeypatch.delattr(sdk_log, "amask_secret")
    secret = f"compat-secret-{'native' if native else 'thread'}-0123456789"
    await _compat.amask_secret(secret)
    assert secret not in str(redact(f"key={secret}"))
