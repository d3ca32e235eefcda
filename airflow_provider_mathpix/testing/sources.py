"""Reading source documents: loopback/https over HTTP, buckets through ``BucketStore``.

A per-URI cache (with a TTL) means 20,000 files made from a handful of URLs cost a
handful of fetches and parses; concurrent readers of one URI wait for the first.
Failures become the file's error code (``not_found``, ``forbidden``,
``data_source_access_denied``, ``unsupported_format``), never an exception.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

import httpx

from .buckets import BucketStore, ObjectNotFound
from .documents import Document, analyze
from .errors import ApiError
from .rules import Location


class Buckets:
    """The customer's buckets as the file records see them: errors are the file's error codes.

    The :class:`~.buckets.BucketStore` is made on first use, so an emulator that never
    meets a bucket URI never needs its config to be valid; when it cannot be made,
    every bucket read or write fails with ``data_source_access_denied`` saying why.
    """

    def __init__(self, config: dict[str, Any] | None) -> None:
        self._config = config
        self._store: BucketStore | None = None
        self._error: str | None = None
        self._lock = threading.Lock()

    def store(self) -> BucketStore:
        """The BucketStore, or raise ``data_source_access_denied`` saying why there is none."""
        with self._lock:
            if self._store is None and self._error is None:
                try:
                    self._store = BucketStore(self._config)
                except Exception as exc:  # a malformed storage config: a clear per-file error, not a crash
                    self._error = f"the emulator cannot reach emulated buckets: {type(exc).__name__}: {exc}"
            if self._store is None:
                raise ApiError("data_source_access_denied", self._error or "no bucket store")
            return self._store

    def read(self, uri: str) -> bytes:
        store = self.store()
        try:
            return bytes(store.read(uri))
        except Exception as exc:
            raise bucket_error(exc, uri) from None

    def write(self, uri: str, data: bytes, content_type: str | None) -> None:
        store = self.store()
        try:
            store.write(uri, data, content_type)
        except Exception as exc:
            raise bucket_error(exc, uri) from None


def bucket_error(exc: Exception, uri: str) -> ApiError:
    """The file's error for a failed bucket read or write.

    A missing object is the file's ``not_found``; anything else (a missing bucket, a
    refused grant, a vendor client error the store did not translate) means the
    grant does not work for this URI: ``data_source_access_denied``.
    """
    if isinstance(exc, ObjectNotFound):
        return ApiError("not_found", f"{uri} does not exist in the bucket")
    return ApiError("data_source_access_denied", f"{uri}: the data source grant does not work: {exc}")


class _Entry:
    __slots__ = ("at", "done", "result")

    def __init__(self) -> None:
        self.done = False
        self.result: Document | tuple[str, str] | None = None
        self.at = 0.0


class SourceCache:
    """URI → parsed :class:`Document` (or the error code and message), fetched once per TTL.

    Bounded (least recently used out beyond ``max_entries``) and light: one shared
    condition instead of an event per URI, errors kept as ``(code, message)``, so a
    200,000-item job with distinct URLs does not turn the cache into the memory hog.
    """

    def __init__(
        self,
        buckets: Buckets,
        *,
        timeout: float,
        ttl: float,
        max_entries: int = 4096,
        public_hosts: dict[str, str] | None = None,
    ) -> None:
        self.buckets = buckets
        self.public_hosts = dict(public_hosts or {})
        self.timeout = timeout
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._cond = threading.Condition()
        self._http = httpx.Client(timeout=timeout, follow_redirects=True, trust_env=False)
        self.fetches = 0
        self.hits = 0

    def close(self) -> None:
        self._http.close()

    def clear(self) -> None:
        with self._cond:
            self._entries.clear()
            self.fetches = self.hits = 0

    def get(self, uri: str, location: Location) -> Document:
        """The document behind ``uri``; raises :class:`ApiError` with the file's error code."""
        with self._cond:
            entry = self._entries.get(uri)
            if entry is not None and entry.done and time.monotonic() - entry.at >= self.ttl:
                entry = None
            owner = entry is None
            if entry is None:
                entry = _Entry()
                self._entries[uri] = entry
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
                self.fetches += 1
            else:
                self._entries.move_to_end(uri)
                self.hits += 1
        if owner:
            result: Document | tuple[str, str]
            try:
                result = analyze(self.read(uri, location))
            except ApiError as exc:
                result = (exc.code, exc.message)
            except Exception as exc:  # an unexpected parser failure is still a per-file error
                result = ("unsupported_format", f"the source could not be read: {exc}")
            with self._cond:
                entry.result, entry.at, entry.done = result, time.monotonic(), True
                self._cond.notify_all()
        else:
            with self._cond:
                while not entry.done:
                    self._cond.wait()
        if isinstance(entry.result, tuple):
            raise ApiError(*entry.result)
        assert entry.result is not None
        return entry.result

    def _public_host_url(self, uri: str) -> str:
        parts = urlsplit(uri)
        base = self.public_hosts.get(parts.hostname or "") if parts.scheme == "https" else None
        if base is None:
            return uri
        return base.rstrip("/") + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def read(self, uri: str, location: Location) -> bytes:
        """The raw bytes behind ``uri`` (uncached); raises :class:`ApiError` with the file's error code."""
        if location.kind == "bucket":
            return self.buckets.read(uri)
        try:
            resp = self._http.get(self._public_host_url(uri), timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ApiError("not_found", f"the source could not be fetched: {type(exc).__name__}") from None
        if resp.status_code in (404, 410):
            raise ApiError("not_found", f"the source answered HTTP {resp.status_code}")
        if resp.status_code in (401, 403):
            raise ApiError("forbidden", f"the source answered HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise ApiError("not_found", f"the source answered HTTP {resp.status_code}")
        return resp.content
