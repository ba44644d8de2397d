"""Diff (`hloscope tui A B`): the two programs' totals side by side, then what explains the
difference: collectives added or removed, kernels changed, source lines by cost change.
`a` / `b` choose which program the other screens show."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from hloscope.tui import diff_info
from hloscope.tui.screens.base import HloscopeScreen
from hloscope.tui.widgets.chrome import state_text
from hloscope.tui.widgets.vtable import VirtualTable


class DiffScreen(HloscopeScreen):
    MODE = "diff"
    SCREEN_TITLE = "Diff"
    NEEDS: ClassVar[tuple[str, ...]] = ("diff",)
    HELP = (
        "Two programs compared. Instructions are matched by structure (op_name scope, source "
        "line, opcode and shape, then graph neighbours), not by name. The totals table shows "
        "A, B and the change; the tabs below list what explains it. Enter on a kernel or "
        "collective opens it in its program. a / b: which program the other screens show."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "side(0)", "Show A"),
        Binding("b", "side(1)", "Show B"),
        Binding("1", "tab('df-collectives')", "Collectives", show=False),
        Binding("2", "tab('df-kernels')", "Kernels", show=False),
        Binding("3", "tab('df-sources')", "Lines", show=False),
    ]

    def compose_body(self) -> Iterable[Widget]:
        yield Static(id="df-totals", classes="panel")
        with TabbedContent(id="df-tabs", initial="df-collectives"):
            with TabPane("1 Collectives", id="df-collectives"):
                yield VirtualTable(diff_info.COLLECTIVE_COLUMNS, id="df-ctable")
            with TabPane("2 Kernels", id="df-kernels"):
                yield VirtualTable(diff_info.KERNEL_COLUMNS, id="df-ktable")
            with TabPane("3 Source lines", id="df-sources"):
                yield VirtualTable(diff_info.SOURCE_COLUMNS, id="df-stable")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#df-totals").border_title = "A vs B"
        self.safe_refresh()

    def focus_body(self) -> None:
        self.query_one("#df-ctable", VirtualTable).focus()

    def action_side(self, side: int) -> None:
        self.session.set_side(self.hs, side)
        self.notify(f"other screens now show {'AB'[side]}: {self.session.labels[side]}",
                    timeout=3)

    def action_tab(self, pane: str) -> None:
        self.query_one("#df-tabs", TabbedContent).active = pane
        table = {"df-collectives": "#df-ctable", "df-kernels": "#df-ktable",
                 "df-sources": "#df-stable"}[pane]
        self.query_one(table).focus()

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        st = self.state("diff")
        totals = self.query_one("#df-totals", Static)
        tables = [self.query_one(f"#{t}", VirtualTable)
                  for t in ("df-ctable", "df-ktable", "df-stable")]
        if not st.ready:
            totals.update(state_text(st, "diff"))
            for t in tables:
                t.set_rows([])
                t.empty_text = state_text(st, "diff").plain
            return
        report: Any = st.value
        totals.update(diff_info.totals(report, self.session.labels,
                                       self.session.hardware_name))
        tables[0].set_rows(diff_info.collective_rows(report))
        tables[0].empty_text = "no collective changes"
        tables[1].set_rows(diff_info.kernel_rows(report))
        tables[1].empty_text = "no kernel changes"
        tables[2].set_rows(diff_info.source_rows(report))
        tables[2].empty_text = "no source lines changed cost"
        if self.focused is None:
            tables[0].focus()

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        key = event.row.key
        if not isinstance(key, tuple) or len(key) != 3:
            return
        kind, side, name = key
        self.session.set_side(self.hs, side)
        if kind == "kernel":
            self.hs.switch_mode("kernels")
            self.hs.open_kernel(name)
        elif kind == "collective":
            self.hs.open_instruction(name)
        elif kind == "source":
            self.hs.open_source(name)

    def search_changed(self, text: str) -> None:
        for t in ("df-ctable", "df-ktable", "df-stable"):
            self.query_one(f"#{t}", VirtualTable).set_filter(text)
