"""Snapshots of every screen on the fixed transformer bundle, at a fixed terminal size.

The fixture bundles are fixed (tests/tui/make_fixtures.py), the hardware is named (`cpu` is
measured, so it varies) and nothing rendered depends on time, paths or versions. After an
intended change of the UI: `pytest tests/tui --snapshot-update`, then read the diff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

pytest.importorskip("pytest_textual_snapshot")

from tui_helpers import HARDWARE, SIZE, TRANSFORMER, TRANSFORMER_4DEV, settle

import hloscope
from hloscope.tui.app import make_app

_ANALYSES: dict[str, Any] = {}


def analysis(path: Any) -> Any:
    """One Analysis per bundle for the whole module: the app reuses its computed reports."""
    key = str(path)
    if key not in _ANALYSES:
        _ANALYSES[key] = hloscope.analyze(hloscope.load(path), hardware=HARDWARE)
    return _ANALYSES[key]


def keys(*presses: str) -> Callable[[Any], Awaitable[None]]:
    """Settle, press the keys (settling after each), settle again."""

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        for k in presses:
            await pilot.press(k)
            await settle(pilot)

    return run_before


def app(paths: Sequence[Any] = (TRANSFORMER,)) -> Any:
    return make_app(analyses=[analysis(p) for p in paths])


SCREENS = {
    "overview": (),
    "kernels": ("k",),
    "kernel_instructions": ("k", "enter"),
    "kernel_hlo": ("k", "enter", "2"),
    "source": ("s", "enter"),
    "collectives": ("c",),
    "devices": ("d",),
    "devices_matrix": ("d", "x", "tab"),
    "memory": ("m",),
    "text_hlo": ("t",),
    "text_stablehlo": ("t", "tab"),
    "help": ("k", "question_mark"),
    "kernels_filtered": ("k", "slash", *"all-gather", "enter"),
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_screen(snap_compare: Any, name: str) -> None:
    assert snap_compare(app(), terminal_size=SIZE, run_before=keys(*SCREENS[name]))


def test_overview_at_100x30(snap_compare: Any) -> None:
    assert snap_compare(app(), terminal_size=(100, 30), run_before=keys())


def test_diff(snap_compare: Any) -> None:
    assert snap_compare(app((TRANSFORMER, TRANSFORMER_4DEV)), terminal_size=SIZE,
                        run_before=keys())


def test_diff_kernels(snap_compare: Any) -> None:
    assert snap_compare(app((TRANSFORMER, TRANSFORMER_4DEV)), terminal_size=SIZE,
                        run_before=keys("2"))
