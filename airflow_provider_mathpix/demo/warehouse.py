"""The flagship pipeline's "warehouse": one row per converted document in a SQL table.

SQLite stands in for the customer's warehouse so the demo needs no server; the table
shape (``id``, ``pages``, ``title``, ``markdown``) is what a real load would write.
Loading is an upsert keyed by ``id`` (the document's ``custom_id``), so a retried load
task rewrites the same rows instead of duplicating them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TABLE = "documents"
TITLE_MAX = 200

_LATEX_TITLE = re.compile(r"\\title\{(?P<title>[^{}]*)\}")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>.+?)\s*#*\s*$")


@dataclass(frozen=True)
class DocumentRow:
    """One converted document as the warehouse stores it."""

    id: str
    pages: int
    title: str
    markdown: str


def title_from_markdown(markdown: str) -> str:
    """The document's title: ``\\title{…}`` (Mathpix Markdown), else the first heading,
    else the first non-empty line; at most 200 characters, "" for an empty document."""
    match = _LATEX_TITLE.search(markdown)
    if match and match.group("title").strip():
        return match.group("title").strip()[:TITLE_MAX]
    first = ""
    for line in markdown.splitlines():
        if not line.strip():
            continue
        heading = _HEADING.match(line)
        if heading:
            return heading.group("title").strip()[:TITLE_MAX]
        if not first:
            first = line.strip()
    return first[:TITLE_MAX]


def connect(db_path: str | Path) -> sqlite3.Connection:
    """Open the warehouse and make sure the table exists."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(db_path))
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        "id TEXT PRIMARY KEY, pages INTEGER NOT NULL, title TEXT NOT NULL, markdown TEXT NOT NULL, "
        "loaded_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    return conn


def load_documents(db_path: str | Path, rows: Iterable[DocumentRow]) -> int:
    """Upsert ``rows`` in one transaction; return how many were written."""
    conn = connect(db_path)
    try:
        with conn:
            cursor = conn.executemany(
                f"INSERT INTO {TABLE} (id, pages, title, markdown) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET pages=excluded.pages, title=excluded.title, "
                "markdown=excluded.markdown, loaded_at=CURRENT_TIMESTAMP",
                [(r.id, r.pages, r.title, r.markdown) for r in rows],
            )
            return cursor.rowcount
    finally:
        conn.close()


def read_documents(db_path: str | Path, ids: Iterable[str] | None = None) -> list[DocumentRow]:
    """Rows of the table (all, or those whose id is in ``ids``), ordered by id."""
    conn = connect(db_path)
    try:
        query = f"SELECT id, pages, title, markdown FROM {TABLE}"
        wanted = list(ids) if ids is not None else None
        if wanted is not None:
            query += f" WHERE id IN ({','.join('?' * len(wanted))})"
        rows = conn.execute(query + " ORDER BY id", wanted or []).fetchall()
        return [DocumentRow(*row) for row in rows]
    finally:
        conn.close()
