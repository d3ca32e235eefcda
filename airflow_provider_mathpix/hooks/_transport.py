"""HTTP plumbing shared by the sync and async paths: TLS, proxies, headers, the one error mapping.

Everything here is independent of sync vs async, so the two paths of the hook differ
only in ``await``: an answer (status, headers, body) is judged by :func:`check_answer`
in both, and a transport failure becomes an API error by :func:`transport_error`.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import ssl
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import httpx

from airflow_provider_mathpix import __version__
from airflow_provider_mathpix.contract.answers import envelope_error, parse_error_body
from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.contract.retry import parse_retry_after
from airflow_provider_mathpix.contract.uris import is_loopback_host
from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks._connection import ClientSettings
from airflow_provider_mathpix.hooks._deadline import transport

USER_AGENT = f"airflow-provider-mathpix/{__version__}"

#: Largest JSON answer read (a 10,000-file listing page is ~2 MB); larger is ``invalid_response``.
MAX_JSON_BODY = 32 * 1024 * 1024
#: Bytes of an error answer read: enough for any envelope; the rest is never loaded.
MAX_ERROR_BODY = 64 * 1024
REDACTED = "***"


@functools.lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    """The process-wide TLS context handed to every client as ``verify=``.

    Built once because each ``httpx.Client()`` with default settings loads the CA
    bundle again (~0.9 MB and ~20 ms of CPU each): a triggerer running 1,000 Mathpix
    triggers would otherwise spend ~0.9 GB on copies of the same certificates. Same
    trust store as httpx's own default (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``).
    """
    return httpx.create_ssl_context()


def client_kwargs(
    settings: ClientSettings, *, asynchronous: bool = False, tls: ssl.SSLContext | None = None
) -> dict[str, Any]:
    """Constructor arguments for ``httpx.Client`` (or ``httpx.AsyncClient`` when ``asynchronous``).

    The transport enforces ``request_timeout`` on the request in flight (see ``_deadline``),
    on the direct route and on each proxy of the environment (:func:`environment_proxies`).
    """
    tls = tls or ssl_context()
    return {
        "base_url": settings.base_url,
        "headers": {"app_key": settings.app_key, "User-Agent": USER_AGENT, "Accept": "application/json"},
        "timeout": httpx.Timeout(settings.timeout),
        "transport": transport(tls, asynchronous=asynchronous),
        "mounts": {
            pattern: None
            if url is None
            else transport(tls, asynchronous=asynchronous, proxy=_proxy(pattern, url))
            for pattern, url in environment_proxies().items()
        },
        "follow_redirects": False,  # a redirect would re-send the app_key to wherever it points
    }


#: The schemes of the proxy variables httpx reads (``no`` exempts hosts), each variable
#: lowercase and uppercase: ``http_proxy``, ..., ``HTTP_PROXY``, ...
_PROXY_SCHEMES = ("http", "https", "all", "no")
_PROXY_VARIABLES = tuple(f"{s}_proxy" for s in _PROXY_SCHEMES) + tuple(
    f"{s.upper()}_PROXY" for s in _PROXY_SCHEMES
)


def environment_proxies() -> dict[str, str | None]:
    """The environment's proxies as httpx reads them: URL pattern -> proxy URL, or None for direct.

    A plain ``httpx.Client()`` mounts these itself, but not when it is given a transport,
    as the hook's clients are; so the hook reads the same variables the same way (through
    :func:`_proxy_map`, which is what :func:`client_kwargs` mounts).
    """
    return dict(_proxy_map(tuple(map(os.environ.get, _PROXY_VARIABLES)), _cgi()))


def _cgi() -> bool:
    return "REQUEST_METHOD" in os.environ


@functools.lru_cache(maxsize=16)
def _proxy_map(values: tuple[str | None, ...], cgi: bool) -> tuple[tuple[str, str | None], ...]:
    """httpx's ``get_environment_proxies`` over urllib's ``getproxies_environment``, for these values.

    Keyed by the variables' values, so each client pays a few lookups of ``os.environ``,
    not urllib's scan of the whole environment (a triggerer builds one client per trigger).
    A lowercase variable wins, even empty (which unsets its uppercase twin); under CGI
    (``REQUEST_METHOD`` set) ``HTTP_PROXY`` is ignored, as a request header can set it.
    """
    lower, upper = values[: len(_PROXY_SCHEMES)], values[len(_PROXY_SCHEMES) :]
    found: dict[str, str] = {}
    for scheme, low, up in zip(_PROXY_SCHEMES, lower, upper, strict=True):
        value = low if low is not None else None if cgi and scheme == "http" else up
        if value:
            found[scheme] = value
    mounts: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        url = found.get(scheme)
        if url:
            mounts[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    # NO_PROXY as curl reads it: "*" means no proxy at all; "example.com" exempts it and
    # its subdomains, ".example.com" only the subdomains; IPs and "localhost" exactly.
    for host in (entry.strip() for entry in found.get("no", "").split(",")):
        if host == "*":
            return ()
        if host:
            mounts[_exempt_pattern(host)] = None
    return tuple(mounts.items())


def _exempt_pattern(host: str) -> str:
    if "://" in host:
        return host
    if _is_ip(ipaddress.IPv4Address, host) or host.lower() == "localhost":
        return f"all://{host}"
    if _is_ip(ipaddress.IPv6Address, host):
        return f"all://[{host}]"
    return f"all://*{host}"


def _is_ip(kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address], host: str) -> bool:
    try:
        kind(host.split("/")[0])  # "10.0.0.0/8" counts as the address 10.0.0.0 (no CIDR match)
    except ValueError:
        return False
    return True


def _proxy(pattern: str, url: str) -> httpx.Proxy:
    """``url`` as an httpx proxy.

    A URL httpx refuses is named by its variable, never shown: it may hold a password
    (httpx's own error shows the user name), so that error is not even chained.
    """
    try:
        return httpx.Proxy(url)
    except (ValueError, httpx.InvalidURL):
        pass
    name = pattern.removesuffix("://")
    raise MathpixValidationError(
        f"The proxy set by {name.upper()}_PROXY (or {name}_proxy) in the environment is not a "
        "usable proxy URL: it must be http://, https://, socks5:// or socks5h://host:port"
    )


def secret_forms(secret: str | None) -> list[str]:
    """``secret`` as it may appear in text: plain, repr-, JSON-, bytes- and URL-escaped."""
    if not secret:
        return []
    forms = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    return sorted(forms, key=len, reverse=True)  # longest first: no partial replacement survives


def redact(text: str, secret: str | None) -> str:
    """``text`` with every form of ``secret`` replaced by ``***``."""
    for form in secret_forms(secret):
        text = text.replace(form, REDACTED)
    return text


class BodyReader:
    """Collect an answer's body up to a limit (sync and async loops feed it chunk by chunk).

    A success body over the limit fails as ``invalid_response`` naming the size; an error
    body is simply cut (its envelope fits in the first bytes), so neither is ever held whole.
    """

    def __init__(self, req: ApiRequest, status: int, headers: httpx.Headers, *, raw: bool) -> None:
        self.req = req
        self.status = status
        self.success = 200 <= status < 300
        self.limit: int | None = (
            None if raw and self.success else MAX_JSON_BODY if self.success else MAX_ERROR_BODY
        )
        self.parts: list[bytes] = []
        self.size = 0
        declared = headers.get("content-length", "")
        if self.success and self.limit is not None and declared.isdigit() and int(declared) > self.limit:
            raise self._too_large(f"{int(declared):,} bytes announced")

    def _too_large(self, what: str) -> MathpixAPIError:
        return api_error(
            self.req,
            self.status,
            "invalid_response",
            f"HTTP {self.status} answer is larger than the {self.limit:,}-byte limit ({what}); "
            "no Mathpix JSON answer is this large",
        )

    def feed(self, chunk: bytes) -> bool:
        """Keep ``chunk``; False once enough was read (the rest is not wanted)."""
        if self.limit is not None and self.size + len(chunk) > self.limit:
            if self.success:
                # Let go of what was read now: the exception's traceback keeps this reader
                # (and so the body) alive for as long as the error is held or retried.
                self.parts.clear()
                raise self._too_large(f"more than {self.limit:,} bytes received")
            self.parts.append(chunk[: self.limit - self.size])
            self.size = self.limit
            return False
        self.parts.append(chunk)
        self.size += len(chunk)
        return True

    def body(self) -> bytes:
        """The answer's bytes, joined once (a listing reads them twice: its token, then the page)."""
        if len(self.parts) > 1:
            self.parts[:] = [b"".join(self.parts)]
        return self.parts[0] if self.parts else b""


def request_headers(req: ApiRequest, settings: ClientSettings) -> dict[str, str]:
    """Per-request headers: Idempotency-Key, and app_id on /v3 only (the Files API ignores it)."""
    headers = dict(req.headers)
    if req.v3:
        if not settings.app_id:
            raise MathpixValidationError(
                f"Mathpix connection {settings.conn_id!r}: the App ID (login field) is empty; "
                f"{req.method} {req.path} needs the app_id"
            )
        headers["app_id"] = settings.app_id
    return headers


def api_error(
    req: ApiRequest, status: int | None, code: str, message: str, secret: str | None = None
) -> MathpixAPIError:
    """The provider's API error; ``secret`` (the app_key) is redacted from the message, in any form."""
    return MathpixAPIError(code, status, redact(message, secret), method=req.method, path=req.path)


def check_answer(
    req: ApiRequest, status: int, headers: httpx.Headers, body: bytes, *, raw: bool, secret: str | None = None
) -> Any:
    """Return the answer's payload (JSON, or ``body`` when ``raw``), or raise ``MathpixAPIError``.

    The single error mapping of the provider: non-2xx → envelope code (or
    ``http_<status>``), and a /v3 body carrying ``error`` is a failure even under HTTP 200.
    ``retry_after`` is attached for the retry policy. A server that echoes the key back
    in its error text does not get it into the exception: ``secret`` is redacted.
    """
    if not 200 <= status < 300:  # 3xx too: redirects are not followed (they would carry the key along)
        info = parse_error_body(status, body)
        error = api_error(req, status, info.code, info.message, secret)
        error.retry_after = parse_retry_after(headers.get("retry-after"))
        raise error
    if raw:
        return body
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        raise api_error(req, status, "invalid_response", f"HTTP {status} answer is not JSON") from None
    if req.v3 and isinstance(payload, dict):
        info_v3 = envelope_error(payload)
        if info_v3 is not None:
            raise api_error(req, status, info_v3.code, info_v3.message, secret)
    return payload


def transport_error(
    req: ApiRequest, exc: httpx.TransportError, secret: str | None = None, base_url: str = ""
) -> MathpixAPIError:
    """No answer at all: timeouts and dropped or refused connections (always retryable)."""
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection_error"
    detail = str(exc) or type(exc).__name__
    hint = _PROXY_HINT if isinstance(exc, httpx.ProxyError) else _plain_http_hint(exc, base_url)
    return api_error(req, None, code, f"{type(exc).__name__}: {detail}{hint}", secret)


#: A proxy's refusal (of a CONNECT tunnel, or a SOCKS handshake) is not Mathpix's answer.
_PROXY_HINT = (
    ". The proxy set in the environment (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY) refused to "
    "connect to the API; NO_PROXY lists the hosts reached without it"
)


def leaks(exc: BaseException, secret: str | None) -> bool:
    """Whether ``exc``'s text holds the secret (then it must not be chained into a traceback)."""
    text = f"{exc!s} {exc!r}"
    return any(form in text for form in secret_forms(secret))


def _plain_http_hint(exc: httpx.TransportError, base_url: str) -> str:
    """Why TLS failed against a loopback server: it speaks plain http (the bundled emulator does).

    A host without a scheme means https (the URI form ``mathpix://:KEY@127.0.0.1:8080``
    cannot say otherwise), so pointing a connection at a local emulator that way fails
    with an opaque SSL error; name the fix instead.
    """
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not is_loopback_host(parts.hostname or ""):
        return ""
    if "WRONG_VERSION_NUMBER" not in str(exc) and "record layer" not in str(exc):
        return ""
    plain = f"http://{parts.netloc}{parts.path}"
    return (
        f". {base_url} answered without TLS: it is a plain-http server (like the bundled emulator). "
        f"A host without a scheme means https://; set the connection's host to {plain} "
        f"(in the URI form, percent-encode the scheme: mathpix://:KEY@http%3A%2F%2F{parts.netloc})"
    )
