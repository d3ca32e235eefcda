"""A document's title from its Markdown, for the demo's summary of the warehouse table."""

from __future__ import annotations

import re

TITLE_MAX = 200

_LATEX_TITLE = re.compile(r"\\title\{(?P<title>[^{}]*)\}")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>.+?)\s*#*\s*$")


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
