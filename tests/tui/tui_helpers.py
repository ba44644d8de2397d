"""Helpers of the TUI tests: the fixed fixture bundles and a way to wait until the app has
finished loading and computing (so assertions and snapshots see settled screens)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
TRANSFORMER = DATA / "transformer.hlos"
TRANSFORMER_4DEV = DATA / "transformer_4dev.hlos"
HARDWARE = "h100-sxm"
"""Fixed hardware: `cpu` is measured on the machine, so its estimates vary."""
SIZE = (120, 36)


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
