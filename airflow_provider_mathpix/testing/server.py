"""``MathpixEmulator``: the app served by uvicorn on a background thread, as a context manager."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from .config import EmulatorConfig
from .runtime import Runtime


class MathpixEmulator:
    """A local stand-in for ``api.mathpix.com`` (see ``docs/emulator.md``).

    >>> with MathpixEmulator() as emu:          # doctest: +SKIP
    ...     httpx.get(f"{emu.url}/files/v1/jobs", headers={"app_key": "any"})
    """

    def __init__(
        self,
        *,
        app_keys: Iterable[str] | None = None,
        app_ids: Iterable[str] | None = None,
        time_per_file: float = 0.05,
        time_per_page: float = 0.02,
        format_lag: float = 0.05,
        time_per_image: float = 0.02,
        faults: list[dict[str, Any]] | None = None,
        seed: int = 0,
        storage: dict[str, Any] | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        **settings: Any,
    ) -> None:
        self.config = EmulatorConfig(
            app_keys=frozenset(app_keys) if app_keys is not None else None,
            app_ids=frozenset(app_ids) if app_ids is not None else None,
            time_per_file=time_per_file,
            time_per_page=time_per_page,
            format_lag=format_lag,
            time_per_image=time_per_image,
            faults=list(faults or []),
            seed=seed,
            storage=storage,
            **settings,
        )
        self.host = host
        self.port = port
        self.runtime: Runtime | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> MathpixEmulator:
        """Bind the port, start uvicorn on a daemon thread, and wait until it serves."""
        import uvicorn

        from .app import create_app
        from .fault_middleware import HideInjectedDrops

        if self._thread is not None:
            return self
        self.runtime = Runtime(self.config)
        app = create_app(self.runtime)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        error_log = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, HideInjectedDrops) for f in error_log.filters):
            error_log.addFilter(HideInjectedDrops())
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            limit_concurrency=None,
            h11_max_incomplete_event_size=None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="mathpix-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Mathpix emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and the background workers."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.runtime is not None:
            self.runtime.close()
        self._thread = None
        self._server = None

    def __enter__(self) -> MathpixEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- control (the same as the /_emulator HTTP twins) -----------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (use it as the connection's host)."""
        return f"http://{self.host}:{self.port}"

    def _rt(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("the emulator is not running; use `with MathpixEmulator() as emu:`")
        return self.runtime

    def stats(self) -> dict[str, Any]:
        """Counters: ``requests``, ``files_created``, ``duplicates_absorbed``, ``jobs_created``, …"""
        return self._rt().stats_snapshot()

    def arrivals(self) -> list[tuple[float, str, str]]:
        """``(epoch seconds, method, path)`` of each API request as it arrived (the latest 200,000)."""
        return self._rt().stats.arrivals()

    def set_faults(self, faults: list[dict[str, Any]]) -> None:
        """Replace the fault rules (counts and seeded coins start afresh)."""
        self._rt().faults.set(list(faults))

    def configure(self, **settings: Any) -> None:
        """Change timing/limits at run time (``reset()`` restores the start values)."""
        self._rt().configure(**settings)

    def reset(self) -> None:
        """Forget all state and counters; restore the configuration the emulator started with."""
        self._rt().reset()

    @property
    def webhook_secret(self) -> str:
        """The signing secret (also served by ``GET /files/v1/webhook-config``)."""
        return self._rt().webhook_secret
