"""Run a storage emulator as a subprocess: a free port, start until it answers, stop.

A subprocess keeps the server's memory and CPU out of the process under test (the
storage benchmarks measure the provider's RSS), and a hung server can be killed
without taking the test run with it. Its output goes to a temporary log whose tail
explains a failed start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT = 60.0


class StorageServerError(RuntimeError):
    """A storage emulator could not be started (the message carries the tail of its log)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_azurite() -> str | None:
    """Locate the ``azurite-blob`` executable.

    Looked up in ``$AZURITE_BIN``, then the Makefile's local npm install
    (``.tools/node_modules/.bin`` at the repository root), then ``PATH``.
    """
    explicit = os.environ.get("AZURITE_BIN")
    if explicit and Path(explicit).exists():
        return explicit
    repo_root = Path(__file__).resolve().parents[2]
    for name in ("azurite-blob", "azurite"):
        local = repo_root / ".tools" / "node_modules" / ".bin" / name
        if local.exists():
            return str(local)
    return shutil.which("azurite-blob") or shutil.which("azurite")


def _http_ready(url: str) -> bool:
    """Any HTTP answer (even 4xx) means the server is listening and speaking HTTP."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def start_process(
    cmd: list[str],
    ready_url: str,
    name: str,
    env: dict[str, str] | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> tuple[Any, Path]:
    log_fd, log_name = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    log_path = Path(log_name)
    with os.fdopen(log_fd, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StorageServerError(f"{name} exited with {proc.returncode}: {_tail(log_path)}")
        if _http_ready(ready_url):
            return proc, log_path
        time.sleep(0.1)
    stop_process(proc)
    raise StorageServerError(f"{name} not ready after {timeout:.0f}s: {_tail(log_path)}")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def running(proc: subprocess.Popen[bytes] | None, log_path: Path | None) -> Iterator[None]:
    """Stop ``proc`` and remove its log when the block ends, however it ends."""
    try:
        yield
    finally:
        stop_process(proc)
        if log_path is not None:
            with contextlib.suppress(OSError):
                log_path.unlink()
