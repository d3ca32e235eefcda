"""Pure rules of the Mathpix contract: identifiers, URIs, request bodies, errors, retries.

Nothing here imports Airflow or does I/O, so every rule of ``mathpix-api.md`` is tested
in microseconds and shared by the hook, the operators and the storage walker. This is
the ONE place that builds request bodies: the hook only sends what these functions
return. Every rejection raises :class:`MathpixValidationError` naming the field and the
rule, so a DAG author learns what to fix before a request is ever sent.
"""

from __future__ import annotations

import datetime
import difflib
import email.utils
import hashlib
import ipaddress
import itertools
import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from airflow_provider_mathpix.exceptions import MathpixValidationError

#: Identifiers (``custom_id``, ``job_id``, ``Idempotency-Key``): the contract's charset and length.
MAX_ID_LENGTH = 256
_ID_RE = re.compile(r"[A-Za-z0-9_\-.:]+")
_ID_BAD_CHAR_RE = re.compile(r"[^A-Za-z0-9_\-.:]")
#: Hex digits of SHA-256 appended when a key had to be changed: 64 bits keep collisions
#: improbable (~1e-8 at a million keys) while leaving most of the 256 chars readable.
_KEY_HASH_LENGTH = 16

T = TypeVar("T")


def validate_id(value: object, field: str) -> str:
    """Return ``value`` if it is a valid Mathpix identifier, else raise naming ``field``.

    Why here and not on the server: a rejected id in a 200,000-item job would fail the
    whole call; catching it before the request names the offending field at once.
    """
    if not isinstance(value, str):
        raise MathpixValidationError(f"{field} must be a string, got {type(value).__name__}")
    if not value:
        raise MathpixValidationError(f"{field} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise MathpixValidationError(
            f"{field} is {len(value)} characters long; at most {MAX_ID_LENGTH} are allowed"
        )
    if not _ID_RE.fullmatch(value):
        bad = sorted(set(_ID_BAD_CHAR_RE.findall(value)))
        raise MathpixValidationError(
            f"{field} {value!r} contains characters outside [A-Za-z0-9_\\-.:]: {''.join(bad)!r}"
        )
    return value


def custom_id_from_key(key: str) -> str:
    """Derive a stable, valid ``custom_id`` from an object key (or any string).

    A key that is already valid is returned unchanged, so ids stay predictable. Otherwise
    every disallowed character becomes ``_`` and, because that mapping (and truncation to
    256 characters) can make two keys collide, a short SHA-256 of the ORIGINAL key is
    appended: ``reports/2024/a b.pdf`` -> ``reports_2024_a_b.pdf-<16 hex>``. Stable across
    runs and processes, so a re-run re-submits the same ``custom_id`` and Mathpix
    deduplicates instead of charging twice.
    """
    if not isinstance(key, str) or not key:
        raise MathpixValidationError("key must be a non-empty string to derive a custom_id")
    if len(key) <= MAX_ID_LENGTH and _ID_RE.fullmatch(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:_KEY_HASH_LENGTH]
    readable = _ID_BAD_CHAR_RE.sub("_", key)[: MAX_ID_LENGTH - _KEY_HASH_LENGTH - 1]
    return f"{readable}-{digest}"


# --------------------------------------------------------------------------- URIs

#: Schemes Mathpix can read from / write to. ``azure`` is an ``https://`` URL whose host
#: is ``{account}.blob.core.windows.net``: it needs a registered data source, unlike a
#: plain public ``https://`` URL.
URI_KINDS = ("s3", "gs", "azure", "https")
_AZURE_HOST_RE = re.compile(r"[a-z0-9]{3,24}\.blob\.core\.windows\.net", re.IGNORECASE)
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_WHITESPACE_RE = re.compile(r"\s")


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (the only hosts plain http may reach)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def classify_uri(uri: object, field: str, *, require_key: bool = True) -> str:
    """Return the kind of a source/destination URI (one of :data:`URI_KINDS`), else raise.

    ``require_key``: a source names an object (``s3://bucket/key``), a destination may be a
    bare bucket or prefix. ``http://`` is accepted only for loopback hosts: the real API
    rejects it, a local emulator serves test documents that way, and no remote host ever
    sees an unencrypted fetch this provider asked for.
    """
    if not isinstance(uri, str) or not uri:
        raise MathpixValidationError(f"{field} must be a non-empty string URI")
    if _WHITESPACE_RE.search(uri):
        raise MathpixValidationError(f"{field} {uri!r} must not contain whitespace")
    scheme = uri[:2].lower()
    if scheme in ("s3", "gs") and uri[2:5] == "://":
        # Split by hand, not urlsplit: object keys may hold '?' and '#', which are not a
        # query or fragment here (and this runs once per item of million-file jobs).
        bucket, _, key = uri[5:].partition("/")
        if not bucket:
            raise MathpixValidationError(f"{field} {uri!r} has no bucket ({scheme}://bucket/key)")
        if require_key and not key.strip("/"):
            raise MathpixValidationError(f"{field} {uri!r} names a bucket but no object key")
        return scheme
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and is_loopback_host(parts.hostname)):
        if not parts.hostname:
            raise MathpixValidationError(f"{field} {uri!r} has no host")
        if scheme == "https" and _AZURE_HOST_RE.fullmatch(parts.hostname):
            segments = [s for s in parts.path.split("/") if s]
            if not segments:
                raise MathpixValidationError(
                    f"{field} {uri!r} is an Azure Blob URL without a container "
                    "(https://{account}.blob.core.windows.net/{container}/{blob})"
                )
            if require_key and len(segments) < 2:
                raise MathpixValidationError(f"{field} {uri!r} names an Azure container but no blob")
            return "azure"
        return "https"
    raise MathpixValidationError(
        f"{field} {uri!r} uses an unsupported scheme; use s3://, gs://, "
        "https://{account}.blob.core.windows.net/... or a public https:// URL"
    )


# --------------------------------------------------------------------------- options

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


CALLBACK_EVENTS = frozenset({"file.completed", "file.error", "job.completed"})
_FORBIDDEN_CALLBACK_HEADERS = frozenset(
    {"host", "content-type", "content-length", "transfer-encoding", "connection", "user-agent"}
)
MAX_CALLBACK_HEADERS = 10
MAX_CALLBACK_HEADER_BYTES = 4096
_PAGE_RANGE_ITEM_RE = re.compile(r"\s*(-?\d+)\s*(?:(-)\s*(-?\d+)?\s*)?")

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


def _check_not_a_typo(key: str, where: str, known: frozenset[str] = _KNOWN_KEYS) -> None:
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
        raise MathpixValidationError(f"{where}: unknown option {key!r}; did you mean {close[0]!r}?")


def validate_conversion_formats(value: object, field: str = "conversion_formats") -> dict[str, bool]:
    """A mapping of known format keys to booleans (``{"docx": True, "md": True}``)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        if not all(isinstance(key, str) for key in value):
            raise MathpixValidationError(f"{field} as a list must hold format names such as 'docx'")
        value = dict.fromkeys(value, True)  # convenience: ["docx", "md"]
    if not isinstance(value, Mapping):
        raise MathpixValidationError(f"{field} must be a mapping like {{'docx': True}}")
    out: dict[str, bool] = {}
    for key, flag in value.items():
        if not isinstance(key, str) or not _FORMAT_KEY_RE.match(key):
            raise MathpixValidationError(
                f"{field} key {key!r} must be a format name such as 'docx' or 'tex.zip'"
            )
        if key not in CONVERSION_FORMATS and key not in _warned_formats:
            _warned_formats.add(key)  # once per process: Mathpix may know formats this release does not
            logging.getLogger(__name__).warning(
                "%s: %r is not a format this provider knows (%s); sending it to Mathpix as given",
                field,
                key,
                ", ".join(sorted(CONVERSION_FORMATS)),
            )
        if not isinstance(flag, bool):
            raise MathpixValidationError(f"{field}[{key!r}] must be true or false")
        out[key] = flag
    return out


def validate_callback_url(
    url: object, field: str = "callback_url", *, loopback_callbacks: bool = False
) -> str:
    """HTTPS only, and never a private, loopback or link-local address (SSRF guard).

    ``loopback_callbacks``: the hook sets it only when the API itself is on a loopback
    host (a local emulator), so tests can receive webhooks on 127.0.0.1 while a real
    Mathpix is never handed a private address.
    """
    if not isinstance(url, str) or not url:
        raise MathpixValidationError(f"{field} must be a non-empty https:// URL")
    parts = urlsplit(url)
    if loopback_callbacks and parts.scheme.lower() in ("http", "https") and is_loopback_host(parts.hostname):
        return url
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise MathpixValidationError(f"{field} {url!r} must be an https:// URL with a host")
    host = parts.hostname.lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise MathpixValidationError(f"{field} {url!r} points at a private host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return url
    if not ip.is_global:
        raise MathpixValidationError(f"{field} {url!r} points at a private or reserved address")
    return url


def validate_callback_headers(headers: object, field: str = "callback_headers") -> dict[str, str]:
    """At most 10 headers and 4 KB, none that the delivery itself owns."""
    if not isinstance(headers, Mapping):
        raise MathpixValidationError(f"{field} must be a mapping of header name to value")
    if len(headers) > MAX_CALLBACK_HEADERS:
        raise MathpixValidationError(f"{field} has {len(headers)} headers; at most {MAX_CALLBACK_HEADERS}")
    size = 0
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            raise MathpixValidationError(f"{field} names and values must be non-empty strings")
        lowered = name.lower()
        if lowered in _FORBIDDEN_CALLBACK_HEADERS or lowered.startswith("mathpix-"):
            raise MathpixValidationError(f"{field} may not set {name!r} (reserved for the delivery)")
        size += len(name.encode()) + len(value.encode())
    if size > MAX_CALLBACK_HEADER_BYTES:
        raise MathpixValidationError(f"{field} total {size} bytes; at most {MAX_CALLBACK_HEADER_BYTES}")
    return dict(headers)


def validate_callback_events(events: object, field: str = "callback_events") -> list[str]:
    """A list of event names; ``[]`` is the documented off switch (no delivery, callback_url kept)."""
    if isinstance(events, str) or not isinstance(events, (list, tuple, set, frozenset)):
        raise MathpixValidationError(f"{field} must be a list of {sorted(CALLBACK_EVENTS)} (or [] for none)")
    unknown = [e for e in events if not isinstance(e, str) or e not in CALLBACK_EVENTS]
    if unknown:
        raise MathpixValidationError(
            f"{field} has unknown events {unknown}; known: {sorted(CALLBACK_EVENTS)}"
        )
    return list(events)


def validate_page_ranges(value: object, field: str = "page_ranges") -> str:
    """``page_ranges`` in every form ``/v3/pdf`` takes: ``"2,4-6"``, ``"2 - -2"``, ``"-1"``, ``"3-"``.

    Comma-separated pages or ranges, 1-based and inclusive; a negative number counts from
    the end (``-1`` is the last page), so ``"2--2"`` is the second to the next-to-last page.
    """
    rule = "pages N, ranges N-M or N- (negative numbers count from the end), e.g. '1-3,5' or '2 - -2'"
    if not isinstance(value, str) or not value.strip():
        raise MathpixValidationError(f"{field} must be a string of {rule}")
    for part in value.split(","):
        m = _PAGE_RANGE_ITEM_RE.fullmatch(part)
        if not m:
            raise MathpixValidationError(f"{field} {value!r}: {part.strip()!r} is not one of {rule}")
        start = int(m.group(1))
        end = start if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
        if start == 0 or end == 0:
            raise MathpixValidationError(
                f"{field} {value!r}: pages are numbered from 1 (or from -1 at the end)"
            )
        if end is not None and (start > 0) == (end > 0) and end < start:
            raise MathpixValidationError(f"{field} {value!r}: {part.strip()!r} ends before it starts")
    return value


def _validate_str(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MathpixValidationError(f"{field} must be a non-empty string")
    return value


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
            raise MathpixValidationError(f"{field} is a per-file key; set it on each item, not job-wide")
        if key in ("job_id", "files", "urls"):
            raise MathpixValidationError(f"{field} cannot be passed as an option here")
        _check_not_a_typo(key, where or "options")
        if key == "conversion_formats":
            value = validate_conversion_formats(value, field)
        elif key == "image_output_mode":
            if value != "local":
                raise MathpixValidationError(f"{field} must be 'local' (or unset), got {value!r}")
        elif key == "metadata":
            validate_json_mapping(value, field)
        elif key == "callback_url":
            value = validate_callback_url(value, field, loopback_callbacks=loopback_callbacks)
        elif key == "callback_headers":
            value = validate_callback_headers(value, field)
        elif key == "callback_events":
            value = validate_callback_events(value, field)
        elif key in ITEM_KEYS:
            value = _validate_item_field(key, value, field)
        out[key] = value
    if ("callback_headers" in out or "callback_events" in out) and "callback_url" not in out:
        raise MathpixValidationError(
            f"{where or 'options'}: callback_headers/callback_events need callback_url"
        )
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise MathpixValidationError(f"{where or 'options'} must be JSON-serialisable: {exc}") from None
    return out


def _validate_item_field(key: str, value: object, field: str) -> object:
    if key == "source_uri":
        classify_uri(value, field)
    elif key == "destination_uri":
        classify_uri(value, field, require_key=False)
    elif key == "custom_id":
        validate_id(value, field)
    elif key == "page_ranges":
        validate_page_ranges(value, field)
    elif key == "destination_basename":
        text = _validate_str(value, field)
        if text.startswith("/") or ".." in text.split("/"):
            raise MathpixValidationError(f"{field} {text!r} must be a relative name without '..'")
    else:  # filename, s3_region
        _validate_str(value, field)
    return value


# --------------------------------------------------------------------------- jobs

#: The contract's ceiling per POST /files/v1/jobs call.
MAX_ITEMS_PER_CALL = 200_000
#: The hook's default chunk: well under the ceiling, so one failed call re-sends a
#: modest slice (~10 MB of JSON) rather than 200,000 items.
DEFAULT_MAX_ITEMS_PER_REQUEST = 50_000


def chunked(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield lists of at most ``size`` elements, consuming ``iterable`` lazily.

    Only one chunk is in memory at a time, so a generator of millions of bucket keys
    is never materialised.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise MathpixValidationError(f"chunk size must be a positive integer, got {size!r}")
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def validate_json_mapping(value: object, field: str) -> None:
    """A mapping that becomes JSON as it is (no sets, bytes, datetimes, objects or NaN)."""
    if not isinstance(value, Mapping):
        raise MathpixValidationError(f"{field} must be a mapping")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MathpixValidationError(f"{field} must be JSON-serialisable ({exc})") from None


def validate_max_items_per_request(value: object) -> int:
    if value is None:
        return DEFAULT_MAX_ITEMS_PER_REQUEST
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ITEMS_PER_CALL:
        raise MathpixValidationError(
            f"max_items_per_request must be an integer from 1 to {MAX_ITEMS_PER_CALL}, got {value!r}"
        )
    return value


class JobItemChecker:
    """Validate job items one by one, remembering ``custom_id``s to catch duplicates.

    Stateful but pure (no I/O). It keeps a 16-byte digest per ``custom_id`` rather than
    the id itself: about 90 bytes of memory per item (measured) whatever the id's length,
    so a million-item job is checked in ~90 MB even with 256-character ids.
    ``image_output_mode="local"`` job-wide requires every item to have a ``destination_uri``.
    """

    def __init__(self, *, needs_destination: bool = False) -> None:
        self._seen: set[bytes] = set()
        self._needs_destination = needs_destination
        self.count = 0

    def check(self, item: object, index: int) -> dict[str, Any]:
        if not isinstance(item, Mapping):
            raise MathpixValidationError(f"files[{index}] must be a mapping with a source_uri")
        custom_id = item.get("custom_id")
        where = f"files[{index}]" + (f" (custom_id {custom_id!r})" if custom_id is not None else "")
        if not ITEM_KEYS.issuperset(item):
            unknown = sorted(str(key) for key in item if key not in ITEM_KEYS)
            raise MathpixValidationError(
                f"{where}: unknown key(s) {unknown}; an item may carry {sorted(ITEM_KEYS)}"
            )
        if item.get("source_uri") is None:
            raise MathpixValidationError(f"{where}.source_uri is required")
        out: dict[str, Any] = {}
        for key, value in item.items():
            if value is None:
                continue
            _validate_item_field(key, value, f"{where}.{key}")
            out[key] = value
        if self._needs_destination and "destination_uri" not in out:
            raise MathpixValidationError(f"{where}: image_output_mode='local' needs a destination_uri")
        if custom_id is not None:
            digest = hashlib.blake2b(custom_id.encode(), digest_size=16).digest()
            if digest in self._seen:
                raise MathpixValidationError(
                    f"{where}: custom_id {custom_id!r} appears more than once in this job; "
                    "custom_ids must be unique within a job (an item without one gets a custom_id "
                    "derived from its source_uri, so a source listed twice repeats it)"
                )
            self._seen.add(digest)
        self.count += 1
        return out


def new_job_id() -> str:
    """A client-side job id, so every chunk of one submission appends to the same job."""
    return f"job-{uuid.uuid4().hex}"


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key: makes one call's own retries safe when the caller gave none."""
    return f"idem-{uuid.uuid4().hex}"


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP call, fully built and validated; the hook only sends it.

    ``v3`` marks /v3 endpoints (app_id header, error bodies under HTTP 200).
    ``form`` holds multipart form fields (the file part is added by the hook).
    """

    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None
    headers: Mapping[str, str] = dataclass_field(default_factory=dict)
    v3: bool = False


def _idem_headers(idempotency_key: str | None) -> dict[str, str]:
    if idempotency_key is None:
        return {}
    return {"Idempotency-Key": validate_id(idempotency_key, "idempotency_key")}


def _check_file_ids(options: Mapping[str, Any], where: str) -> None:
    if options.get("custom_id") is not None and options.get("job_id") is None:
        raise MathpixValidationError(f"{where}: custom_id requires job_id (custom_id is per-job)")
    if options.get("job_id") is not None:
        validate_id(options["job_id"], "job_id")
    if options.get("image_output_mode") is not None and options.get("destination_uri") is None:
        raise MathpixValidationError(f"{where}: image_output_mode='local' needs destination_uri")


def submit_file_request(
    source_uri: str, *, idempotency_key: str | None = None, loopback_callbacks: bool = False, **options: Any
) -> ApiRequest:
    """POST /files/v1/uri."""
    classify_uri(source_uri, "source_uri")  # required: never let None vanish as an unset option
    _check_file_ids(options, "submit_file")
    job_id = options.pop("job_id", None)
    body = validate_options(
        {"source_uri": source_uri, **options}, "", allow_item_keys=True, loopback_callbacks=loopback_callbacks
    )
    if job_id is not None:
        body["job_id"] = job_id
    return ApiRequest("POST", "/files/v1/uri", json=body, headers=_idem_headers(idempotency_key))


def upload_file_request(
    filename: str, *, idempotency_key: str | None = None, loopback_callbacks: bool = False, **options: Any
) -> ApiRequest:
    """POST /files/v1 (multipart): form fields ``filename``, ``job_id``, ``custom_id``, ``options_json``."""
    _validate_str(filename, "filename")
    if "source_uri" in options:
        raise MathpixValidationError("upload_file: source_uri is for submit_file; upload sends the bytes")
    _check_file_ids(options, "upload_file")
    job_id = options.pop("job_id", None)
    custom_id = options.pop("custom_id", None)
    rest = validate_options(options, "", allow_item_keys=True, loopback_callbacks=loopback_callbacks)
    form: dict[str, str] = {"filename": filename}
    if job_id is not None:
        form["job_id"] = job_id
    if custom_id is not None:
        form["custom_id"] = validate_id(custom_id, "custom_id")
    if rest:
        form["options_json"] = json.dumps(rest)
    return ApiRequest("POST", "/files/v1", form=form, headers=_idem_headers(idempotency_key))


def job_options(options: Mapping[str, Any], *, loopback_callbacks: bool = False) -> dict[str, Any]:
    """Validate job-wide options once per submission (not once per chunk)."""
    return validate_options(options, "", allow_item_keys=False, loopback_callbacks=loopback_callbacks)


def submit_job_request(job_id: str, files: list[dict[str, Any]], options: Mapping[str, Any]) -> ApiRequest:
    """POST /files/v1/jobs for one chunk; ``files`` already checked by :class:`JobItemChecker`."""
    validate_id(job_id, "job_id")
    if not files:
        raise MathpixValidationError("files must contain at least one item")
    if len(files) > MAX_ITEMS_PER_CALL:
        raise MathpixValidationError(f"files has {len(files)} items; at most {MAX_ITEMS_PER_CALL} per call")
    return ApiRequest("POST", "/files/v1/jobs", json={"job_id": job_id, "files": files, **options})


def _page_params(page_size: object, page_token: str | None, **extra: str | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {k: v for k, v in extra.items() if v is not None}
    if page_size is not None:
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise MathpixValidationError(f"page_size must be a positive integer, got {page_size!r}")
        params["limit"] = page_size
    if page_token is not None:
        params["paging_state"] = page_token
    return params


JOB_FILE_STATUSES = ("pending", "completed", "error")


def job_files_request(
    job_id: str, status: str | None = None, page_size: int | None = None, page_token: str | None = None
) -> ApiRequest:
    """GET /files/v1/jobs/{job_id}/files (one page)."""
    validate_id(job_id, "job_id")
    if status is not None and status not in JOB_FILE_STATUSES:
        raise MathpixValidationError(f"status must be one of {JOB_FILE_STATUSES}, got {status!r}")
    params = _page_params(page_size, page_token, status=status)
    return ApiRequest("GET", f"/files/v1/jobs/{job_id}/files", params=params)


def _validate_day(value: object, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.strftime("%Y-%m-%d")
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise MathpixValidationError(f"{field} must be a date in yyyy-MM-dd form, got {value!r}")
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise MathpixValidationError(f"{field} {value!r} is not a real date") from None
    return value


def jobs_request(
    start: object = None, end: object = None, page_size: int | None = None, page_token: str | None = None
) -> ApiRequest:
    """GET /files/v1/jobs (one page, newest first)."""
    first, last = _validate_day(start, "start"), _validate_day(end, "end")
    if first and last and first > last:
        raise MathpixValidationError(f"start {first} is after end {last}")
    return ApiRequest(
        "GET", "/files/v1/jobs", params=_page_params(page_size, page_token, start=first, end=last)
    )


def simple_request(method: str, template: str, **ids: str) -> ApiRequest:
    """Endpoints whose only inputs are ids in the path (get/finalize/delete/test ...)."""
    values = {name: validate_id(value, name) for name, value in ids.items()}
    return ApiRequest(method, template.format(**values))


_EXT_RE = re.compile(r"[a-z0-9]+(\.[a-z0-9]+)*")


def download_request(file_id: str, ext: str) -> ApiRequest:
    """GET /files/v1/{file_id}.{ext}; a leading dot on ``ext`` is tolerated."""
    validate_id(file_id, "file_id")
    if not isinstance(ext, str) or not _EXT_RE.fullmatch(ext.removeprefix(".")):
        raise MathpixValidationError(f"ext must look like 'md', 'tex.zip' or 'lines.json', got {ext!r}")
    return ApiRequest("GET", f"/files/v1/{file_id}.{ext.removeprefix('.')}")


DATA_SOURCE_PROVIDERS = {
    "aws": {"iam_role", "access_key"},
    "gcp": {"service_account"},
    "azure": {"azure_ad"},
}
#: (provider, auth_method) → the exact ``provider_specific_details`` keys Mathpix takes.
DATA_SOURCE_DETAILS: dict[tuple[str, str], tuple[str, ...]] = {
    ("aws", "iam_role"): ("iam_role_arn", "aws_external_id"),
    ("aws", "access_key"): ("aws_access_key_id",),
    ("azure", "azure_ad"): ("azure_tenant_id", "storage_account"),
    ("gcp", "service_account"): ("gcp_project_id", "target_sa_email"),
}


def create_data_source_request(
    provider: str,
    bucket: str,
    auth_method: str,
    *,
    provider_specific_details: Mapping[str, Any] | None = None,
    name: str | None = None,
    region: str | None = None,
    secret: str | None = None,
) -> ApiRequest:
    """POST /files/v1/data-sources.

    Only ``aws``/``access_key`` (the legacy fallback) carries a ``secret``, and it needs
    ``region``; every other pair is keyless. The secret is never logged or echoed.
    """
    if provider not in DATA_SOURCE_PROVIDERS:
        raise MathpixValidationError(
            f"provider must be one of {sorted(DATA_SOURCE_PROVIDERS)}, got {provider!r}"
        )
    methods = DATA_SOURCE_PROVIDERS[provider]
    if auth_method not in methods:
        raise MathpixValidationError(
            f"auth_method for {provider} must be one of {sorted(methods)}, got {auth_method!r}"
        )
    bucket = _validate_str(bucket, "bucket")
    if "://" in bucket or "/" in bucket.strip("/") or any(c.isspace() for c in bucket):
        raise MathpixValidationError(f"bucket must be a bare bucket (Azure: container) name, got {bucket!r}")
    keys = DATA_SOURCE_DETAILS[(provider, auth_method)]
    if not isinstance(provider_specific_details, Mapping):
        raise MathpixValidationError(
            f"provider_specific_details is required for {provider}/{auth_method}: a mapping of {list(keys)}"
        )
    details = dict(provider_specific_details)
    missing = [k for k in keys if not isinstance(details.get(k), str) or not details.get(k)]
    unknown = sorted(set(details) - set(keys))
    if missing or unknown:
        raise MathpixValidationError(
            f"provider_specific_details for {provider}/{auth_method} takes exactly {list(keys)} "
            f"(non-empty strings); missing: {missing}, unknown: {unknown}"
        )
    body: dict[str, Any] = {
        "provider": provider,
        "bucket": bucket,
        "auth_method": auth_method,
        "provider_specific_details": details,
    }
    if name is not None:
        body["name"] = _validate_str(name, "name")
    if region is not None:
        body["region"] = _validate_str(region, "region")
    if (provider, auth_method) == ("aws", "access_key"):
        if not isinstance(secret, str) or not secret:
            raise MathpixValidationError("secret (the secret access key) is required for aws/access_key")
        if region is None:
            raise MathpixValidationError("region is required for aws/access_key")
        body["secret"] = secret
    elif secret is not None:
        raise MathpixValidationError(
            f"secret is only for aws/access_key; {provider}/{auth_method} is keyless"
        )
    return ApiRequest("POST", "/files/v1/data-sources", json=body)


def test_webhook_request(
    callback_url: str, callback_headers: Mapping[str, str] | None = None, *, loopback_callbacks: bool = False
) -> ApiRequest:
    """POST /files/v1/webhook-config/test."""
    body: dict[str, Any] = {
        "callback_url": validate_callback_url(callback_url, loopback_callbacks=loopback_callbacks)
    }
    if callback_headers is not None:
        body["callback_headers"] = validate_callback_headers(callback_headers)
    return ApiRequest("POST", "/files/v1/webhook-config/test", json=body)


_IMAGE_OPTION_KEYS = frozenset(
    {
        "formats",
        "ocr_behavior",
        "data_options",
        "callback",
        "metadata",
        "alphabets_allowed",
        "confidence_threshold",
        "region",
    }
)


def _validate_image_url(value: object, field: str) -> None:
    kind = classify_uri(value, field)
    if kind not in ("https", "azure"):
        raise MathpixValidationError(f"{field} must be an https:// image URL, got {value!r}")


def _validate_image_options(
    options: Mapping[str, Any], where: str, loopback_callbacks: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        field = f"{where}.{key}" if where else key
        if key == "formats":
            if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
                raise MathpixValidationError(f"{field} must be a non-empty list such as ['text', 'data']")
            value = list(value)
        elif key == "ocr_behavior" and value not in ("latex", "text"):
            raise MathpixValidationError(f"{field} must be 'latex' or 'text', got {value!r}")
        elif key == "confidence_threshold" and (
            not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1
        ):
            raise MathpixValidationError(f"{field} must be a number from 0 to 1, got {value!r}")
        elif key == "callback":
            if not isinstance(value, Mapping) or "post" not in value:
                raise MathpixValidationError(f"{field} must be a mapping like {{'post': 'https://...'}}")
            validate_callback_url(value["post"], f"{field}.post", loopback_callbacks=loopback_callbacks)
            if value.get("headers") is not None:
                validate_callback_headers(value["headers"], f"{field}.headers")
            value = dict(value)
        elif key in ("data_options", "metadata"):
            validate_json_mapping(value, field)
        else:
            _check_not_a_typo(key, where or "options", _IMAGE_OPTION_KEYS | KNOWN_OCR_OPTIONS)
        out[key] = value
    return out


def submit_image_batch_request(
    urls: Mapping[str, Any], *, loopback_callbacks: bool = False, **options: Any
) -> ApiRequest:
    """POST /v3/batch: ``urls`` maps a key to an image URL or to ``{"url", ...per-image options}``."""
    if not isinstance(urls, Mapping) or not urls:
        raise MathpixValidationError("urls must be a non-empty mapping of key -> image URL")
    body_urls: dict[str, Any] = {}
    for key, value in urls.items():
        if not isinstance(key, str) or not key:
            raise MathpixValidationError(f"urls key {key!r} must be a non-empty string")
        if isinstance(value, Mapping):
            if "url" not in value:
                raise MathpixValidationError(f"urls[{key!r}].url is required")
            _validate_image_url(value["url"], f"urls[{key!r}].url")
            per_image = _validate_image_options(
                {k: v for k, v in value.items() if k != "url"}, f"urls[{key!r}]", loopback_callbacks
            )
            body_urls[key] = {"url": value["url"], **per_image}
        else:
            _validate_image_url(value, f"urls[{key!r}]")
            body_urls[key] = value
    body = {"urls": body_urls, **_validate_image_options(options, "", loopback_callbacks)}
    try:
        json.dumps(body)
    except (TypeError, ValueError) as exc:
        raise MathpixValidationError(f"image batch options must be JSON-serialisable: {exc}") from None
    return ApiRequest("POST", "/v3/batch", json=body, v3=True)


def get_image_batch_request(batch_id: int | str) -> ApiRequest:
    if isinstance(batch_id, bool) or not (
        (isinstance(batch_id, int) and batch_id >= 0) or (isinstance(batch_id, str) and batch_id.isdigit())
    ):
        raise MathpixValidationError(f"batch_id must be a non-negative number, got {batch_id!r}")
    return ApiRequest("GET", f"/v3/batch/{batch_id}", v3=True)


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class ErrorInfo:
    """What an error answer said: the machine code and the API's sentence."""

    code: str
    message: str


def parse_error_body(status: int, body: bytes) -> ErrorInfo:
    """Read the error envelope of a non-2xx answer.

    Code from ``error`` (when it is a code-like word) or ``error_info.id``; message from
    ``error_info.message`` or ``message``. A body that is not an envelope (an HTML page
    from a proxy, nothing at all) keeps its HTTP status as ``http_<status>``, so a 502
    from a load balancer is still recognisable and retryable.
    """
    payload = _json_or_none(body)
    if isinstance(payload, dict):
        info = envelope_error(payload)
        if info is not None:
            return info
    snippet = re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", body[:2000].decode("utf-8", "replace"))).strip()
    detail = f": {snippet[:200]}" if snippet else " with an empty body"
    return ErrorInfo(f"http_{status}", f"HTTP {status}{detail}")


_CODE_RE = re.compile(r"[a-z][a-z0-9_]*")


def envelope_error(payload: Mapping[str, Any]) -> ErrorInfo | None:
    """The error carried by a JSON body, or None when it carries none.

    Also used on HTTP 200 answers from /v3, where ``error`` is a sentence and
    ``error_info.id`` the code.
    """
    error = payload.get("error")
    info = payload.get("error_info")
    info = info if isinstance(info, Mapping) else {}
    if not error and not info:
        return None
    info_id = info.get("id")
    if isinstance(info_id, str) and info_id:
        code = info_id
    elif isinstance(error, str) and _CODE_RE.fullmatch(error):
        code = error
    else:
        code = "unknown_error"
    message = (
        info.get("message") or payload.get("message") or (error if isinstance(error, str) else "") or code
    )
    return ErrorInfo(code, str(message))


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


#: Codes worth retrying whatever their status (v3 answers them under HTTP 200; a proxy may
#: rewrite a status): the contract's ``unavailable`` (503), ``internal_error`` (500) and
#: ``storage_throttled`` (503), and v3's own.
RETRYABLE_CODES = frozenset(
    {
        "unavailable",
        "internal_error",
        "storage_throttled",
        "http_max_requests",
        "sys_exception",
        "connection_closed",
    }
)
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Not a failure of the call: a state the caller waits on (retrying the call at
#: transport speed would only burn the retry budget before the conversion ends).
WAITABLE_CODES = frozenset({"format_not_ready"})


def is_retryable(status: int | None, code: str | None) -> bool:
    """Whether a failed call should be repeated by the retry policy.

    ``status`` None means no answer at all (connection error, timeout, dropped
    connection). ``quota_exceeded`` is a 429 that will not clear for weeks.
    """
    if status is None:
        return True
    if code == "quota_exceeded" or code in WAITABLE_CODES:
        return False
    return code in RETRYABLE_CODES or status in RETRYABLE_STATUSES


def parse_retry_after(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        seconds = (when - now).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)
