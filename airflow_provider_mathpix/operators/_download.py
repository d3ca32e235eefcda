"""The download engine behind ``MathpixDownloadOutputsOperator``: bounded async copies.

Split from :mod:`airflow_provider_mathpix.operators.outputs` (which keeps the operators
and their validation) so each module has one job. Why this shape -- a bounded queue
fed page by page, outputs spooled to a temporary file, then one PUT on this loop into a
bucket (:mod:`._bucket`) or a copy from a thread to local disk, skip when present with the
same content, ``format_not_ready`` waited out -- is explained there.
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_mathpix import manifests
from airflow_provider_mathpix._compat import ObjectStoragePath
from airflow_provider_mathpix.common.listing import (
    LISTING_RECHECK,
    LISTING_TIMEOUT,
    ListingShort,
    acounted,
    gave_up,
)
from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.operators._bucket import BucketStore, Existing, md5_of
from airflow_provider_mathpix.storage import is_local_path, write_local_whole, write_whole

#: Bytes of one output kept in memory before its spool file moves to disk.
SPOOL_MAX_BYTES = 4 * 1024 * 1024
COPY_CHUNK = 1024 * 1024
#: How many failed outputs (or deletions) a result names.
ERRORS_SAMPLE = 10


def failure_reason(code: str, ext: str, message: str, format_timeout: float) -> str:
    """What a DAG author should read about one output that failed (the code alone is cryptic)."""
    if code == "unsupported_format":
        return f"'{ext}' was not requested for this file (conversion_formats)"
    if code == "format_not_ready":
        return f"'{ext}' was still converting after format_timeout={format_timeout:g} s"
    if code == "not_found":
        return "the file is not in Mathpix storage (deleted, or submitted with another app key)"
    if code == "storage_error":
        return f"writing to the destination failed: {message}"
    return f"{code}: {message}"


# ---------------------------------------------------------------------- the download engine
@dataclass
class DownloadTotals:
    """Counters of one download run (small: they go to XCom)."""

    files: int = 0
    written: int = 0
    skipped: int = 0
    failed: int = 0
    bytes_written: int = 0
    errors_sample: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    file_id: str
    name: str  # custom_id when known, else file_id
    custom_id: str | None = None


async def _job_targets(
    hook: MathpixHook, job_id: str, listing_timeout: float = LISTING_TIMEOUT
) -> AsyncIterator[Target]:
    """The job's completed files, as many as its counters say (see ``_listing``).

    A listing that trails ``files_completed`` is listed again (only files not seen yet
    are yielded) until it catches up or ``listing_timeout`` passes, which fails naming
    the shortfall: the download never succeeds short.
    """
    job = await hook.aget_job(job_id)
    expected = int(job.get("files_completed") or 0)
    file_count = int(job["file_count"]) if job.get("file_count") is not None else sys.maxsize
    loop = asyncio.get_running_loop()
    deadline = loop.time() + listing_timeout
    seen: set[str] = set()
    while True:
        async for record in acounted(hook.aiter_job_files(job_id, status="completed"), job_id, file_count):
            file_id = str(record["file_id"])
            if file_id in seen:
                continue
            seen.add(file_id)
            custom_id = record.get("custom_id") or None
            yield Target(file_id, custom_id or file_id, custom_id)
        if len(seen) >= expected:
            return
        short = ListingShort(job_id, "completed", len(seen), expected)
        left = deadline - loop.time()
        if left <= 0:
            raise gave_up(short, listing_timeout)
        await asyncio.sleep(min(LISTING_RECHECK, left))


async def _listed_targets(file_ids: Sequence[str]) -> AsyncIterator[Target]:
    for file_id in file_ids:
        yield Target(file_id, file_id)


class _ManifestFeed:
    """Records from the event loop into C's (blocking) JSON Lines writer on its own thread."""

    _END = object()

    def __init__(self, path: ObjectStoragePath) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=10_000)
        self._result: list[Any] = []
        self._thread = threading.Thread(
            target=self._write, args=(path,), name="mathpix-manifest", daemon=True
        )
        self._thread.start()

    def _records(self) -> Iterator[dict[str, Any]]:
        while (item := self._queue.get()) is not self._END:
            yield item

    def _write(self, path: ObjectStoragePath) -> None:
        try:
            self._result.append(manifests.write_manifest(path, self._records()))
        except BaseException as exc:  # reported by close(); keep draining so producers never block
            self._result.append(exc)
            while self._queue.get() is not self._END:
                pass

    def put(self, record: dict[str, Any]) -> None:
        self._queue.put(record)

    def close(self) -> int:
        self._queue.put(self._END)
        self._thread.join()
        outcome = self._result[0] if self._result else 0
        if isinstance(outcome, BaseException):
            raise MathpixError(f"could not write the download manifest: {outcome}") from outcome
        return int(outcome)


def _local_size(path: str) -> int | None:
    """The size of the local file ``path``, or None when there is none (one ``stat``)."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def _existing_size(target: ObjectStoragePath) -> int | None:
    """Blocking: the size of ``target``, or None when it does not exist."""
    try:
        return int(target.stat().st_size)
    except FileNotFoundError:
        return None


def _store(spool: Any, target: ObjectStoragePath, size: int, skip_existing: bool) -> str:
    """Blocking: copy the spooled output to ``target`` (whole or not at all) unless already there."""
    if is_local_path(target):
        return _store_local(spool, str(target.path), size, skip_existing)
    if skip_existing and _existing_size(target) == size:
        return "skipped"
    spool.seek(0)
    with write_whole(target) as out:
        shutil.copyfileobj(spool, out, COPY_CHUNK)
    return "written"


def _store_local(spool: Any, final: str, size: int, skip_existing: bool) -> str:
    """Blocking: :func:`_store` into the local file ``final``, with os calls only.

    All of it on the pool's thread: creating, ``fsync`` and renaming a file wait on the
    filesystem's journal, which other outputs' ``fsync`` keep busy.
    """
    if skip_existing and _local_size(final) == size:
        return "skipped"
    spool.seek(0)
    with write_local_whole(final) as out:
        shutil.copyfileobj(spool, out, COPY_CHUNK)
    return "written"


class OutputDownloader:
    """Download ``formats`` of each target into ``destination`` with ``concurrency`` workers."""

    def __init__(
        self,
        hook: MathpixHook,
        destination: ObjectStoragePath,
        destination_uri: str,
        formats: Sequence[str],
        *,
        concurrency: int = 16,
        skip_existing: bool = True,
        trust_existing: bool = False,
        format_timeout: float = 600.0,
        format_poll_interval: float = 2.0,
        record: Callable[[dict[str, Any]], None] = lambda _: None,
        log: Any = None,
    ) -> None:
        self.hook = hook
        self.destination = destination
        self.destination_uri = destination_uri
        self.formats = list(formats)
        self.concurrency = concurrency
        self.skip_existing = skip_existing
        self.trust_existing = trust_existing
        self.format_timeout = format_timeout
        self.format_poll_interval = format_poll_interval
        self.record = record
        self.log = log
        self.totals = DownloadTotals()
        #: A local destination's directory (written with os calls, not through its filesystem object).
        self._local: str | None = str(destination.path) if is_local_path(destination) else None
        #: A bucket destination written from this loop (None: local disk, or from threads).
        self._bucket: BucketStore | None = None
        #: The objects already at a bucket destination, from one listing.
        self._present = Existing()

    async def run(self, targets: AsyncIterator[Target]) -> DownloadTotals:
        try:
            self._bucket = await BucketStore.open(self.destination)
        except Exception as exc:  # options this loop cannot rebuild: the shared filesystem, from threads
            if self.log:
                self.log.warning("Writing %s from threads: %s", self.destination_uri, exc)
            self._bucket = None
        try:
            if self._bucket is not None and (self.skip_existing or self.trust_existing):
                self._present = await self._bucket.existing()
            return await self._run(targets)
        finally:
            if self._bucket is not None:
                await self._bucket.close()

    async def _run(self, targets: AsyncIterator[Target]) -> DownloadTotals:
        work: asyncio.Queue[tuple[Target, str] | None] = asyncio.Queue(maxsize=self.concurrency * 2)
        # Only local disk (and outputs too big to hold in memory) use the pool's threads.
        with ThreadPoolExecutor(
            max_workers=min(self.concurrency, 32), thread_name_prefix="mathpix-out"
        ) as pool:
            workers = [asyncio.create_task(self._worker(work, pool)) for _ in range(self.concurrency)]
            try:
                async with self.hook:
                    async for target in targets:
                        self.totals.files += 1
                        for ext in self.formats:
                            await work.put((target, ext))
                        if self.log and self.totals.files % 1000 == 0:
                            self.log.info("Queued outputs of %d files", self.totals.files)
                    for _ in workers:
                        await work.put(None)
                    await asyncio.gather(*workers)
            except BaseException:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                raise
        return self.totals

    async def _worker(self, work: asyncio.Queue[tuple[Target, str] | None], pool: ThreadPoolExecutor) -> None:
        while (job := await work.get()) is not None:
            target, ext = job
            await self._one(target, ext, pool)

    async def _one(self, target: Target, ext: str, pool: ThreadPoolExecutor) -> None:
        name = f"{target.name}.{ext}"
        uri = f"{self.destination_uri}/{name}"
        rec: dict[str, Any] = {
            "file_id": target.file_id,
            "custom_id": target.custom_id,
            "ext": ext,
            "uri": uri,
        }
        loop = asyncio.get_running_loop()
        try:
            if self.trust_existing:
                if self._bucket is not None:
                    size = self._present.size_of(name)
                elif self._local is not None:  # a stat writes nothing: cheaper here than a thread hop
                    size = _local_size(os.path.join(self._local, name))
                else:
                    size = await loop.run_in_executor(pool, _existing_size, self.destination / name)
                if size is not None:
                    self.totals.skipped += 1
                    rec.update(status="skipped", bytes=size)
                    self.record(rec)
                    return
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES) as spool:
                size = await self._download(target.file_id, ext, spool)
                status = await self._store(spool, name, size, pool)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = exc.message if isinstance(exc, MathpixAPIError) else f"{type(exc).__name__}: {exc}"
            code = exc.code if isinstance(exc, MathpixAPIError) else "storage_error"
            reason = failure_reason(code, ext, message, self.format_timeout)
            self.totals.failed += 1
            rec.update(status="error", error=code, reason=reason, message=message[:500])
            if len(self.totals.errors_sample) < ERRORS_SAMPLE:
                self.totals.errors_sample.append(
                    {
                        "file_id": target.file_id,
                        "custom_id": target.custom_id,
                        "ext": ext,
                        "error": code,
                        "reason": reason,
                    }
                )
            self.record(rec)
            return
        if status == "written":
            self.totals.written += 1
            self.totals.bytes_written += size
        else:
            self.totals.skipped += 1
        rec.update(status=status, bytes=size)
        self.record(rec)

    async def _store(self, spool: Any, name: str, size: int, pool: ThreadPoolExecutor) -> str:
        """Into a bucket: one async PUT from memory; else (local disk, a big output) from a thread."""
        if self._bucket is not None:
            if self.skip_existing and self._present.holds(name, size, lambda: md5_of(spool)):
                return "skipped"
            if size <= SPOOL_MAX_BYTES:
                spool.seek(0)
                await self._bucket.put(name, spool.read())
                return "written"
        skip = self.skip_existing and self._bucket is None  # a bucket's listing already answered
        loop = asyncio.get_running_loop()
        if self._local is not None:
            final = os.path.join(self._local, name)
            return str(await loop.run_in_executor(pool, _store_local, spool, final, size, skip))
        return str(await loop.run_in_executor(pool, _store, spool, self.destination / name, size, skip))

    async def _download(self, file_id: str, ext: str, spool: Any) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.format_timeout
        while True:
            spool.seek(0)
            spool.truncate()
            try:
                return int(await self.hook.adownload_output(file_id, ext, to=spool))
            except MathpixAPIError as exc:
                if exc.code != "format_not_ready" or loop.time() + self.format_poll_interval > deadline:
                    raise
            await asyncio.sleep(self.format_poll_interval)
