"""The contract package is pure: it imports in a process where Airflow and httpx cannot be imported."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import airflow_provider_mathpix.contract as contract

#: Run in a fresh interpreter: a finder refuses ``airflow`` and ``httpx`` (and their
#: submodules) before the contract modules are imported, then the provider modules that
#: got loaded are listed.
_PROBE = r"""
import importlib, json, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("airflow", "httpx"):
            raise ImportError(f"{name} is not importable here")
        return None

sys.meta_path.insert(0, Refuse())
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("airflow_provider_mathpix"))))
"""


def test_every_contract_module_imports_without_airflow_or_httpx() -> None:
    modules = [contract.__name__] + [
        f"{contract.__name__}.{info.name}" for info in pkgutil.iter_modules(contract.__path__)
    ]
    assert len(modules) > 10, modules  # the walk found the package's modules
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(modules)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    outside = [
        m for m in loaded if m != "airflow_provider_mathpix" and not m.startswith(f"{contract.__name__}")
    ]
    assert outside == [], f"the contract loaded provider modules outside contract/: {outside}"
    assert set(modules) <= set(loaded)


def test_the_probe_refuses_airflow() -> None:
    """The finder really blocks: importing the exceptions module (which needs Airflow) fails."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(["airflow_provider_mathpix.exceptions"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "airflow is not importable here" in done.stderr
