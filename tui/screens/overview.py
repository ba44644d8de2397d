"""Overview: the first screen. How long a step takes on the chosen hardware and why (compute,
memory, collectives), whether it fits in memory, the totals, the top kernels and lines.

Panels fill in as their reports arrive: XLA's own totals (from the capture) show at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static

from hloscope.tui import fmt, rows, theme
from hloscope.tui.screens.base import HloscopeScreen
from hloscope.tui.widgets.chrome import state_text
from hloscope.tui.widgets.plots import sparkline
from hloscope.tui.widgets.vtable import Bar, VirtualTable


class OverviewScreen(HloscopeScreen):
    MODE = "overview"
    SCREEN_TITLE = "Overview"
    NEEDS: ClassVar[tuple[str, ...]] = ("roofline", "memory", "fusion", "sharding", "cost",
                                        "source")
    HELP = (
        "The step time is an estimate: a roofline over the chosen hardware's published peak "
        "FLOP/s, memory bandwidth and link bandwidth (press h to choose another). FLOPs and "
        "bytes marked XLA are XLA's own cost_analysis(); peak memory is computed from the "
        "schedule and set beside XLA's. Enter on a kernel or line opens it."
    )

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="ov-top"):
            yield Static(id="ov-step", classes="panel")
            yield Static(id="ov-memory", classes="panel")
        yield Static(id="ov-totals", classes="panel")
        with Vertical(id="ov-tables"):
            yield VirtualTable(rows.TOP_KERNEL_COLUMNS, id="ov-kernels", classes="panel",
                               empty_text="")
            yield VirtualTable(rows.TOP_SOURCE_COLUMNS, id="ov-sources", classes="panel",
                               empty_text="")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#ov-kernels").border_title = "Top kernels (Enter: open)"
        self.query_one("#ov-sources").border_title = "Top source lines"
        self.safe_refresh()

    def focus_body(self) -> None:
        self.query_one("#ov-kernels", VirtualTable).focus()

    def _stablehlo_only(self) -> bool:
        """A capture with StableHLO but no optimized HLO (a `.mlir` file): no analysis can
        run, so the overview describes the StableHLO instead of repeating why, panel by panel."""
        cap = self.capture
        return cap is not None and cap.hlo is None and cap.stablehlo is not None

    def needs(self) -> tuple[str, ...]:
        return ("stablehlo_facts",) if self._stablehlo_only() else self.NEEDS

    # -- drawing --------------------------------------------------------------------------

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        if self._stablehlo_only() and self.session.phase == "ready":
            self._refresh_stablehlo_only()
            return
        hw = self.session.hardware_name or "–"
        step = self.query_one("#ov-step", Static)
        step.border_title = f"Step (estimate on {hw})"
        step.update(self._step_panel())
        mem = self.query_one("#ov-memory", Static)
        mem.border_title = "Memory per device"
        mem.update(self._memory_panel())
        totals = self.query_one("#ov-totals", Static)
        totals.border_title = "Totals per device"
        totals.update(self._totals_panel())
        self._fill_tables()

    def _refresh_stablehlo_only(self) -> None:
        step = self.query_one("#ov-step", Static)
        step.border_title = "No optimized HLO"
        step.update(Text(
            "This capture holds StableHLO only (the program before XLA's passes), so there "
            "are no kernels, costs, collectives or memory to show. Capture the program, or "
            "load XLA's --xla_dump_to folder, for those. t: read the StableHLO.",
        ))
        mem = self.query_one("#ov-memory", Static)
        mem.border_title = "Memory per device"
        mem.update(Text("needs optimized HLO", style="dim"))
        totals = self.query_one("#ov-totals", Static)
        totals.border_title = "StableHLO"
        st = self.state("stablehlo_facts")
        if st.ready:
            f = st.value
            line = Text(f"{f['name'] or 'module'}: {f['ops']:,} ops in {f['functions']:,} "
                        "functions", style="bold")
            ops = Text("  ".join(f"{k} {v}" for k, v in f["top_ops"].items()), style="dim")
            totals.update(Group(line, ops))
        else:
            totals.update(state_text(st, "StableHLO"))
        for table_id in ("#ov-kernels", "#ov-sources"):
            table = self.query_one(table_id, VirtualTable)
            table.set_rows([])
            table.empty_text = "needs optimized HLO"

    def _step_panel(self) -> RenderableType:
        st = self.state("roofline")
        if not st.ready:
            return state_text(st, "step estimate")
        r = st.value
        parts = [
            ("compute", r.compute_s, theme.COMPUTE, theme.COMPUTE_CHAR),
            ("memory", r.memory_s, theme.MEMORY, theme.MEMORY_CHAR),
            ("collect.", r.collective_s, theme.COMMS, theme.COMMS_CHAR),
        ]
        shares = r.bound_shares()
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(no_wrap=True)
        table.add_column(ratio=1, no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        for i, (label, secs, style, char) in enumerate(parts):
            head = Text(fmt.seconds(r.step_s), style="bold") if i == 0 else Text("")
            bar = rows.bar_text(Bar(shares[i], style, char), 20)
            table.add_row(head, bar, Text(label, style=style), fmt.seconds(secs),
                          fmt.percent(shares[i]))
        note = Text(f"estimate: roofline over {rows.hardware_name(r)} specs", style="dim")
        return Group(table, note)

    def _memory_panel(self) -> RenderableType:
        st = self.state("memory")
        cap = self.capture
        if not st.ready:
            lines: list[RenderableType] = [state_text(st, "memory timeline")]
            if cap is not None and cap.xla_memory is not None:
                xm = cap.xla_memory
                lines.append(Text(
                    f"XLA: args {fmt.nbytes(xm.argument_bytes)}  out {fmt.nbytes(xm.output_bytes)}"
                    f"  temp {fmt.nbytes(xm.temp_bytes)}"
                    + (f"  peak {fmt.nbytes(xm.peak_bytes)}" if xm.peak_bytes else "")
                ))
            return Group(*lines)
        m = st.value
        hw = self.session.hardware_name
        fit = rows.fit_of(m, hw)
        share = m.peak_share(hw) if hw else None
        head = Text()
        head.append(f"peak {fmt.nbytes(m.peak_bytes)}", style=f"bold {theme.MEMORY}")
        if fit is not None and share is not None:
            head.append(f" of {fmt.nbytes(fit.capacity_bytes)} ({fmt.percent(share, 1)})")
        split = Text(f"args {fmt.nbytes(m.argument_bytes)}  temp {fmt.nbytes(m.temp_bytes)}")
        if m.xla_peak_bytes:
            split.append(f"  XLA peak {fmt.nbytes(m.xla_peak_bytes)}", style="dim")
        spark = Text(sparkline(m.timeline, 24), style=theme.MEMORY)
        spark.append(" timeline →", style="dim")
        fit_line = rows.fit_text(m, hw, short=True)
        return Group(head, split, spark, fit_line)

    def _totals_panel(self) -> RenderableType:
        cap = self.capture
        line1 = Text()
        cost = self.value("cost")
        if cost is not None:
            line1.append(f"FLOPs {fmt.flops(cost.total.flops)}", style=theme.COMPUTE)
            if cost.executed.flops != cost.total.flops:
                line1.append(f" (executed, × trip counts: {fmt.flops(cost.executed.flops)})")
            line1.append(f"   bytes accessed {fmt.nbytes(cost.total.bytes_accessed)}",
                         style=theme.MEMORY)
            line1.append(f"   transcendentals {fmt.count(cost.total.transcendentals)}")
        elif cap is not None and cap.xla_cost is not None:
            xc = cap.xla_cost
            line1.append(f"FLOPs {fmt.flops(xc.flops)} (XLA)", style=theme.COMPUTE)
            line1.append(f"   bytes accessed {fmt.nbytes(xc.bytes_accessed)} (XLA)",
                         style=theme.MEMORY)
        else:
            line1.append_text(state_text(self.state("cost"), "costs"))
        line2 = Text()
        fusion = self.value("fusion")
        if fusion is not None:
            line2.append(f"kernels {len(fusion.kernels)}")
        else:
            line2.append_text(state_text(self.state("fusion"), "kernels"))
        line2.append("   ")
        sharding = self.value("sharding")
        if sharding is not None:
            line2.append(rows.collective_summary(sharding), style=theme.COMMS)
        else:
            line2.append_text(state_text(self.state("sharding"), "collectives"))
        return Group(line1, line2)

    def _fill_tables(self) -> None:
        kt = self.query_one("#ov-kernels", VirtualTable)
        fusion, roof = self.value("fusion"), self.value("roofline")
        if fusion is not None:
            kt.set_rows(rows.kernel_rows(fusion, roof, limit=50, sharding=self.value("sharding")))
            kt.empty_text = "no kernels"
        else:
            kt.set_rows([])
            kt.empty_text = state_text(self.state("fusion"), "kernels").plain
        st = self.query_one("#ov-sources", VirtualTable)
        source = self.value("source")
        if source is not None and fusion is not None:
            st.set_rows(rows.source_rows(source, fusion, limit=50))
            st.empty_text = "no source lines in this program's metadata"
        else:
            st.set_rows([])
            st.empty_text = state_text(self.state("source"), "source lines").plain

    # -- navigation -------------------------------------------------------------------------

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        key: Any = event.row.key
        if event.table.id == "ov-kernels":
            self.hs.open_kernel(key)
        elif event.table.id == "ov-sources":
            self.hs.open_source(key)
