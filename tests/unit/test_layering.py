"""The provider's layers, enforced: imports only go down, and no module reaches into another
package's private modules or names.

Read from the source with ``ast`` (nothing is imported), so a violation is found even in a
module no test imports. Imports under ``if TYPE_CHECKING:`` count: a type-only import
against the direction is still coupling. ``docs/architecture.md`` draws the same table.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_mathpix"

#: Bottom to top: a module may import its own layer and the layers below, never above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("contract", ("contract",)),
    ("airflow base", ("exceptions", "_compat")),
    ("hooks", ("hooks",)),
    (
        "storage",
        (
            "storage",
            "prefix_walk",
            "incremental",
            "local_source",
            "ledger",
            "manifests",
            "lineage",
            "pricing",
        ),
    ),
    ("triggers", ("triggers",)),
    ("common", ("common",)),
    ("operators and sensors", ("operators", "sensors")),
    ("demo", ("demo",)),
]
#: Same layer, still apart: operators and sensors share code only through ``common``.
APART = {("operators", "sensors"), ("sensors", "operators")}
#: Modules outside the layers: the package root (it must import nothing, Airflow reads it
#: while importing itself) and the emulator, an island that imports nothing of the provider.
ISLANDS = ("testing",)
#: Underscore modules every layer may import: the one place Airflow's moving names are bridged.
SHARED_PRIVATE = {"_compat"}

#: Files allowed past the size rule, each with its reason.
LONG_FILES: dict[str, str] = {
    "airflow_provider_mathpix/operators/jobs.py": (
        "the job operator alone (its checks, walks, waits and results are in common/); "
        "its class docstring documents every argument where Airflow's UI and help() show them"
    ),
}
MAX_LINES = 500


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(module: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """``(imported module, imported names, line)`` for every import in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target, [alias.name for alias in node.names], node.lineno


def _unit(module: str) -> str | None:
    """The first name under the package (``hooks`` for ``airflow_provider_mathpix.hooks._send``)."""
    parts = module.split(".")
    return parts[1] if parts[0] == PACKAGE and len(parts) > 1 else None


def _layer(unit: str | None) -> int | None:
    for index, (_, units) in enumerate(LAYERS):
        if unit in units:
            return index
    return None


def _resolve(target: str, names: list[str]) -> list[str]:
    """``from pkg import mod`` imports a module: count the module, not just the package."""
    resolved = []
    for name in names or [""]:
        candidate = f"{target}.{name}" if name else target
        path = ROOT / Path(*candidate.split("."))
        resolved.append(candidate if path.with_suffix(".py").exists() or path.is_dir() else target)
    return resolved


def _violations() -> list[str]:
    found = []
    for module, path in _modules():
        unit = _unit(module)
        here = _layer(unit)
        for target, names, line in _imports(module, path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if unit == "contract" and target.split(".")[0] not in (PACKAGE, *sys.stdlib_module_names):
                found.append(f"{where}: the contract imports {target} (stdlib only)")
                continue
            if not target.startswith(PACKAGE + ".") and target != PACKAGE:
                continue
            for imported in _resolve(target, names):
                other = _unit(imported)
                if other is None or other == unit:  # inside one package, private parts are shared
                    continue
                if unit in ISLANDS or other in ISLANDS:
                    if not (unit == "demo" and other == "testing"):
                        found.append(f"{where}: {module} imports {imported} across the emulator's border")
                    continue
                theirs = _layer(other)
                if here is not None and theirs is not None and theirs > here:
                    found.append(
                        f"{where}: {module} ({LAYERS[here][0]}) imports {imported} ({LAYERS[theirs][0]})"
                    )
                if (unit, other) in APART:
                    found.append(f"{where}: {module} imports {imported}; share it through common")
                private = [p for p in imported.split(".")[1:] if p.startswith("_") and p != "__init__"]
                if private and other not in SHARED_PRIVATE:
                    found.append(f"{where}: {module} imports the private module {imported}")
                for name in names:
                    if name.startswith("_") and not name.startswith("__"):
                        found.append(f"{where}: {module} imports the private name {name} from {imported}")
    return sorted(set(found))


def test_every_module_is_in_a_layer():
    units = {_unit(m) for m, _ in _modules()} - {None}
    known = {u for _, us in LAYERS for u in us} | set(ISLANDS) | {"py"}
    assert sorted(units - known) == []


def test_imports_only_go_down():
    assert _violations() == []


def test_the_layering_check_sees_a_violation(tmp_path, monkeypatch):
    """A check that cannot fail proves nothing: plant an upward import and a private one."""
    fake = tmp_path / PACKAGE
    for unit in ("hooks", "operators", "contract"):
        (fake / unit).mkdir(parents=True)
        (fake / unit / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "operators" / "_helper.py").write_text("")
    (fake / "hooks" / "up.py").write_text("from airflow_provider_mathpix.operators import _helper\n")
    (fake / "contract" / "impure.py").write_text("import httpx\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = "\n".join(_violations())
    assert "(hooks) imports airflow_provider_mathpix.operators._helper (operators and sensors)" in found
    assert "private module airflow_provider_mathpix.operators._helper" in found
    assert "the contract imports httpx" in found


@pytest.mark.parametrize("module,path", list(_modules()), ids=lambda v: str(v))
def test_no_module_is_long_without_a_reason(module, path):
    relative = str(path.relative_to(ROOT))
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES or relative in LONG_FILES, f"{relative} has {lines} lines (> {MAX_LINES})"
