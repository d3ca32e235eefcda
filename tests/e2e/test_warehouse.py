"""The flagship pipeline's warehouse table and title rule (pure, SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_mathpix.demo.warehouse import (
    DocumentRow,
    load_documents,
    read_documents,
    title_from_markdown,
)


@pytest.mark.parametrize(
    ("markdown", "title"),
    [
        ("\\title{On Euler's Identity}\n\nText", "On Euler's Identity"),
        ("# The Basel Problem\n\nEuler solved it.", "The Basel Problem"),
        ("\n\n## Second level ##\nbody", "Second level"),
        ("The Gaussian Integral\nThe Gaussian integral appears...", "The Gaussian Integral"),
        ("plain first line\n# Later heading", "Later heading"),
        ("", ""),
        ("x" * 500, "x" * 200),
    ],
)
def test_title_from_markdown(markdown: str, title: str) -> None:
    assert title_from_markdown(markdown) == title


def test_load_is_an_upsert_by_id(tmp_path: Path) -> None:
    db = tmp_path / "wh" / "warehouse.sqlite"
    first = [DocumentRow("a.pdf", 2, "A", "# A"), DocumentRow("b.pdf", 1, "B", "# B")]
    assert load_documents(db, first) == 2
    assert load_documents(db, [DocumentRow("a.pdf", 3, "A2", "# A2")]) == 1
    assert read_documents(db) == [DocumentRow("a.pdf", 3, "A2", "# A2"), DocumentRow("b.pdf", 1, "B", "# B")]
    assert read_documents(db, ["b.pdf"]) == [DocumentRow("b.pdf", 1, "B", "# B")]
    assert read_documents(db, []) == []
