"""Outputs into a bucket through its async filesystem, on the download's own event loop.

The destination's ``ObjectStoragePath.fs`` (s3fs, gcsfs, adlfs) runs its coroutines on
fsspec's IO thread: awaited from the download's loop, every request would cross threads
twice and wait for the other loop's turn at the GIL. :meth:`BucketStore.open` makes a
second instance of the same filesystem class from the same storage options (so the same
connection and credentials) with ``asynchronous=True``: its client and connection pool
live on the caller's loop, and each output is one PUT awaited in place.

Whole writes: a single PUT (S3 ``PutObject``, GCS simple upload, Azure ``Put Blob``) makes
the object visible only once complete, and the filesystems' multipart paths for big bodies
abort on error; so no temporary key is needed and no reader sees a partial output.

"Skip existing" is decided from ONE streamed listing of the destination prefix
(:meth:`BucketStore.existing`), kept as :class:`Existing`: three sorted, typed arrays
(a 64-bit hash of each name, its size, its MD5 where the store gives one), 32 bytes an
object instead of a dict of strings and info dicts (~0.5 KB an object).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import weakref
from array import array
from bisect import bisect_left
from collections.abc import AsyncIterator, Callable
from typing import IO, Any

from airflow_provider_mathpix._compat import ObjectStoragePath
from airflow_provider_mathpix.storage import LOCAL_PROTOCOLS

#: Stands for "the store gave no checksum" (MD5 of nothing real is never all zeros here).
NO_DIGEST = bytes(16)


def name_key(name: str) -> int:
    """A name's signed 64-bit key in :class:`Existing` (stable across processes, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def md5_of(stream: IO[bytes]) -> bytes:
    """The MD5 of a stream from its start (what S3, GCS and Azure list for a single upload)."""
    stream.seek(0)
    digest = hashlib.md5(usedforsecurity=False)
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
    return digest.digest()


class Existing:
    """The objects one listing found under the destination, looked up by name.

    Entries are appended as the listing streams, then sorted once by key (:meth:`seal`).
    Two names sharing a 64-bit key (about 3 in 10^8 for a million names) would read as
    the same object; with ``skip_existing`` a skip still needs the size and, where listed,
    the MD5 of the freshly downloaded output to match.
    """

    def __init__(self) -> None:
        self._keys = array("q")
        self._sizes = array("q")
        self._digests = bytearray()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, name: str, size: int, digest: bytes | None) -> None:
        self._keys.append(name_key(name))
        self._sizes.append(size)
        self._digests += digest if digest and len(digest) == 16 else NO_DIGEST

    def seal(self) -> Existing:
        order = sorted(range(len(self._keys)), key=self._keys.__getitem__)
        self._keys = array("q", (self._keys[i] for i in order))
        self._sizes = array("q", (self._sizes[i] for i in order))
        digests = self._digests
        self._digests = bytearray().join(digests[i * 16 : i * 16 + 16] for i in order)
        return self

    def _index(self, name: str) -> int | None:
        key = name_key(name)
        i = bisect_left(self._keys, key)
        return i if i < len(self._keys) and self._keys[i] == key else None

    def size_of(self, name: str) -> int | None:
        i = self._index(name)
        return None if i is None else self._sizes[i]

    def holds(self, name: str, size: int, md5: Callable[[], bytes]) -> bool:
        """Whether ``name`` is present with this content: same size and, where listed, same MD5."""
        i = self._index(name)
        if i is None or self._sizes[i] != size:
            return False
        digest = bytes(self._digests[i * 16 : i * 16 + 16])
        return digest == NO_DIGEST or digest == md5()


def _s3_digest(etag: Any) -> bytes | None:
    """A single-part upload's ETag is the body's MD5; a multipart one (``…-N``) is not."""
    text = str(etag or "").strip('"')
    if len(text) != 32:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _b64_digest(value: Any) -> bytes | None:
    if not value:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return None


def _loopless_finalizers(fs: Any) -> list[tuple[Any, tuple[Any, ...]]]:
    """Detach, and return to be awaited here, the cleanups ``fs`` registered as ``sync(loop, …)``.

    adlfs registers ``weakref.finalize(self, sync, self.loop, close_…, self)``; an
    asynchronous instance has no loop, so at garbage collection each would raise "Loop is
    not running" instead of closing anything.
    """
    from fsspec.asyn import sync

    found = []
    for finalizer in list(getattr(weakref.finalize, "_registry", {})):
        info = finalizer.peek()
        if info is None or info[0] is not fs or info[1] is not sync or len(info[2]) < 2:
            continue
        finalizer.detach()
        found.append((info[2][1], tuple(info[2][2:])))
    return found


async def _pin_s3_credentials(options: dict[str, Any]) -> None:
    """Hand the connection's resolved keys to the s3fs copy made on this loop.

    The amazon provider gives s3fs an aiobotocore session; with some releases (amazon 9.29,
    aiobotocore 3.7) a client made from that session on a second event loop signs with no
    credentials although the session resolves them. Explicit keys, resolved here, are
    what the copy signs with; they are the session's current ones, so a download that
    outlives temporary credentials would need a new task try (as any frozen key does).
    """
    session: Any = options.get("session")
    if options.get("anon") or options.get("key") or not hasattr(session, "get_credentials"):
        return
    credentials = await session.get_credentials()
    if credentials is None:
        return
    frozen = await credentials.get_frozen_credentials()
    if frozen.access_key:
        options.update(key=frozen.access_key, secret=frozen.secret_key, token=frozen.token)


async def _has_s3_credentials(fs: Any) -> bool:
    """Whether the s3fs client made on this loop holds the credentials its requests are signed with.

    Read from the client's signer (botocore's ``_request_signer._credentials``): a session
    can resolve keys that the client made from it on another loop does not carry. Where a
    future botocore names these differently, the client is trusted as it is.
    """
    signer = getattr(getattr(fs, "_s3", None), "_request_signer", None)
    if signer is None or not hasattr(signer, "_credentials"):
        return True
    credentials = signer._credentials
    if credentials is None:
        return False
    frozen = await credentials.get_frozen_credentials()
    return bool(frozen.access_key)


class BucketStore:
    """Whole-object writes and one listing under ``root``, on the caller's event loop."""

    def __init__(self, fs: Any, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")

    @classmethod
    async def open(cls, destination: ObjectStoragePath) -> BucketStore | None:
        """A store on this loop for a bucket destination; None for local disk or a sync filesystem."""
        shared = destination.fs
        if destination.protocol in LOCAL_PROTOCOLS or not getattr(shared, "async_impl", False):
            return None
        options = dict(getattr(shared, "storage_options", {}) or {})
        options.update(asynchronous=True, skip_instance_cache=True)
        options.pop("loop", None)
        await _pin_s3_credentials(options)
        fs = type(shared)(**options)
        if hasattr(fs, "set_session"):  # s3fs: the aiobotocore client, made on this loop
            await fs.set_session()
            if not options.get("anon") and not await _has_s3_credentials(fs):
                # Seen with Airflow 3.2's amazon provider (9.29): the shared session resolves
                # its keys, the copy made here does not, and every request would fail to sign.
                await fs._s3.close()
                raise LookupError("the S3 connection's credentials did not carry over to this event loop")
        elif hasattr(fs, "_set_session"):  # gcsfs: its aiohttp session
            await fs._set_session()
        return cls(fs, str(destination.path))

    async def close(self) -> None:
        """Close the clients this store opened, on this loop where they were made."""
        fs = self.fs
        client = getattr(fs, "_s3", None)  # s3fs
        if client is not None:
            await client.close()
        session = getattr(fs, "_session", None)  # gcsfs
        if session is not None and not session.closed:
            await session.close()
        for cleanup, args in _loopless_finalizers(fs):  # adlfs: its service client, credential
            with contextlib.suppress(Exception):
                await cleanup(*args)

    async def put(self, name: str, data: bytes) -> None:
        """One request (a multipart upload only past the filesystem's chunk size): whole or nothing."""
        await self.fs._pipe_file(f"{self.root}/{name}", data)

    async def existing(self) -> Existing:
        """Every object under the destination, from one streamed listing."""
        found = Existing()
        try:
            async for name, size, digest in self._listing():
                found.add(name, size, digest)
        except FileNotFoundError:  # no bucket (or container) yet: nothing exists
            pass
        return found.seal()

    async def _listing(self) -> AsyncIterator[tuple[str, int, bytes | None]]:
        """(name relative to the destination, size, MD5 or None), page by page."""
        bucket, _, key = self.root.partition("/")
        prefix = f"{key}/" if key else ""
        kind = type(self.fs).__module__.split(".")[0]
        if kind == "s3fs":
            async for info in self.fs._iterdir(bucket, delimiter="", prefix=prefix):
                name = str(info["Key"])[len(bucket) + 1 + len(prefix) :]
                yield name, int(info.get("size") or 0), _s3_digest(info.get("ETag"))
        elif kind == "gcsfs":
            token = None
            while True:
                page = await self.fs._call_list_objects(
                    bucket, prefix=prefix, delimiter="", maxResults=1000, pageToken=token
                )
                for item in page.get("items", []):
                    name = str(item["name"])[len(prefix) :]
                    yield name, int(item.get("size") or 0), _b64_digest(item.get("md5Hash"))
                token = page.get("nextPageToken")
                if not token:
                    return
        elif kind == "adlfs":
            from azure.core.exceptions import ResourceNotFoundError

            try:
                async for entry in self._azure_listing(bucket, prefix):
                    yield entry
            except ResourceNotFoundError as exc:
                raise FileNotFoundError(self.root) from exc
        else:  # another async filesystem: its own (whole) listing
            infos = await self.fs._find(self.root, detail=True)
            for path, info in infos.items():
                if path.startswith(self.root + "/"):
                    yield path[len(self.root) + 1 :], int(info.get("size") or 0), None

    async def _azure_listing(self, bucket: str, prefix: str) -> AsyncIterator[tuple[str, int, bytes | None]]:
        async with self.fs.service_client.get_container_client(bucket) as container:
            async for blob in container.list_blobs(name_starts_with=prefix):
                settings = getattr(blob, "content_settings", None)
                digest = _b64_digest(getattr(settings, "content_md5", None))
                yield str(blob.name)[len(prefix) :], int(blob.size or 0), digest
