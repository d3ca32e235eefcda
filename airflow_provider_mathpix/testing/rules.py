"""The contract's request rules as pure functions (no I/O, no state).

Each function either returns the normalised value or raises :class:`ApiError`
(``bad_request``) naming the field and the rule, so contract tests and the routes
share one definition of "valid". See ``mathpix-api.md`` → "Rules that matter".
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError

MAX_ID_LEN = 256
_ID_RE = re.compile(r"[A-Za-z0-9_\-.:]+\Z")
AZURE_HOST_SUFFIX = ".blob.core.windows.net"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_HTTP_RE = re.compile(
    r"(https?)://([A-Za-z0-9.\-]+)(?::\d{1,5})?(/[^?#]*)?(?:[?#].*)?\Z", re.IGNORECASE | re.DOTALL
)

#: Formats every completed file has, requested or not.
ALWAYS_FORMATS: tuple[str, ...] = ("mmd", "lines.json", "lines.mmd.json")
#: Formats a submission may ask for in ``conversion_formats`` (the contract's list; Mathpix adds more).
CONVERTIBLE_FORMATS: tuple[str, ...] = (
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
)
#: A format downloaded under another extension (``latex`` is one ``.tex`` file).
_DOWNLOAD_EXT = {"latex": "tex"}
_FORMAT_OF_EXT = {ext: fmt for fmt, ext in _DOWNLOAD_EXT.items()}
CALLBACK_EVENTS = frozenset({"file.completed", "file.error", "job.completed"})
FORBIDDEN_CALLBACK_HEADERS = frozenset(
    {"host", "content-type", "content-length", "transfer-encoding", "connection", "user-agent"}
)
MAX_CALLBACK_HEADERS = 10
MAX_CALLBACK_HEADER_BYTES = 4096
LISTING_STATUSES = {"pending": 0, "completed": 1, "error": 2}


def bad(message: str) -> ApiError:
    """A ``400 bad_request`` (the one code for a malformed request)."""
    return ApiError("bad_request", message)


def check_identifier(value: Any, field: str) -> str:
    """``custom_id``/``job_id``/``Idempotency-Key``: 1..256 chars of ``[A-Za-z0-9_\\-.:]``."""
    if not isinstance(value, str) or not value:
        raise bad(f"{field} must be a non-empty string")
    if len(value) > MAX_ID_LEN:
        raise bad(f"{field} is {len(value)} characters long; at most {MAX_ID_LEN} are allowed")
    if not _ID_RE.match(value):
        raise bad(f"{field} {value!r} has characters outside [A-Za-z0-9_\\-.:]")
    return value


def optional_identifier(value: Any, field: str) -> str | None:
    """Like :func:`check_identifier`, but ``None`` passes."""
    return None if value is None else check_identifier(value, field)


@dataclass(frozen=True)
class Location:
    """Where a ``source_uri``/``destination_uri`` points.

    ``kind`` is ``"http"`` (public https, or loopback http in the emulator) or
    ``"bucket"``; buckets carry ``provider`` (``aws``/``gcp``/``azure``, Mathpix's
    names), ``bucket`` (the Azure container) and ``account`` (Azure only).
    """

    kind: str
    provider: str | None = None
    bucket: str | None = None
    account: str | None = None


HTTP_LOCATION = Location("http")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def classify_uri(uri: Any, field: str, *, allow_loopback_http: bool = True) -> Location:
    """Sort a URI into the schemes of the contract; any other scheme is ``400 bad_request``."""
    if not isinstance(uri, str) or not uri:
        raise bad(f"{field} is required and must be a non-empty string")
    head = uri[:8].lower()
    if head.startswith("s3://") or head.startswith("gs://"):
        rest = uri[5:]
        bucket = rest.split("/", 1)[0]
        if not bucket:
            raise bad(f"{field} {uri!r} has no bucket name")
        return Location("bucket", "aws" if head.startswith("s3") else "gcp", bucket)
    if head.startswith("https://") or head.startswith("http://"):
        fast = _HTTP_RE.match(uri)  # the common case without urlsplit (200,000 items per call)
        if fast is not None:
            scheme, host, path = fast.group(1).lower(), fast.group(2).lower(), fast.group(3) or ""
        else:
            parts = urlsplit(uri)
            scheme, host, path = parts.scheme, (parts.hostname or "").lower(), parts.path
        if not host:
            raise bad(f"{field} {uri!r} has no host")
        if host.endswith(AZURE_HOST_SUFFIX) and scheme == "https":
            account = host[: -len(AZURE_HOST_SUFFIX)]
            container = path.lstrip("/").split("/", 1)[0]
            if not account or not container:
                raise bad(
                    f"{field} {uri!r}: Azure Blob URIs are https://{{account}}{AZURE_HOST_SUFFIX}/{{container}}/{{blob}}"
                )
            return Location("bucket", "azure", container, account)
        if scheme == "https" or (allow_loopback_http and is_loopback(host)):
            return HTTP_LOCATION
        raise bad(f"{field} {uri!r}: plain http:// is not accepted; use https://")
    raise bad(f"{field} {uri!r}: scheme must be s3://, gs://, https:// or an Azure Blob https:// URL")


def requested_formats(value: Any) -> tuple[str, ...]:
    """``conversion_formats`` (``{"docx": true, ...}``) → the tuple of formats asked for."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise bad('conversion_formats must be an object such as {"docx": true, "md": true}')
    out = []
    for name, on in value.items():
        if name not in CONVERTIBLE_FORMATS and name not in ALWAYS_FORMATS:
            raise bad(f"conversion_formats: unknown format {name!r}; known: {', '.join(CONVERTIBLE_FORMATS)}")
        if not isinstance(on, bool):
            raise bad(f"conversion_formats.{name} must be true or false")
        if on and name not in ALWAYS_FORMATS:
            out.append(name)
    return tuple(out)


#: how many ``format_lag`` units a conversion takes after the file completes (heavier formats later)
FORMAT_WEIGHT = {"md": 1, "html": 1, "md.zip": 2, "mmd.zip": 2, "html.zip": 2, "docx": 2}


def format_delay(fmt: str, format_lag: float) -> float:
    """Seconds after the file completes before ``fmt`` is ready: 1-3 ``format_lag`` units by weight."""
    return format_lag * FORMAT_WEIGHT.get(fmt, 3)


def download_ext(fmt: str) -> str:
    """The extension a format is downloaded (and written) under: ``latex`` → ``tex``, else itself."""
    return _DOWNLOAD_EXT.get(fmt, fmt)


def format_of_ext(ext: str) -> str | None:
    """The format a download extension serves (None: ``latex``, which downloads as ``tex``)."""
    if ext in _DOWNLOAD_EXT:
        return None
    return _FORMAT_OF_EXT.get(ext, ext)


@dataclass(frozen=True)
class Callback:
    """Validated callback fields of a submission."""

    url: str
    headers: tuple[tuple[str, str], ...]
    events: frozenset[str] | None  # None: the default for the kind of submission


def check_callback_url(url: Any, field: str = "callback_url", *, allow_loopback_http: bool = True) -> str:
    """HTTPS only and no private addresses; loopback (http or https) only because this is the emulator."""
    if not isinstance(url, str) or not url:
        raise bad(f"{field} must be a non-empty string")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise bad(f"{field} {url!r} must be an https:// URL")
    loopback = is_loopback(host)
    if loopback and allow_loopback_http:
        return url
    if parts.scheme != "https":
        raise bad(f"{field} {url!r} must use https://")
    try:
        private = ipaddress.ip_address(host)
    except ValueError:
        return url
    if private.is_private or private.is_loopback or private.is_link_local or private.is_reserved:
        raise bad(f"{field} {url!r} points at a private address")
    return url


def check_callback_headers(headers: Any, field: str = "callback_headers") -> tuple[tuple[str, str], ...]:
    """≤ 10 string headers, ≤ 4 KB in all, none of the transport or ``Mathpix-*`` headers."""
    if headers is None:
        return ()
    if not isinstance(headers, dict):
        raise bad(f"{field} must be an object of header name to value")
    if len(headers) > MAX_CALLBACK_HEADERS:
        raise bad(f"{field} has {len(headers)} headers; at most {MAX_CALLBACK_HEADERS} are allowed")
    size = 0
    for name, value in headers.items():
        if not isinstance(value, str) or not name:
            raise bad(f"{field}: header {name!r} must have a string value")
        low = name.lower()
        if low in FORBIDDEN_CALLBACK_HEADERS or low.startswith("mathpix-"):
            raise bad(f"{field}: header {name!r} may not be set")
        size += len(name.encode()) + len(value.encode())
    if size > MAX_CALLBACK_HEADER_BYTES:
        raise bad(f"{field} total {size} bytes; at most {MAX_CALLBACK_HEADER_BYTES} are allowed")
    return tuple((str(k), str(v)) for k, v in headers.items())


def check_callback(body: dict[str, Any], *, allow_loopback_http: bool = True) -> Callback | None:
    """``callback_url``/``callback_headers``/``callback_events``; either of the last two needs the first."""
    url = body.get("callback_url")
    headers = body.get("callback_headers")
    events = body.get("callback_events")
    if url is None:
        if headers is not None:
            raise bad("callback_headers needs callback_url")
        if events is not None:
            raise bad("callback_events needs callback_url")
        return None
    url = check_callback_url(url, allow_loopback_http=allow_loopback_http)
    parsed_events: frozenset[str] | None = None
    if events is not None:
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise bad("callback_events must be a list of event names")
        unknown = sorted(set(events) - CALLBACK_EVENTS)
        if unknown:
            raise bad(f"callback_events: unknown event(s) {unknown}; known: {sorted(CALLBACK_EVENTS)}")
        parsed_events = frozenset(events)
    return Callback(url, check_callback_headers(headers), parsed_events)


_PAGE_RANGE_ITEM = re.compile(r"\s*(-?\d+)\s*(?:(-)\s*(-?\d+)?\s*)?")


def parse_page_ranges(value: Any) -> tuple[tuple[int, int | None], ...] | None:
    """``page_ranges`` as ``/v3/pdf`` takes it: ``"2,4-6"``, ``"2 - -2"`` (second to next-to-last), ``"3-"``.

    1-based and inclusive; a negative index counts from the end (``-1`` is the last page).
    Returns ``((start, end), …)`` with ``end`` None for an open range; pages resolve in
    :func:`select_pages`, once the page count is known.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad('page_ranges must be a string such as "1-3,7" or "2 - -2"')
    out: list[tuple[int, int | None]] = []
    for part in value.split(","):
        m = _PAGE_RANGE_ITEM.fullmatch(part)
        if not m:
            raise bad(
                f"page_ranges: {part.strip()!r} is not N, N-M or N- (negative N or M count from the end)"
            )
        start = int(m.group(1))
        end: int | None = start if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
        if start == 0 or end == 0:
            raise bad(f"page_ranges: {part.strip()!r}: pages are numbered from 1 (or -1 from the end)")
        if end is not None and (start > 0) == (end > 0) and end < start:
            raise bad(f"page_ranges: {part.strip()!r} ends before it starts")
        out.append((start, end))
    return tuple(out)


def select_pages(n_pages: int, ranges: tuple[tuple[int, int | None], ...] | None) -> list[int]:
    """0-based page indexes kept by ``page_ranges`` (all when None), in document order."""
    if not ranges:
        return list(range(n_pages))

    def index(page: int) -> int:  # 1-based or from the end → 0-based
        return page - 1 if page > 0 else n_pages + page

    keep: set[int] = set()
    for start, end in ranges:
        first, last = index(start), (n_pages - 1 if end is None else index(end))
        keep.update(range(max(first, 0), min(last, n_pages - 1) + 1))
    return sorted(keep)


def parse_limit(value: str | None, *, default: int, maximum: int) -> int:
    """A listing's ``limit`` query parameter: 1..maximum."""
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError:
        raise bad(f"limit must be an integer, got {value!r}") from None
    if limit < 1 or limit > maximum:
        raise bad(f"limit must be between 1 and {maximum}, got {limit}")
    return limit


def parse_date(value: str | None, field: str) -> dt.date | None:
    """``start``/``end`` of the job listing: ``yyyy-MM-dd``."""
    if value is None or value == "":
        return None
    try:
        return (
            dt.date.fromisoformat(value)
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
            else _no_date(value, field)
        )
    except ValueError:
        return _no_date(value, field)


def _no_date(value: str, field: str) -> dt.date:
    raise bad(f"{field} must be a date yyyy-MM-dd, got {value!r}")


def check_listing_status(value: str | None) -> int | None:
    """The ``status`` filter of a job's file listing → its terminal code (0 pending, 1 completed, 2 error)."""
    if value is None or value == "":
        return None
    if value not in LISTING_STATUSES:
        raise bad(f"status must be one of {sorted(LISTING_STATUSES)}, got {value!r}")
    return LISTING_STATUSES[value]


DATA_SOURCE_PROVIDERS = ("aws", "gcp", "azure")
#: (provider, auth_method) → the exact ``provider_specific_details`` keys of that grant.
DATA_SOURCE_DETAILS: dict[tuple[str, str], tuple[str, ...]] = {
    ("aws", "iam_role"): ("iam_role_arn", "aws_external_id"),
    ("aws", "access_key"): ("aws_access_key_id",),
    ("azure", "azure_ad"): ("azure_tenant_id", "storage_account"),
    ("gcp", "service_account"): ("gcp_project_id", "target_sa_email"),
}
#: the one grant that carries a secret (and then needs ``region`` too)
KEYED_GRANT = ("aws", "access_key")


@dataclass(frozen=True)
class DataSourceSpec:
    """A validated data-source registration (the ``secret`` of a keyed grant is checked, not kept)."""

    provider: str
    bucket: str
    auth_method: str
    name: str
    region: str | None
    account: str | None
    details: dict[str, Any]


def check_data_source(body: Any) -> DataSourceSpec:
    """``provider``, ``bucket``, an ``auth_method`` pair of the contract with exactly its details.

    ``aws``/``access_key`` needs a top-level ``secret`` and ``region``; a ``secret`` on a
    keyless grant is refused. Whether ``aws_external_id`` is the group's is checked by the caller.
    """
    if not isinstance(body, dict):
        raise bad("body must be a JSON object")
    provider = body.get("provider")
    if provider not in DATA_SOURCE_PROVIDERS:
        raise bad(f"provider must be one of {list(DATA_SOURCE_PROVIDERS)}, got {provider!r}")
    bucket = body.get("bucket")
    if not isinstance(bucket, str) or not bucket.strip("/") or "/" in bucket.strip("/"):
        raise bad("bucket must be a bucket (Azure: container) name, with no scheme and no key")
    auth = body.get("auth_method")
    pair = (provider, auth)
    if pair not in DATA_SOURCE_DETAILS:
        methods = [m for p, m in DATA_SOURCE_DETAILS if p == provider]
        raise bad(f"auth_method for {provider} must be one of {methods}, got {auth!r}")
    details = body.get("provider_specific_details")
    if not isinstance(details, dict) or not details:
        raise bad("provider_specific_details is required and must be a non-empty object")
    keys = DATA_SOURCE_DETAILS[pair]
    missing = [k for k in keys if not isinstance(details.get(k), str) or not details.get(k)]
    unknown = sorted(set(details) - set(keys))
    if missing or unknown:
        raise bad(
            f"provider_specific_details for {provider}/{auth} takes exactly {list(keys)} "
            "(non-empty strings); "
            f"missing: {missing}, unknown: {unknown}"
        )
    name = body.get("name") or bucket
    if not isinstance(name, str):
        raise bad("name must be a string")
    region = body.get("region")
    if region is not None and (not isinstance(region, str) or not region):
        raise bad("region must be a non-empty string")
    secret = body.get("secret")
    if pair == KEYED_GRANT:
        if not isinstance(secret, str) or not secret:
            raise bad("aws/access_key needs the secret access key in secret")
        if region is None:
            raise bad("aws/access_key needs region")
    elif secret is not None:
        raise bad(f"{provider}/{auth} is a keyless grant: it takes no secret")
    account = details["storage_account"] if provider == "azure" else None
    return DataSourceSpec(provider, bucket.strip("/"), str(auth), name, region, account, dict(details))
