"""pytest fixtures for the Mathpix emulator (entry point ``pytest11``: ``mathpix_emulator``).

- ``mathpix_emulator``: a running :class:`MathpixEmulator` with clean state and the
  default configuration for every test. One server serves the whole session and is
  ``reset()`` before each test (fast); nothing leaks between tests.
- ``mathpix_emulator_factory``: ``factory(**config)`` starts a dedicated emulator
  with custom settings (app-key allow-list, faults, timing, storage), stopped at
  the end of the test.

Importing this module imports neither Airflow nor the provider (the emulator
modules load when a fixture is first used).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_mathpix.testing.server import MathpixEmulator


@pytest.fixture(scope="session")
def _mathpix_emulator_session() -> Iterator[MathpixEmulator]:
    from airflow_provider_mathpix.testing.server import MathpixEmulator

    emu = MathpixEmulator()
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def mathpix_emulator(_mathpix_emulator_session: MathpixEmulator) -> Iterator[MathpixEmulator]:
    """A running emulator with fresh state and default settings (``.url``, ``.stats()``, …)."""
    _mathpix_emulator_session.reset()
    yield _mathpix_emulator_session
    _mathpix_emulator_session.reset()


@pytest.fixture
def mathpix_emulator_factory() -> Iterator[Callable[..., MathpixEmulator]]:
    """Start emulators with custom settings: ``emu = mathpix_emulator_factory(app_keys=["k"], seed=7)``."""
    from airflow_provider_mathpix.testing.server import MathpixEmulator

    started: list[MathpixEmulator] = []

    def factory(**config: Any) -> MathpixEmulator:
        emu = MathpixEmulator(**config).start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        emu.stop()
