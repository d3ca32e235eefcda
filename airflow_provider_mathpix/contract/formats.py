"""Conversion formats: the ``conversion_formats`` keys and the extension each downloads under.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from airflow_provider_mathpix.contract.errors import InvalidInput

#: The ``conversion_formats`` keys the contract lists (same as POST /v3/pdf). ``mmd`` is always
#: produced. Mathpix adds formats over time, so other keys pass through with a warning.
CONVERSION_FORMATS = frozenset(
    {
        "md",
        "docx",
        "html",
        "latex",
        "tex.zip",
        "pdf",
        "latex.pdf",
        "pptx",
        "xlsx",
        "md.zip",
        "mmd.zip",
        "html.zip",
        "jpg",
        "png",
    }
)

#: A format downloaded under another extension: ``latex`` is one ``.tex`` file.
_DOWNLOAD_EXT = {"latex": "tex"}

_FORMAT_KEY_RE = re.compile(r"[a-z0-9]+(\.[a-z0-9]+)*\Z")

_warned_formats: set[str] = set()


def download_ext(conversion_format: str) -> str:
    """The extension a conversion format downloads under (``latex`` → ``tex``; else itself)."""
    return _DOWNLOAD_EXT.get(conversion_format, conversion_format)


def conversion_format_of(ext: str) -> str:
    """The ``conversion_formats`` key behind a download extension (``tex`` → ``latex``; else itself)."""
    return next((fmt for fmt, known in _DOWNLOAD_EXT.items() if known == ext), ext)


def validate_conversion_formats(value: object, field: str = "conversion_formats") -> dict[str, bool]:
    """A mapping of known format keys to booleans (``{"docx": True, "md": True}``)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        if not all(isinstance(key, str) for key in value):
            raise InvalidInput(f"{field} as a list must hold format names such as 'docx'")
        value = dict.fromkeys(value, True)  # convenience: ["docx", "md"]
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be a mapping like {{'docx': True}}")
    out: dict[str, bool] = {}
    for key, flag in value.items():
        if not isinstance(key, str) or not _FORMAT_KEY_RE.match(key):
            raise InvalidInput(f"{field} key {key!r} must be a format name such as 'docx' or 'tex.zip'")
        if key not in CONVERSION_FORMATS and key not in _warned_formats:
            _warned_formats.add(key)  # once per process: Mathpix may know formats this release does not
            logging.getLogger(__name__).warning(
                "%s: %r is not a format this provider knows (%s); sending it to Mathpix as given",
                field,
                key,
                ", ".join(sorted(CONVERSION_FORMATS)),
            )
        if not isinstance(flag, bool):
            raise InvalidInput(f"{field}[{key!r}] must be true or false")
        out[key] = flag
    return out
