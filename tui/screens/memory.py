"""Memory: bytes live over the schedule with the peak marked, and the buffers live at the
peak (largest first). Enter on a buffer shows where it is defined."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual import events
from textual.widget import Widget
from textual.widgets import Static

from hloscope.tui import fmt, rows, theme
from hloscope.tui.screens.base import HloscopeScreen
from hloscope.tui.widgets.chrome import Line, state_text
from hloscope.tui.widgets.plots import timeline_plot
from hloscope.tui.widgets.vtable import VirtualTable

PLOT_HEIGHT = 6


class MemoryScreen(HloscopeScreen):
    MODE = "memory"
    SCREEN_TITLE = "Memory"
    NEEDS: ClassVar[tuple[str, ...]] = ("memory",)
    HELP = (
        "Bytes live on one device at each step of XLA's schedule (the order of the optimized "
        "HLO), from buffer live ranges; ▼ marks the peak. XLA's own peak "
        "(memory_analysis) is shown beside ours. Below: the buffers alive at the peak, "
        "largest first; Enter shows the instruction that defines one."
    )

    def __init__(self) -> None:
        super().__init__()
        self._plot_width = -1

    def compose_body(self) -> Iterable[Widget]:
        yield Line(id="mm-head", classes="summary")
        yield Static(id="mm-plot", classes="panel")
        yield VirtualTable(rows.BUFFER_COLUMNS, id="mm-table", classes="panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#mm-plot").border_title = "Live bytes over the schedule (step →)"
        self.query_one("#mm-table").border_title = "Buffers live at the peak"
        self.safe_refresh()

    def focus_body(self) -> None:
        self.query_one("#mm-table", VirtualTable).focus()

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._plot_width:
            self._plot()

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        st = self.state("memory")
        head = self.query_one("#mm-head", Static)
        table = self.query_one("#mm-table", VirtualTable)
        if not st.ready:
            head.update(state_text(st, "memory"))
            table.set_rows([])
            table.empty_text = state_text(st, "buffers").plain
            self._plot()
            return
        m = st.value
        head.update(rows.memory_header(m, self.session.hardware_name))
        table.set_rows(rows.buffer_rows(m))
        table.empty_text = "no buffers"
        self._plot()
        if self.focused is None:
            table.focus()

    def _plot(self) -> None:
        if not self.is_mounted:
            return
        plot = self.query_one("#mm-plot", Static)
        m = self.value("memory")
        if m is None:
            plot.update("")
            return
        width = max(10, plot.content_region.width or (self.size.width - 4))
        self._plot_width = self.size.width
        timeline = list(m.timeline)
        if not timeline:
            plot.update(Text("no schedule steps (the module is not scheduled)", style="dim"))
            return
        body, _ = timeline_plot(
            timeline, width, PLOT_HEIGHT, peak_index=m.peak_step, style=theme.MEMORY
        )
        axis = Text(f"0 … {len(timeline) - 1} steps", style="dim")
        label = Text(
            f"peak {fmt.nbytes(m.peak_bytes)} at step {m.peak_step}", style=f"bold {theme.MEMORY}"
        )
        plot.update(Group(label, body, axis))

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        if event.row.key:
            self.hs.open_instruction(str(event.row.key))

    def search_changed(self, text: str) -> None:
        self.query_one("#mm-table", VirtualTable).set_filter(text)

    def search_done(self, text: str, *, cancelled: bool) -> None:
        if cancelled:
            self.query_one("#mm-table", VirtualTable).set_filter("")
        self.focus_body()
