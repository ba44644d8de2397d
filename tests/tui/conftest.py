"""Fixtures of the TUI tests, and running `async def` tests without pytest-asyncio."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from tui_helpers import HARDWARE, TRANSFORMER, TRANSFORMER_4DEV


@pytest.fixture(scope="session")
def transformer() -> Any:
    import hloscope

    return hloscope.load(TRANSFORMER)


@pytest.fixture(scope="session")
def transformer_4dev() -> Any:
    import hloscope

    return hloscope.load(TRANSFORMER_4DEV)


@pytest.fixture(scope="session")
def analysis(transformer: Any) -> Any:
    """One Analysis shared by the tests: reports are immutable, and computing them once
    keeps the TUI tests fast (the app reuses what an Analysis already holds)."""
    import hloscope

    return hloscope.analyze(transformer, hardware=HARDWARE)


@pytest.fixture(scope="session")
def analysis_4dev(transformer_4dev: Any) -> Any:
    import hloscope

    return hloscope.analyze(transformer_4dev, hardware=HARDWARE)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: Any) -> bool | None:
    """Run `async def` tests in a fresh event loop (no pytest-asyncio needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
        return True
    return None
