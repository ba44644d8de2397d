"""A `.mlir` file holds StableHLO only: the Overview says once why there are no kernels,
costs or memory and describes the StableHLO; the Text screen opens on the StableHLO; bad
StableHLO shows its parse error in the app, not a crash."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("textual")

from rich.console import Console
from tui_helpers import settle

from hloscope.tui.app import make_app
from hloscope.tui.reports import Status
from hloscope.tui.screens.text import TextScreen

GOOD = """module @jit_f attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4xf32>) -> (tensor<4xf32>) {
    %0 = stablehlo.add %arg0, %arg0 : tensor<4xf32>
    %1 = stablehlo.multiply %0, %0 : tensor<4xf32>
    return %1 : tensor<4xf32>
  }
}
"""


def shown(widget: Any) -> str:
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


async def test_overview_and_text_on_a_stablehlo_file(tmp_path: Path) -> None:
    f = tmp_path / "f.mlir"
    f.write_text(GOOD)
    app = make_app([str(f)], hardware="h100-sxm")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.session.phase == "ready"
        screen = app.screen
        assert "StableHLO only" in shown(screen.query_one("#ov-step"))
        assert "jit_f: 3 ops in 1 functions" in shown(screen.query_one("#ov-totals"))
        # Only the StableHLO was asked for: no pass that needs optimized HLO ran and failed.
        assert not app.reports.errors
        assert {n for n, s in app.reports._states.items() if s.status is Status.READY} >= {
            "stablehlo", "stablehlo_facts"
        }
        await pilot.press("t")
        await settle(pilot)
        text = app.screen
        assert isinstance(text, TextScreen)
        assert text.doc == "stablehlo"
        await pilot.press("tab")  # the user's choice stays
        await settle(pilot)
        assert text.doc == "hlo"


async def test_bad_stablehlo_shows_its_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.mlir"
    f.write_text(GOOD.replace("stablehlo.multiply %0, %0", "stablehlo.multiply %0,"))
    app = make_app([str(f)], hardware="h100-sxm")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.is_running
        state = app.reports.state("stablehlo_facts")
        assert state.status is Status.FAILED
        assert state.message.startswith(f"{f}:4:")
        assert f"{f}:4:" in shown(app.screen.query_one("#ov-totals"))
