"""Fixtures of the TUI tests, and running `async def` tests without pytest-asyncio."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from tui_helpers import TRANSFORMER, TRANSFORMER_4DEV

@pytest.fixture(scope="session")
def transformer() -> Any:
    import hloscope

    return hloscope.load(TRANSFORMER)


@pytest.fixture(scope="session")
def transformer_4dev() -> Any:
    import hloscope

    return hloscope.load(TRANSFORMER_4DEV)


def busy(app: Any) -> bool:
    """True while anything is loading, computing, or building rows."""
    if app.session.phase == "loading":
        return True
    if app.reports.pending():
        return True
    return any(w.is_running for w in app.workers)


async def settle(pilot: Any, timeout: float = 60.0) -> None:
    """Wait until the app is idle: loaded, reports computed, row workers done, messages
    processed. Fails the test rather than hanging."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"app still busy after {timeout}s: phase={app.session.phase} "
                f"pending={app.reports.pending()} workers={list(app.workers)}"
            )
        await pilot.pause(0.02)
        if busy(app):
            quiet = 0
            await asyncio.sleep(0.02)
        else:
            quiet += 1
    await pilot.pause()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: Any) -> bool | None:
    """Run `async def` tests in a fresh event loop (no pytest-asyncio needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
        return True
    return None
