"""The emulator's imports follow its layer table (``testing/layers.py``), read as source.

Pure AST: nothing under ``testing/`` is imported, so a cycle or an upward import is
found even where Python would tolerate it (``if TYPE_CHECKING:`` blocks and imports
inside functions count like any other).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "airflow_provider_mathpix"
TESTING = Path(__file__).resolve().parents[2] / PACKAGE / "testing"


def _table() -> tuple[tuple[str, ...], dict[str, str]]:
    tree = ast.parse((TESTING / "layers.py").read_text())
    values = {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return tuple(values["LAYER_ORDER"]), dict(values["LAYERS"])


def _modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(), str(path)) for path in sorted(TESTING.glob("*.py"))}


def _imports(tree: ast.Module, names: set[str]) -> list[tuple[int, str, list[str]]]:
    """``(line, target, imported names)`` per import; the target is a module of ``testing``
    (``__init__`` for the package itself) or ``provider:<dotted name>``."""
    out: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.extend(_target(node.lineno, alias.name, [], names))
        elif isinstance(node, ast.ImportFrom):
            imported = [alias.name for alias in node.names]
            if node.level:
                if node.level > 1:
                    out.append((node.lineno, f"provider:{'.' * node.level}{node.module or ''}", imported))
                elif node.module is None:
                    for name in imported:
                        out.append((node.lineno, name if name in names else "__init__", []))
                else:
                    out.append((node.lineno, node.module.split(".")[0], imported))
            elif node.module is not None:
                for line, target, _ in _target(node.lineno, node.module, imported, names):
                    if target == "__init__" and all(name in names for name in imported):
                        out.extend((line, name, []) for name in imported)
                    else:
                        out.append((line, target, imported))
    return out


def _target(line: int, dotted: str, imported: list[str], names: set[str]) -> list[tuple[int, str, list[str]]]:
    parts = dotted.split(".")
    if parts[0] != PACKAGE:
        return []
    if len(parts) < 2 or parts[1] != "testing":
        return [(line, f"provider:{dotted}", imported)]
    return [(line, parts[2] if len(parts) > 2 else "__init__", imported)]


def _graph() -> dict[str, list[tuple[int, str, list[str]]]]:
    modules = _modules()
    return {name: _imports(tree, set(modules)) for name, tree in modules.items()}


def test_the_layer_table_names_every_module_once() -> None:
    order, layers = _table()
    modules = set(_modules())
    assert sorted(modules - set(layers)) == [], "modules missing from testing/layers.py"
    assert sorted(set(layers) - modules) == [], "testing/layers.py names modules that do not exist"
    assert sorted({layer for layer in layers.values()} - set(order)) == []


def test_the_layer_table_module_imports_nothing() -> None:
    tree = _modules()["layers"]
    assert [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))] == []


def test_no_module_imports_a_higher_layer() -> None:
    order, layers = _table()
    rank = {layer: i for i, layer in enumerate(order)}
    upward = [
        f"{module} ({layers[module]}) line {line} imports {target} ({layers[target]})"
        for module, edges in _graph().items()
        for line, target, _ in edges
        if target in layers and rank[layers[target]] > rank[layers[module]]
    ]
    assert upward == []


def test_the_emulator_imports_no_provider_module() -> None:
    outside = [
        f"{module} line {line} imports {target.removeprefix('provider:')}"
        for module, edges in _graph().items()
        for line, target, _ in edges
        if target.startswith("provider:")
    ]
    assert outside == []


def test_no_module_imports_an_underscore_name_from_another() -> None:
    private = [
        f"{module} line {line} imports {name} from {target}"
        for module, edges in _graph().items()
        for line, target, imported in edges
        for name in imported
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
    ]
    assert private == []


def test_the_imports_form_no_cycle() -> None:
    graph = {
        module: sorted({t for _, t, _ in edges if t in _table()[1] and t != module})
        for module, edges in _graph().items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in graph.get(module, []):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert [" -> ".join(cycle) for cycle in cycles] == []
