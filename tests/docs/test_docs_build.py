"""The documentation site builds with ``mkdocs build --strict`` (every warning is an error).

Strict mode turns a broken nav entry, a dead link or anchor, and a snippet include
(``--8<--``) whose example DAG does not exist into failures, so the docs cannot drift
from the code they include.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

#: Every error code of the API contract (mathpix-api.md's error table and the v3 codes).
API_ERROR_CODES = (
    "bad_request",
    "unauthorized",
    "forbidden",
    "data_source_access_denied",
    "not_found",
    "data_source_not_found",
    "format_not_ready",
    "conflict",
    "unsupported_format",
    "quota_exceeded",
    "storage_throttled",
    "http_unauthorized",
    "http_max_requests",
    "sys_exception",
    "connection_closed",
)


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for entry in nav for page in _nav_pages(entry)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def _config() -> dict[str, object]:
    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may use !!python/name tags in extensions; this test only reads the nav.
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    return dict(yaml.load((REPO / "mkdocs.yml").read_text(), Loader=Loader))


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "WARNING" not in result.stderr, result.stderr
    assert (site / "index.html").exists()


def test_every_docs_page_is_in_the_nav() -> None:
    nav = set(_nav_pages(_config()["nav"]))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages - nav == set(), "pages missing from mkdocs.yml nav"
    assert nav - pages == set(), "nav entries without a page"


def test_example_dags_are_included_not_copied() -> None:
    """Every ```python block that shows a whole example DAG must be a snippet include."""
    for page in DOCS.rglob("*.md"):
        text = page.read_text()
        for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
            if "with DAG(" in block or "@dag(" in block:
                raise AssertionError(f"{page.name} copies a DAG instead of including example_dags/")
    index = (DOCS / "index.md").read_text()
    assert '--8<-- "example_dags/example_mathpix_flagship.py"' in index


def test_troubleshooting_covers_every_api_error_code() -> None:
    text = (DOCS / "troubleshooting.md").read_text()
    missing = [code for code in API_ERROR_CODES if f"`{code}`" not in text]
    assert missing == []


def test_getting_started_gives_the_two_commands() -> None:
    text = (DOCS / "getting-started.md").read_text()
    assert "make demo" in text and "make test" in text


def test_every_included_snippet_says_where_its_code_is() -> None:
    """On a plain Markdown viewer an include is one literal line: the page names the file above it."""
    for page in DOCS.rglob("*.md"):
        text = page.read_text()
        for note, target in re.findall(r"(?:^(.*)\n\n)?```python\n--8<-- \"([^\"]+)\"", text, flags=re.M):
            path, _, section = target.partition(":")
            assert f"`{path}`" in note, f"{page.name}: say where {target} is, above its include"
            assert not section or f"`{section}`" in note, f"{page.name}: name section {section}"


def test_operators_page_documents_every_operator() -> None:
    import importlib
    import inspect

    from airflow_provider_mathpix import get_provider_info
    from airflow_provider_mathpix._compat import BaseOperator

    modules = [m for entry in get_provider_info()["operators"] for m in entry["python-modules"]]
    names = {
        name
        for module_name in modules
        for name, obj in vars(importlib.import_module(module_name)).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseOperator)
        and obj.__module__ == module_name
        and not name.startswith("_")
    }
    text = (DOCS / "operators.md").read_text()
    missing = sorted(n for n in names if f"## {n}" not in text)
    assert names and missing == [], f"docs/operators.md has no section for {missing}"
