"""Collectives: every collective of the partitioned program, with the mesh axes it spans,
the bytes each device moves, the estimated time, and why XLA put it there."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.widget import Widget
from textual.widgets import Static

from hloscope.tui import rows
from hloscope.tui.screens.base import HloscopeScreen
from hloscope.tui.widgets.chrome import Line, state_text
from hloscope.tui.widgets.vtable import VirtualTable


class CollectivesScreen(HloscopeScreen):
    MODE = "collectives"
    SCREEN_TITLE = "Collectives"
    NEEDS: ClassVar[tuple[str, ...]] = ("sharding",)
    HELP = (
        "Each collective the SPMD partitioner inserted (async start/done counted once). Axes: "
        "the mesh axes its device groups span. bytes/dev: what one device sends per run; × "
        "runs per step; est.: the time on the chosen hardware's links by the algorithm model "
        "shown below the table (an estimate). Enter shows it in the HLO text."
    )

    def compose_body(self) -> Iterable[Widget]:
        yield Line(id="c-summary", classes="summary")
        yield VirtualTable(rows.COLLECTIVE_COLUMNS, id="c-table")
        yield Static(id="c-detail", classes="detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.safe_refresh()

    def focus_body(self) -> None:
        self.query_one("#c-table", VirtualTable).focus()

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        table = self.query_one("#c-table", VirtualTable)
        st = self.state("sharding")
        summary = self.query_one("#c-summary", Static)
        if not st.ready:
            table.set_rows([])
            table.empty_text = state_text(st, "collectives").plain
            summary.update(state_text(st, "collectives"))
            return
        table.set_rows(rows.collective_rows(st.value))
        table.empty_text = "no collectives: this program does not communicate"
        summary.update(rows.collectives_header(st.value, self.session.hardware_name))
        self._detail(table.current.key if table.current else None)
        if self.focused is None:
            table.focus()

    def _detail(self, name: object) -> None:
        sharding = self.value("sharding")
        panel = self.query_one("#c-detail", Static)
        if sharding is None or name is None:
            panel.update("")
            return
        panel.update(rows.collective_detail(sharding, str(name)))

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        self._detail(event.row.key if event.row else None)

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        self.hs.open_instruction(str(event.row.key))

    def search_changed(self, text: str) -> None:
        self.query_one("#c-table", VirtualTable).set_filter(text)

    def search_done(self, text: str, *, cancelled: bool) -> None:
        if cancelled:
            self.query_one("#c-table", VirtualTable).set_filter("")
        self.focus_body()
