"""Options of /uri, upload and job calls: known keys, the typo guard, per-field rules.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_mathpix.contract.callbacks import (
    validate_callback_events,
    validate_callback_headers,
    validate_callback_url,
)
from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.formats import validate_conversion_formats
from airflow_provider_mathpix.contract.ids import validate_id
from airflow_provider_mathpix.contract.uris import classify_uri

#: Per-file keys (an item of a job, or a single /uri submission).
ITEM_KEYS = frozenset(
    {
        "source_uri",
        "custom_id",
        "destination_uri",
        "destination_basename",
        "filename",
        "s3_region",
        "page_ranges",
    }
)

#: Options that apply to a whole job call (and to single files too).
COMMON_OPTION_KEYS = frozenset(
    {
        "conversion_formats",
        "image_output_mode",
        "metadata",
        "callback_url",
        "callback_headers",
        "callback_events",
    }
)

#: OCR options Mathpix documents for ``/v3/pdf``, ``/v3/text`` and ``/v3/batch`` (and its
#: client mpxpy sends). Never refused by the typo guard; the list stays open-ended (an
#: option not named here and not a near miss of one passes through too).
KNOWN_OCR_OPTIONS = frozenset(
    {
        "alphabets_allowed",
        "rm_spaces",
        "rm_fonts",
        "idiomatic_eqn_arrays",
        "idiomatic_braces",
        "include_equation_tags",
        "include_smiles",
        "include_inchi",
        "include_chemistry_as_image",
        "include_diagram_text",
        "include_detected_alphabets",
        "include_line_data",
        "include_word_data",
        "include_geometry_data",
        "include_page_info",
        "include_page_breaks",
        "include_hyperlinks",
        "numbers_default_to_math",
        "math_fonts_default_to_math",
        "math_inline_delimiters",
        "math_display_delimiters",
        "enable_spell_check",
        "enable_tables_fallback",
        "enable_blue_hsv_filter",
        "auto_number_sections",
        "remove_section_numbering",
        "preserve_section_numbering",
        "fullwidth_punctuation",
        "disable_itemize",
        "disable_lstlisting",
        "conversion_options",
        "confidence_threshold",
        "confidence_rate_threshold",
        "auto_rotate_confidence_threshold",
        "data_options",
        "tags",
    }
)

#: Every key this module knows by name; other keys pass through as OCR options.
_KNOWN_KEYS = (
    ITEM_KEYS | COMMON_OPTION_KEYS | KNOWN_OCR_OPTIONS | {"job_id", "files", "urls", "formats", "callback"}
)

_PAGE_RANGE_ITEM_RE = re.compile(r"\s*(-?\d+)\s*(?:(-)\s*(-?\d+)?\s*)?")


def check_not_a_typo(key: str, where: str, known: frozenset[str] = _KNOWN_KEYS) -> None:
    """Reject a key that is a near miss of a known one (``conversion_format``).

    A known option is never refused (a distance alone would refuse real options that
    resemble each other, like ``confidence_rate_threshold``); an unknown key passes
    through unless it is a near miss, since a misspelt option would otherwise be
    silently ignored by the server: a wasted, billed conversion.
    """
    if key in known:
        return
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.85)
    if close:
        raise InvalidInput(f"{where}: unknown option {key!r}; did you mean {close[0]!r}?")


def validate_page_ranges(value: object, field: str = "page_ranges") -> str:
    """``page_ranges`` in every form ``/v3/pdf`` takes: ``"2,4-6"``, ``"2 - -2"``, ``"-1"``, ``"3-"``.

    Comma-separated pages or ranges, 1-based and inclusive; a negative number counts from
    the end (``-1`` is the last page), so ``"2--2"`` is the second to the next-to-last page.
    """
    rule = "pages N, ranges N-M or N- (negative numbers count from the end), e.g. '1-3,5' or '2 - -2'"
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be a string of {rule}")
    for part in value.split(","):
        m = _PAGE_RANGE_ITEM_RE.fullmatch(part)
        if not m:
            raise InvalidInput(f"{field} {value!r}: {part.strip()!r} is not one of {rule}")
        start = int(m.group(1))
        end = start if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
        if start == 0 or end == 0:
            raise InvalidInput(f"{field} {value!r}: pages are numbered from 1 (or from -1 at the end)")
        if end is not None and (start > 0) == (end > 0) and end < start:
            raise InvalidInput(f"{field} {value!r}: {part.strip()!r} ends before it starts")
    return value


def validate_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be a non-empty string")
    return value


def validate_json_mapping(value: object, field: str) -> None:
    """A mapping that becomes JSON as it is (no sets, bytes, datetimes, objects or NaN)."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be a mapping")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} must be JSON-serialisable ({exc})") from None


def validate_options(
    options: Mapping[str, Any], where: str, *, allow_item_keys: bool, loopback_callbacks: bool = False
) -> dict[str, Any]:
    """Validate options shared by /uri, upload and job calls; return a JSON-ready copy.

    ``allow_item_keys`` is False for job-wide options, where per-file keys
    (``source_uri``, ``custom_id``, ...) belong on each item instead.
    """
    out: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue  # an unset optional argument, not a value to send
        field = f"{where}.{key}" if where else key
        if not allow_item_keys and key in ITEM_KEYS:
            raise InvalidInput(f"{field} is a per-file key; set it on each item, not job-wide")
        if key in ("job_id", "files", "urls"):
            raise InvalidInput(f"{field} cannot be passed as an option here")
        check_not_a_typo(key, where or "options")
        if key == "conversion_formats":
            value = validate_conversion_formats(value, field)
        elif key == "image_output_mode":
            if value != "local":
                raise InvalidInput(f"{field} must be 'local' (or unset), got {value!r}")
        elif key == "metadata":
            validate_json_mapping(value, field)
        elif key == "callback_url":
            value = validate_callback_url(value, field, loopback_callbacks=loopback_callbacks)
        elif key == "callback_headers":
            value = validate_callback_headers(value, field)
        elif key == "callback_events":
            value = validate_callback_events(value, field)
        elif key in ITEM_KEYS:
            value = validate_item_field(key, value, field)
        out[key] = value
    if ("callback_headers" in out or "callback_events" in out) and "callback_url" not in out:
        raise InvalidInput(f"{where or 'options'}: callback_headers/callback_events need callback_url")
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{where or 'options'} must be JSON-serialisable: {exc}") from None
    return out


def validate_item_field(key: str, value: object, field: str) -> object:
    if key == "source_uri":
        classify_uri(value, field)
    elif key == "destination_uri":
        classify_uri(value, field, require_key=False)
    elif key == "custom_id":
        validate_id(value, field)
    elif key == "page_ranges":
        validate_page_ranges(value, field)
    elif key == "destination_basename":
        text = validate_text(value, field)
        if text.startswith("/") or ".." in text.split("/"):
            raise InvalidInput(f"{field} {text!r} must be a relative name without '..'")
    else:  # filename, s3_region
        validate_text(value, field)
    return value
