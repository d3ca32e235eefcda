"""Where upload bytes come from and where download bytes go, retry-safe and streamed.

An upload is never read whole into memory (httpx streams the file part in chunks), and
a retried attempt starts again from the beginning: a path is reopened, a seekable file
object rewound. A download is written to ``<path>.part`` and renamed only once complete,
so a failed or retried download never leaves a truncated output that looks finished.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import IO

from airflow_provider_mathpix.exceptions import MathpixError, MathpixValidationError

PathOrFile = str | os.PathLike[str] | IO[bytes]


class UploadSource:
    """The file part of an upload: a local path or any binary file object."""

    def __init__(self, path_or_fileobj: PathOrFile, filename: str | None) -> None:
        self._attempts = 0
        if isinstance(path_or_fileobj, (str, os.PathLike)):
            self.path: str | None = os.fspath(path_or_fileobj)
            if not os.path.isfile(self.path):
                raise MathpixValidationError(f"path_or_fileobj {self.path!r} is not an existing file")
            self.fileobj: IO[bytes] | None = None
            self.filename = filename or os.path.basename(self.path)
            self.rewindable = True
            return
        if not hasattr(path_or_fileobj, "read") or isinstance(path_or_fileobj, io.TextIOBase):
            raise MathpixValidationError(
                "path_or_fileobj must be a path or a file object opened in binary mode"
            )
        self.path = None
        self.fileobj = path_or_fileobj
        name = getattr(path_or_fileobj, "name", None)
        self.filename = filename or (os.path.basename(name) if isinstance(name, str) else "")
        if not self.filename:
            raise MathpixValidationError("filename is required when uploading a file object without a name")
        seekable = getattr(path_or_fileobj, "seekable", None)
        self.rewindable = bool(seekable and seekable())

    def open(self) -> IO[bytes]:
        """The stream for one attempt (a new handle for a path; the same object, rewound by httpx)."""
        if self._attempts and not self.rewindable:
            raise MathpixError(
                f"upload of {self.filename!r} failed and cannot be re-sent: the file object is not seekable"
            )
        self._attempts += 1
        if self.path is not None:
            return open(self.path, "rb")  # closed by the caller after the attempt
        assert self.fileobj is not None
        return self.fileobj

    def close(self, handle: IO[bytes]) -> None:
        if self.path is not None:
            handle.close()


class DownloadSink:
    """The target of a streamed download: a local path or a writable binary file object."""

    def __init__(self, to: PathOrFile) -> None:
        self._written = 0
        self._handle: IO[bytes] | None = None
        if isinstance(to, (str, os.PathLike)):
            self.path: str | None = os.fspath(to)
            parent = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(parent):
                raise MathpixValidationError(f"to: directory {parent!r} does not exist")
            self.fileobj: IO[bytes] | None = None
            self._start = 0
            return
        if not hasattr(to, "write") or isinstance(to, io.TextIOBase):
            raise MathpixValidationError("to must be a path or a file object opened in binary mode")
        self.path = None
        self.fileobj = to
        seekable = getattr(to, "seekable", None)
        self._start = to.tell() if seekable and seekable() else -1

    @property
    def written(self) -> int:
        return self._written

    def begin(self) -> None:
        """Start (or restart) an attempt from an empty target."""
        if self.path is not None:
            if self._handle is not None:
                self._handle.close()
            self._handle = open(self.path + ".part", "wb")  # noqa: SIM115 - closed in commit/abort
        elif self._written:
            if self._start < 0:
                raise MathpixError("download failed mid-stream and the target file object is not seekable")
            assert self.fileobj is not None
            self.fileobj.seek(self._start)
            self.fileobj.truncate()
        self._written = 0

    def write(self, chunk: bytes) -> None:
        target = self._handle if self.path is not None else self.fileobj
        assert target is not None
        target.write(chunk)
        self._written += len(chunk)

    def commit(self) -> int:
        if self.path is not None and self._handle is not None:
            self._handle.close()
            self._handle = None
            os.replace(self.path + ".part", self.path)
        return self._written

    def abort(self) -> None:
        if self.path is not None and self._handle is not None:
            self._handle.close()
            self._handle = None
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path + ".part")

    def __repr__(self) -> str:
        return f"DownloadSink({self.path or self.fileobj!r})"
