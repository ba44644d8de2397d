"""One kernel: its figures, the instructions fused into it with their shapes, its HLO text,
the Python lines it comes from (with the file around the line, when readable), and the
StableHLO ops made by the same lines and scopes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widget import Widget

from hloscope.tui import kernel_info
from hloscope.tui.screens.base import HloscopeScreen
from hloscope.tui.widgets.chrome import Line, TabLine, state_text
from hloscope.tui.widgets.codeview import CodeView
from hloscope.tui.widgets.vtable import VirtualTable

TABS = (("k-instrs", "1 Instructions"), ("k-hlo", "2 HLO"), ("k-source", "3 Source"),
        ("k-stablehlo", "4 StableHLO"))


class KernelScreen(HloscopeScreen):
    MODE = "kernels"
    SCREEN_TITLE = "Kernel"
    # StableHLO last: reading it takes seconds on a large program, the rest is at hand.
    NEEDS: ClassVar[tuple[str, ...]] = ("fusion", "roofline", "module", "index", "hlo_lines",
                                        "sharding", "stablehlo_links", "stablehlo",
                                        "stablehlo_index")
    HELP = (
        "One kernel. 1: the instructions fused into it (Enter: show in the HLO text); "
        "2: its HLO (the fusion instruction and its fused computation); 3: the Python lines "
        "it comes from, with the file around each line when the file is readable here; "
        "4: the StableHLO ops made by the same lines and name scopes (Enter: show in the "
        "StableHLO text). Escape goes back."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("1", "tab('k-instrs')", "Instructions"),
        Binding("2", "tab('k-hlo')", "HLO"),
        Binding("3", "tab('k-source')", "Source"),
        # Off the footer (the tab line names it): four tabs push the palette hint out.
        Binding("4", "tab('k-stablehlo')", "StableHLO", show=False),
        Binding("g", "goto_text", "In full text"),
    ]

    def __init__(self, kernel: str | None = None) -> None:
        super().__init__()
        self.kernel_name = kernel or ""
        self.SCREEN_TITLE = f"Kernel {kernel}" if kernel else "Kernel"

    def show_kernel(self, kernel: str) -> None:
        """Show another kernel (the screen is kept and reused: building it costs ~150 ms)."""
        if kernel == self.kernel_name:
            return
        self.kernel_name = kernel
        self.SCREEN_TITLE = f"Kernel {kernel}"
        self._dirty = True
        if self.is_mounted:
            self.action_tab("k-instrs")
            if self.app.screen is self:
                self._dirty = False
                self.safe_refresh()
                self.update_chrome()

    def compose_body(self) -> Iterable[Widget]:
        yield Line(id="kd-head", classes="summary")
        yield TabLine(TABS, id="kd-tabs")
        with Vertical(id="k-instrs", classes="pane"):
            yield VirtualTable(kernel_info.INSTR_COLUMNS, id="kd-instrs")
        with Vertical(id="k-hlo", classes="pane"):
            yield CodeView(language="hlo", id="kd-hlo")
        with Vertical(id="k-source", classes="pane"):
            yield Line(id="kd-src-head")
            yield CodeView(language="python", id="kd-src")
        with Vertical(id="k-stablehlo", classes="pane"):
            yield VirtualTable(kernel_info.STABLEHLO_COLUMNS, id="kd-stable")

    def on_mount(self) -> None:
        super().on_mount()
        self.action_tab("k-instrs")
        self.safe_refresh()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.query_one("#kd-instrs", VirtualTable).focus()

    def focus_body(self) -> None:
        self.query_one("#kd-instrs", VirtualTable).focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, pane: str) -> None:
        self.query_one("#kd-tabs", TabLine).show(pane)
        for tab_id, _ in TABS:
            self.query_one(f"#{tab_id}").display = tab_id == pane
        target = {"k-instrs": "#kd-instrs", "k-hlo": "#kd-hlo", "k-source": "#kd-src",
                  "k-stablehlo": "#kd-stable"}[pane]
        self.query_one(target).focus()

    def refresh_data(self) -> None:
        if not self.is_mounted or not self.kernel_name:
            return
        fusion = self.value("fusion")
        head = self.query_one("#kd-head", Line)
        if fusion is None:
            head.update(state_text(self.state("fusion"), "kernels"))
            return
        kernel = kernel_info.find_kernel(fusion, self.kernel_name)
        if kernel is None:
            head.update(f"no kernel named {self.kernel_name} in this program")
            return
        roof = self.value("roofline")
        sharding = self.value("sharding")
        collective = next((c for c in sharding.collectives if c.name == kernel.name),
                          None) if sharding is not None else None
        head.update(kernel_info.header(kernel, roof, self.session.hardware_name, collective))
        module, index, lines = self.value("module"), self.value("index"), self.value("hlo_lines")
        instrs = self.query_one("#kd-instrs", VirtualTable)
        if module is not None:
            instrs.set_rows(kernel_info.instruction_rows(module, kernel))
        else:
            instrs.empty_text = state_text(self.state("module"), "instructions").plain
        hlo = self.query_one("#kd-hlo", CodeView)
        if module is not None and index is not None and lines is not None:
            hlo.set_lines(kernel_info.hlo_excerpt(module, index, lines, kernel), language="hlo")
        self._show_stablehlo(kernel)
        self._load_source(kernel)

    def _show_stablehlo(self, kernel: Any) -> None:
        table = self.query_one("#kd-stable", VirtualTable)
        links, stable = self.value("stablehlo_links"), self.value("stablehlo")
        if links is None or stable is None:
            st = self.state("stablehlo_links")
            table.empty_text = state_text(st if not st.ready else self.state("stablehlo"),
                                          "StableHLO ops").plain
            table.set_rows([])
            return
        table.empty_text = "no StableHLO op has this kernel's Python lines and name scopes"
        table.set_rows(kernel_info.stablehlo_rows(kernel, links, stable))

    @work(thread=True, exclusive=True, group="kernel-source")
    def _load_source(self, kernel: Any) -> None:
        excerpt = kernel_info.source_excerpt(kernel, self.value("module"))
        self.app.call_from_thread(self._show_source, excerpt)

    def _show_source(self, excerpt: kernel_info.SourceExcerpt) -> None:
        self.query_one("#kd-src-head", Line).update(excerpt.header)
        view = self.query_one("#kd-src", CodeView)
        view.set_lines(excerpt.lines, language="python", first_line_number=excerpt.first_line)
        if excerpt.focus_line is not None:
            view.set_marks(frozenset(excerpt.marks))
            self.call_after_refresh(view.goto, excerpt.focus_line)

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        if event.table.id == "kd-instrs":
            self.hs.open_instruction(str(event.row.key))
        elif event.table.id == "kd-stable" and event.row.key >= 0:
            self.hs.open_stablehlo_op(int(event.row.key))

    def action_goto_text(self) -> None:
        self.hs.open_instruction(self.kernel_name)

    def on_tab_line_chosen(self, event: TabLine.Chosen) -> None:
        self.action_tab(event.tab)

    def search_changed(self, text: str) -> None:
        pane = self.query_one("#kd-tabs", TabLine).active
        if pane == "k-instrs":
            self.query_one("#kd-instrs", VirtualTable).set_filter(text)
        elif pane == "k-hlo":
            self.query_one("#kd-hlo", CodeView).search(text)
        elif pane == "k-stablehlo":
            self.query_one("#kd-stable", VirtualTable).set_filter(text)
        else:
            self.query_one("#kd-src", CodeView).search(text)


