"""The Diff screen driven with Pilot on the two fixed transformer bundles: Enter on a
parameter opens its definition in its program's HLO text, and at 100x32 the screen has no
blank gap and shows the totals' figures whole."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("textual")

from rich.console import Console
from tui_helpers import settle

from hloscope.passes.diff_report import ParameterChange
from hloscope.tui import diff_info
from hloscope.tui.app import make_app
from hloscope.tui.screens.diff import DiffScreen
from hloscope.tui.screens.text import TextScreen
from hloscope.tui.widgets.vtable import VirtualTable

SMALL = (100, 32)


def plain(widget: Any) -> list[str]:
    """The lines a Static shows at its width."""
    console = Console(width=widget.size.width, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text().splitlines()


async def test_enter_on_a_parameter_opens_its_definition_in_b(
    analysis: Any, analysis_4dev: Any
) -> None:
    app = make_app(analyses=[analysis, analysis_4dev])
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DiffScreen)
        await pilot.press("4")
        await settle(pilot)
        table = app.screen.query_one("#df-table", VirtualTable)
        report = app.reports.value("diff")
        changed = [p for p in report.parameters if p.status == "changed"]
        assert changed
        param = changed[-1]  # not the first row: Enter must open the row under the cursor
        assert table.find_key(("parameter", 1, param.name_b))
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.side == 1  # both sides have it: B's text, as for collectives
        screen = app.screen
        assert isinstance(screen, TextScreen)
        index = app.reports.value("index")
        line = index.line_of(param.name_b)
        assert line >= 0
        assert screen.code.cursor_line == line
        text = screen.code.lines[line]
        assert f"{param.name_b} = " in text
        assert "parameter(" in text
        assert param.shape_b in text  # B's shape, not A's
        assert param.shape_a not in text


def test_parameter_rows_point_at_the_side_that_has_it() -> None:
    common = {"label": "w", "sharding_a": None, "sharding_b": None}
    report = SimpleNamespace(
        parameters=(
            ParameterChange(
                status="removed", shape_a="f32[2]", shape_b=None, name_a="p.1", **common
            ),
            ParameterChange(status="added", shape_a=None, shape_b="f32[4]", name_b="p.9", **common),
            ParameterChange(
                status="changed",
                shape_a="f32[2]",
                shape_b="f32[4]",
                name_a="p.1",
                name_b="p.2",
                **common,
            ),
        )
    )
    keys = [r.key for r in diff_info.parameter_rows(report)]
    assert keys == [("parameter", 0, "p.1"), ("parameter", 1, "p.9"), ("parameter", 1, "p.2")]


async def test_no_blank_gap_at_100x32(analysis: Any, analysis_4dev: Any) -> None:
    app = make_app(analyses=[analysis, analysis_4dev])
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = app.screen
        top, tabs, note, table, status = (
            screen.query_one(f"#{i}").region
            for i in ("df-top", "df-tabs", "df-note", "df-table", "status")
        )
        # Totals panel, one tab line, one note line, then the table down to the status line.
        assert tabs.y == top.bottom
        assert tabs.height == 1
        assert note.y == tabs.bottom
        assert table.y == note.bottom
        assert table.bottom == status.y
        assert top.height <= SMALL[1] // 2
        assert table.height >= 10
        assert len(screen.query_one("#df-table", VirtualTable).rows) >= table.height - 1


async def test_totals_figures_are_whole_at_100_columns(analysis: Any, analysis_4dev: Any) -> None:
    app = make_app(analyses=[analysis, analysis_4dev])
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        report = app.reports.value("diff")
        lines = plain(app.screen.query_one("#df-totals"))
        labels = app.session.labels
        assert lines[2].strip() == f"A  {labels[0]}"
        assert lines[3].strip() == f"B  {labels[1]}"
        assert lines[4].split() == ["A", "B", "Δ"]
        shown = lines[5 : 5 + len(report.totals)]
        assert len(shown) == len(report.totals)
        for ln, row in zip(shown, report.totals, strict=True):
            assert ln.strip().startswith(row.label.strip())
            assert "…" not in ln, ln  # a cut figure would be a wrong one
