"""Kernels: every kernel in one virtual table, most expensive first, with bars; `/` filters,
`r` changes the order, Enter opens a kernel."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Static

from hloscope.tui import rows
from hloscope.tui.screens.base import HloscopeScreen
from hloscope.tui.widgets.chrome import Line, state_text
from hloscope.tui.widgets.vtable import Row, VirtualTable

SORTS: tuple[tuple[str, str], ...] = (
    ("time", "estimated time"),
    ("flops", "FLOPs"),
    ("bytes", "bytes"),
    ("name", "name"),
)


class KernelsScreen(HloscopeScreen):
    MODE = "kernels"
    SCREEN_TITLE = "Kernels"
    NEEDS: ClassVar[tuple[str, ...]] = ("fusion", "roofline", "sharding")
    HELP = (
        "Every kernel XLA will launch: a fusion, or an instruction left unfused. est./step is "
        "the roofline estimate on the chosen hardware (max of FLOPs ÷ peak and bytes ÷ "
        "bandwidth, or the network model for collectives) times the runs per step (loops); "
        "'bound' says which limit wins. FLOPs and bytes are per run. "
        "/ filters (all words must match: name, opcode, source, scope). r changes the order."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "cycle_sort", "Order"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sort = "time"
        self._rows: list[Row] = []

    def compose_body(self) -> Iterable[Widget]:
        yield Line(id="k-summary", classes="summary")
        yield VirtualTable(rows.KERNEL_COLUMNS, id="k-table")

    def on_mount(self) -> None:
        super().on_mount()
        self.safe_refresh()

    def focus_body(self) -> None:
        self.query_one("#k-table", VirtualTable).focus()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#k-table", VirtualTable)

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        fusion = self.value("fusion")
        if fusion is None:
            self.table.set_rows([])
            self.table.empty_text = state_text(self.state("fusion"), "kernels").plain
            self._summary()
            return
        roof = self.value("roofline")
        self._build(fusion, roof, self.value("sharding"), self.sort)

    @work(thread=True, exclusive=True, group="kernel-rows")
    def _build(self, fusion: Any, roof: Any, sharding: Any, sort: str) -> None:
        built = rows.kernel_rows(fusion, roof, full=True, sort=sort, sharding=sharding)
        self.app.call_from_thread(self._show, built)

    def _show(self, built: list[Row]) -> None:
        self._rows = built
        self.table.set_rows(built)
        self.table.empty_text = "no kernels"
        self._summary()
        if self.focused is None:
            self.table.focus()

    def _summary(self) -> None:
        fusion = self.value("fusion")
        text = state_text(self.state("fusion"), "kernels")
        if fusion is not None:
            roof_state = self.state("roofline")
            label = dict(SORTS)[self.sort]
            text = rows.kernels_summary(fusion, self.value("roofline"), label)
            if not roof_state.ready:
                text.append("   ")
                text.append_text(state_text(roof_state, "estimates"))
        if self.table.filter_text:
            text.append(f"   filter “{self.table.filter_text}”: {len(self.table.view)} shown")
        self.query_one("#k-summary", Static).update(text)

    # -- interaction ------------------------------------------------------------------------

    def action_cycle_sort(self) -> None:
        keys = [k for k, _ in SORTS]
        self.sort = keys[(keys.index(self.sort) + 1) % len(keys)]
        self.safe_refresh()

    def on_virtual_table_header_clicked(self, event: VirtualTable.HeaderClicked) -> None:
        key = {"time": "time", "bar": "time", "flops": "flops", "bytes": "bytes",
               "name": "name"}.get(event.column.key)
        if key and key != self.sort:
            self.sort = key
            self.refresh_data()

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        self.hs.open_kernel(event.row.key)

    def search_changed(self, text: str) -> None:
        self.table.set_filter(text)
        self._summary()

    def search_done(self, text: str, *, cancelled: bool) -> None:
        if cancelled:
            self.table.set_filter("")
            self._summary()
        self.table.focus()
