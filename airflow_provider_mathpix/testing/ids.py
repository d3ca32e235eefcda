"""Identifiers the emulator hands out, and the opaque listing cursor.

A ``file_id`` is a UUID-shaped string whose last group is the record's sequence
number in the store, and whose first groups are random per emulator state. So a
200,000-file job stores no id strings and no id → record dictionary: the id is
formatted on the way out and parsed on the way in. Ids from an earlier state
(before a reset) do not parse and are simply ``not_found``.
"""

from __future__ import annotations

import base64
import re
import secrets

_FILE_ID_RE = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3})-([0-9a-f]{12})\Z")


def new_prefix() -> str:
    """The random part shared by a store's file ids (version-4 UUID layout)."""
    raw = secrets.token_hex(12)
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-{'89ab'[int(raw[16], 16) % 4]}{raw[17:20]}"


def format_file_id(prefix: str, seq: int) -> str:
    """Sequence number → ``file_id``."""
    return f"{prefix}-{seq:012x}"


def parse_file_id(prefix: str, file_id: str) -> int | None:
    """``file_id`` → sequence number, or None when it is not one of this store's ids."""
    m = _FILE_ID_RE.match(file_id)
    if not m or m.group(1) != prefix:
        return None
    return int(m.group(2), 16)


def new_job_id() -> str:
    """A server-made job id (when the caller gives none)."""
    return f"job-{secrets.token_hex(8)}"


def new_data_source_id() -> str:
    """A data source's id."""
    return f"ds_{secrets.token_hex(8)}"


def encode_cursor(position: int) -> str:
    """An opaque ``next_page_token`` for a position in an ordered index."""
    return base64.urlsafe_b64encode(f"p:{position}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> int | None:
    """The position behind a ``paging_state``, or None when the token is not ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not raw.startswith("p:") or not raw[2:].isdigit():
        return None
    return int(raw[2:])
