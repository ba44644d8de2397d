"""Source: the Python lines of the program ranked by cost; Enter on a line unfolds the kernels
it ended up in and the StableHLO ops lowered from it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.widget import Widget

from hloscope.tui import source_info
from hloscope.tui.screens.base import HloscopeScreen
from hloscope.tui.widgets.chrome import Line, state_text
from hloscope.tui.widgets.vtable import Row, VirtualTable


class SourceScreen(HloscopeScreen):
    MODE = "source"
    SCREEN_TITLE = "Source"
    # The table first; StableHLO (seconds to read on a large program) after it.
    NEEDS: ClassVar[tuple[str, ...]] = ("source", "fusion", "roofline", "stablehlo_links",
                                        "stablehlo", "stablehlo_index")
    HELP = (
        "Python lines ranked by the estimated time of the kernels they contribute to (a kernel "
        "fusing several lines counts for each of them, so shares can add up to more than "
        "100%). Enter (or space) unfolds a line: its kernels (Enter opens one) and the "
        "StableHLO ops lowered from it (Enter shows one in the text)."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "fold", "Unfold", show=False),
        Binding("right", "fold(True)", "Unfold", show=False),
        Binding("left", "fold(False)", "Fold", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[source_info.SourceLine] = []
        self.open_keys: set[str] = set()
        self._want: str | None = None

    def compose_body(self) -> Iterable[Widget]:
        yield Line(id="s-summary", classes="summary")
        yield VirtualTable(source_info.COLUMNS, id="s-table")

    def on_mount(self) -> None:
        super().on_mount()
        self.safe_refresh()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#s-table", VirtualTable)

    def focus_body(self) -> None:
        self.table.focus()

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        report, fusion = self.value("source"), self.value("fusion")
        summary = self.query_one("#s-summary", Line)
        if report is None or fusion is None:
            st = self.state("source") if report is None else self.state("fusion")
            summary.update(state_text(st, "source lines"))
            self.table.set_rows([])
            self.table.empty_text = state_text(st, "source lines").plain
            return
        self._build(report, fusion, self.value("roofline"), self.value("stablehlo_links"),
                    self.value("stablehlo"))

    @work(thread=True, exclusive=True, group="source-rows")
    def _build(self, report: Any, fusion: Any, roof: Any, links: Any, stable: Any) -> None:
        lines = source_info.source_lines(report, fusion, roof, links, stable)
        self.app.call_from_thread(self._show, report, lines)

    def _show(self, report: Any, lines: list[source_info.SourceLine]) -> None:
        self.lines = lines
        self._render_rows()
        links = self.state("stablehlo_links")
        stable = links if not links.ready else self.state("stablehlo")
        summary = source_info.summary(report, lines, self.state("roofline"), stable)
        self.query_one("#s-summary", Line).update(summary)
        if self._want is not None:
            self.table.find_key(("line", self._want))
            self._want = None
        self.table.empty_text = "no source locations in this program's metadata"
        if self.focused is None:
            self.table.focus()

    def _render_rows(self) -> None:
        out: list[Row] = []
        for line in self.lines:
            out.append(source_info.line_row(line, line.key in self.open_keys))
            if line.key in self.open_keys:
                out.extend(source_info.child_rows(line))
        self.table.set_rows(out)

    def action_fold(self, want: bool | None = None) -> None:
        row = self.table.current
        if row is None:
            return
        key = row.extra.get("line_key")
        if key is None:
            return
        is_open = key in self.open_keys
        if want is None:
            want = not is_open
        if want == is_open:
            return
        if want:
            self.open_keys.add(key)
        else:
            self.open_keys.discard(key)
        self._render_rows()
        self.table.find_key(("line", key))

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        kind, value = event.row.key
        if kind == "line":
            self.action_fold()
        elif kind == "kernel":
            self.hs.open_kernel(value)
        elif kind == "stablehlo":
            self.hs.open_stablehlo_op(int(value))

    def open_line(self, key: str) -> None:
        """Unfold and show one source line (from the Overview)."""
        self.open_keys.add(key)
        if self.lines:
            self._render_rows()
            self.table.find_key(("line", key))
        else:
            self._want = key
        self.table.focus()

    def search_changed(self, text: str) -> None:
        self.table.set_filter(text)

    def search_done(self, text: str, *, cancelled: bool) -> None:
        if cancelled:
            self.table.set_filter("")
        self.table.focus()
