"""Diff (`hloscope tui A B`): the two programs' totals side by side, then what explains the
difference: collectives, kernels, source lines, parameters and memory at the peak. Enter on a
row opens it in its program (B's when both have it); `a` / `b` choose which program the other
screens show."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from hloscope.tui import diff_info
from hloscope.tui.screens.base import HloscopeScreen
from hloscope.tui.widgets.chrome import Line, TabLine, state_text
from hloscope.tui.widgets.vtable import VirtualTable


class DiffScreen(HloscopeScreen):
    MODE = "diff"
    SCREEN_TITLE = "Diff"
    NEEDS: ClassVar[tuple[str, ...]] = ("diff",)
    HELP = (
        "Two programs compared. Instructions are matched by structure (op_name scope, source "
        "line, opcode and shape, then graph neighbours, then fused-body fingerprints), not by "
        "name. The table at the top shows A, B and the change (red: B costs more). The "
        "sections below list what explains it; Enter opens a row in the program it belongs "
        "to (B's when both have it): a kernel in the kernel view, a collective, parameter or "
        "buffer at its definition in the HLO text, a source line in the source view. a / b: "
        "which program the other screens show."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "side(0)", "Show A"),
        Binding("b", "side(1)", "Show B"),
        *(Binding(label[0], f"section('{key}')", label[2:], show=False)
          for key, label in diff_info.SECTIONS),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.section = diff_info.SECTIONS[0][0]

    def compose_body(self) -> Iterable[Widget]:
        with VerticalScroll(id="df-top", classes="panel"):
            yield Static(id="df-totals")
        yield TabLine(diff_info.SECTIONS, id="df-tabs")
        yield Line(id="df-note", classes="where")
        yield VirtualTable(diff_info.COLUMNS[self.section], id="df-table")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#df-top").border_title = "A vs B"
        self.safe_refresh()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#df-table", VirtualTable)

    def focus_body(self) -> None:
        self.table.focus()

    def action_side(self, side: int) -> None:
        if side >= len(self.session.analyses):
            return
        self.session.set_side(self.hs, side)
        self.notify(f"other screens now show {'AB'[side]}: {self.session.labels[side]}",
                    timeout=3)

    def action_section(self, section: str) -> None:
        self.section = section
        self.query_one("#df-tabs", TabLine).show(section)
        self.table.columns = diff_info.COLUMNS[section]
        self.table._widths = ()
        self.safe_refresh()
        self.table.focus()

    def on_tab_line_chosen(self, event: TabLine.Chosen) -> None:
        self.action_section(event.tab)

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        st = self.state("diff")
        totals = self.query_one("#df-totals", Static)
        note = self.query_one("#df-note", Line)
        if not st.ready:
            totals.update(state_text(st, "diff"))
            note.update("")
            self.table.set_rows([])
            self.table.empty_text = state_text(st, "diff").plain
            return
        report: Any = st.value
        totals.update(diff_info.totals(report, self.session.labels))
        self.table.set_rows(diff_info.section_rows(report, self.section))
        self.table.empty_text = (report.unavailable.get(self.section)
                                 or f"no {self.section} changed")
        note.update(diff_info.memory_header(report) if self.section == "memory" else "")
        if self.focused is None:
            self.table.focus()

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        key = event.row.key
        if not isinstance(key, tuple) or len(key) != 3 or not key[2]:
            return
        kind, side, name = key
        self.session.set_side(self.hs, side)
        if kind == "kernel":
            self.hs.open_kernel(name)
        elif kind in ("collective", "buffer", "parameter"):
            self.hs.open_instruction(name)
        elif kind == "source":
            self.hs.open_source(name)

    def search_changed(self, text: str) -> None:
        self.table.set_filter(text)

    def search_done(self, text: str, *, cancelled: bool) -> None:
        if cancelled:
            self.table.set_filter("")
        self.table.focus()
