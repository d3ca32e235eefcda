"""What the demo prints: a line per setup step with its time, the provider's own progress
as it happens, and nothing of Airflow's internals (those go to a log file whose path is shown).

Why redirect file descriptors rather than configure loggers: Airflow, alembic, structlog,
the task runner and the storage emulators' subprocesses each write to stdout/stderr their
own way, and differently on each Airflow release. Pointing fds 1 and 2 at the log file
catches all of them; the console keeps a duplicate of the real stdout for its own lines.
The provider's progress is picked out of that same log as it is written (a follower
thread), so what is shown is exactly what a deployment's task log says.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

#: Log lines of the provider's own loggers (operators, sensors, triggers, hooks).
_PROVIDER_LINE = re.compile(r"airflow_provider_mathpix\.(operators|sensors|triggers)\.")
#: structlog's console layout (Airflow 3; the demo runs on the newest Airflow):
#: "<time> [<level>] <message> [<logger>] key=value ..."
_STRUCTLOG = re.compile(r"^\S+\s+\[(?P<level>\w+)\s*\]\s+(?P<message>.*?)\s+\[[\w.]+\]")
#: Ids the provider builds are long (``airflow:<dag>:<task>:<run>-<hash>``): show their tail.
_LONG_ID = re.compile(r"airflow:[\w.-]+:[\w.-]+:\S+-(?P<tail>[0-9a-f]{8})[0-9a-f]{8}\b")


def progress_message(line: str) -> tuple[str, str] | None:
    """``(level, message)`` of a provider log line worth showing, else None."""
    if not _PROVIDER_LINE.search(line):
        return None
    match = _STRUCTLOG.match(line)
    if match is None:
        return None
    return match.group("level").lower(), shorten_ids(match.group("message").strip())


def shorten_ids(text: str) -> str:
    """``text`` with each long provider-built id cut to ``…<8 hex>`` (still unique in a demo)."""
    return _LONG_ID.sub(lambda m: f"…{m.group('tail')}", text)


class Console:
    """Prints the demo's own lines; in quiet mode sends everything else to ``log_path``."""

    def __init__(self, log_path: Path, *, verbose: bool = False) -> None:
        self.log_path = log_path
        self.verbose = verbose
        self.started = time.monotonic()
        self._out: IO[str] = sys.stdout
        self._saved: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self._shown: set[str] = set()

    def line(self, text: str = "") -> None:
        self._out.write(text + "\n")
        self._out.flush()

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        """``  <title> ........ 1.2 s`` once the step is done (``failed`` if it raised)."""
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.line(f"  {title:.<58} failed")
            raise
        self.line(f"  {title:.<58} {time.monotonic() - started:5.1f} s")

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """Send fds 1 and 2 to the log file (unless verbose) and echo provider progress lines."""
        if self.verbose:
            yield
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = (os.dup(1), os.dup(2))
        self._out = os.fdopen(os.dup(self._saved[0]), "w", buffering=1, encoding="utf-8")
        with self.log_path.open("ab") as log:
            # The follower starts reading here, not at the end it finds when its thread gets
            # to run: lines written in between would otherwise never be shown.
            start = log.tell()
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        self._follower = threading.Thread(
            target=self._follow, args=(start,), name="demo-progress", daemon=True
        )
        self._follower.start()
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            self._stop.set()
            self._follower.join(timeout=5)
            os.dup2(self._saved[0], 1)
            os.dup2(self._saved[1], 2)
            for fd in self._saved:
                os.close(fd)
            self._out.close()
            self._out = sys.stdout

    def _follow(self, start: int) -> None:
        """Echo provider progress lines written to the log from ``start`` on (until stopped, then drain)."""
        with self.log_path.open("r", encoding="utf-8", errors="replace") as log:
            log.seek(start)
            pending = ""
            while True:
                chunk = log.readline()
                if chunk:
                    pending += chunk
                    if pending.endswith("\n"):
                        self._show(pending.rstrip("\n"))
                        pending = ""
                    continue
                if self._stop.is_set():
                    return
                time.sleep(0.1)

    def _show(self, line: str) -> None:
        found = progress_message(line)
        if found is None:
            return
        level, message = found
        if message in self._shown:  # the sensor re-reading the finished job says it again
            return
        self._shown.add(message)
        mark = "!" if level in {"warning", "error", "critical"} else "·"
        self.line(f"    {mark} {time.monotonic() - self.started:5.1f}s  {message}")
