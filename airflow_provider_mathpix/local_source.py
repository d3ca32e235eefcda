"""A local folder as a job's source: walked with content identities, uploaded into the job.

Mathpix cannot read a worker's disk, so a ``source_prefix`` such as ``/data/incoming/``
or ``file:///data/incoming/`` is walked here and each selected file is sent with
``POST /files/v1`` (multipart) into the job, under the same content-versioned
``custom_id`` the cloud walk gives (:func:`incremental.versioned_custom_id`). So a retry
after a worker died post-upload re-attaches to the same files through Mathpix's
``(job_id, custom_id)`` deduplication, a changed file gets a new ``custom_id``, and the
ledger skips what earlier runs converted, exactly as for a bucket.

Content identity is ``size`` + ``mtime_ns`` from the directory walk's own ``stat``
(``os.scandir`` gives it without opening the file), the local twin of an ETag read from a
listing. A content hash would be exact but would read every byte of the whole folder on
every run just to decide that (nearly) nothing changed: for an archive of 1,000,000
documents that is the archive's full size read daily, where the stat costs nothing
extra. What the stat misses is a rewrite that keeps both the size and the nanosecond
mtime (a tool restoring timestamps on purpose); what it over-counts is a ``touch``
without change, which re-converts one document (the safe direction).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.incremental import Selection, WalkStats, select_item, time_window
from airflow_provider_mathpix.prefix_walk import ListedObject, walk_listing
from airflow_provider_mathpix.storage import LOCAL_PROTOCOLS, SourcePrefixUnreadable, validate_walk_options

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_mathpix.hooks.mathpix import MathpixHook

#: Uploads in flight at once (each streams its file in 64 KB reads: memory stays small).
UPLOAD_CONCURRENCY = 4
#: Item keys the upload sends as per-file options (``source_uri`` names the file to read).
_ITEM_OPTIONS = ("destination_uri", "destination_basename", "page_ranges")


def local_path_of(source: str | ObjectStoragePath | None) -> str | None:
    """The local path ``source`` names (``/abs``, ``file:///abs``, a local ObjectStoragePath), else None."""
    if source is None:
        return None
    if not isinstance(source, str):
        if str(getattr(source, "protocol", "") or "") not in LOCAL_PROTOCOLS:
            return None
        source = str(getattr(source, "path", None) or source)
    parts = urlsplit(source)
    if parts.scheme == "file":
        return unquote(parts.path)
    if os.path.isabs(source):
        return source
    return None


def local_folder(source: str | ObjectStoragePath, field: str = "source_prefix") -> Path:
    """The folder a local ``source`` names; raises naming ``field`` when it is not one."""
    path = local_path_of(source)
    if path is None:
        raise MathpixValidationError(f"{field} {str(source)!r} is not a local path")
    folder = Path(path)
    if not folder.exists():
        raise MathpixValidationError(f"{field} {str(source)!r}: the local folder {path} does not exist")
    if not folder.is_dir():
        raise MathpixValidationError(f"{field} {str(source)!r}: {path} is a file, not a folder")
    return folder


def _entries(folder: str) -> Iterator[tuple[str, os.stat_result]]:
    """Regular files under ``folder`` (recursively), with the stat the walk already has.

    One directory is open at a time beyond the stack of pending sub-folders, so memory
    grows with the tree's depth and breadth of folders, never with the number of files.
    Symlinked files are followed; symlinked folders are not (as ``os.walk``), so a link
    back to a parent cannot make the walk endless.
    """
    pending = [folder]
    while pending:
        current = pending.pop()
        with os.scandir(current) as scan:
            for entry in scan:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=True):
                    st = entry.stat(follow_symlinks=True)
                    if stat.S_ISREG(st.st_mode):
                        yield entry.path, st


def iter_local_items(
    source_prefix: str | ObjectStoragePath,
    *,
    pattern: str | None = None,
    suffixes: Sequence[str] | None = None,
    modified_after: datetime | str | None = None,
    modified_before: datetime | str | None = None,
    already_converted: Callable[[bytes], bool] | None = None,
    stats: WalkStats | None = None,
    on_empty: str = "fail",
    destination_prefix: str | None = None,
) -> Iterator[dict[str, str]]:
    """The local twin of :func:`incremental.iter_incremental_items` (same items, same ids).

    ``source_uri`` is the file's ``file://`` URI (the upload reads it back from there).
    Options and the folder are checked when this is called, not on first iteration.
    """
    folder = local_folder(source_prefix)
    validate_walk_options(pattern, suffixes, on_empty, destination_prefix)
    after, before = time_window(modified_after, modified_before)
    sel = Selection(after, before, already_converted, stats or WalkStats(), destination_prefix)
    return _walk(folder, pattern, suffixes, sel, on_empty)


def _walk(
    folder: Path, pattern: str | None, suffixes: Sequence[str] | None, sel: Selection, on_empty: str
) -> Iterator[dict[str, str]]:
    root = Path(folder.resolve())
    return walk_listing(
        _listed(str(root)),
        prefix="",
        pattern=pattern,
        suffixes=suffixes,
        make_item=lambda obj, relative: select_item(
            relative, (root / relative).as_uri(), obj.identity, obj.modified, sel
        ),
        unreadable=lambda exc: SourcePrefixUnreadable(
            f"source_prefix {folder}: cannot read the local folder: {exc}"
        ),
        on_empty=on_empty,
        nothing_matched=f"source_prefix {folder} matched no file",
        empty_hint="; set allow_empty=True to accept an empty folder",
        read_errors=(OSError,),
    )


def _listed(root: str) -> Iterator[ListedObject]:
    """The folder as a listing: keys relative to it, identity and time from the walk's stat."""
    for path, st in _entries(root):
        relative = os.path.relpath(path, root).replace(os.sep, "/")
        modified = datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=timezone.utc)
        yield ListedObject(relative, f"stat:{st.st_size}:{st.st_mtime_ns}", modified)


def _upload(hook: MathpixHook, item: Mapping[str, Any], job_id: str, options: Mapping[str, Any]) -> str:
    per_file = {key: item[key] for key in _ITEM_OPTIONS if item.get(key)}
    path = local_path_of(str(item["source_uri"]))
    return hook.upload_file(
        path,  # type: ignore[arg-type]
        str(item.get("filename") or item["source_uri"]),
        job_id=job_id,
        custom_id=item["custom_id"],
        **{**options, **per_file},
    )


def upload_job(
    hook: MathpixHook,
    items: Iterator[Mapping[str, Any]],
    *,
    job_id: str,
    concurrency: int = UPLOAD_CONCURRENCY,
    **options: Any,
) -> dict[str, Any]:
    """Upload each local item into ``job_id``, at most ``concurrency`` at once.

    Returns ``{"job_id", "file_count"}`` like :meth:`MathpixHook.submit_job`. The window
    of futures is bounded, so the walk is consumed only as fast as uploads finish: memory
    holds ``concurrency`` items, never the listing. The first failed upload fails the call
    (after the ones in flight end); a retry re-sends every item and Mathpix hands back the
    files already created for their ``(job_id, custom_id)``.
    """
    if concurrency < 1:
        raise MathpixValidationError(f"upload concurrency must be at least 1, got {concurrency}")
    count = 0
    in_flight: set[Future[str]] = set()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mathpix-upload") as pool:
        try:
            for item in items:
                if len(in_flight) >= concurrency:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()
                in_flight.add(pool.submit(_upload, hook, item, job_id, options))
                count += 1
            for future in in_flight:
                future.result()
        finally:
            for future in in_flight:
                future.cancel()
    return {"job_id": job_id, "file_count": count}
