"""Devices: the mesh as a heatmap of one metric (tab switches: time, collective bytes,
memory), the selected device's breakdown, and the device × device communication matrix."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from hloscope.tui import device_info
from hloscope.tui.screens.base import HloscopeScreen
from hloscope.tui.widgets.chrome import Line, state_text
from hloscope.tui.widgets.heatmap import MeshHeatmap
from hloscope.tui.widgets.vtable import VirtualTable


class DevicesScreen(HloscopeScreen):
    MODE = "devices"
    SCREEN_TITLE = "Devices"
    NEEDS: ClassVar[tuple[str, ...]] = ("devices",)
    HELP = (
        "The device mesh, one cell per device (first mesh axis down, the others across), "
        "shaded by the metric named at the top (tab switches). Arrows or a click select a "
        "device; its breakdown shows on the right. In SPMD every device runs the same "
        "program: devices differ only in collective groups, uneven shards and pinned values, "
        "and the line under the grid says whether they do. x shows the communication matrix: "
        "bytes each device sends to each other device per step, from the replica groups and "
        "permute pairs under each collective's algorithm model."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "next_metric", "Metric"),
        Binding("x", "toggle_matrix", "Comm. matrix"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.metric = device_info.METRICS[0][0]
        self.show_matrix = False

    def compose_body(self) -> Iterable[Widget]:
        yield Line(id="dv-metrics", classes="summary")
        with Horizontal(id="dv-main"):
            with VerticalScroll(id="dv-left"):
                yield MeshHeatmap(id="dv-heat")
            yield Static(id="dv-detail", classes="panel")
        yield Line(id="dv-notes", classes="where")
        with VerticalScroll(id="dv-dense", classes="panel"):
            yield Static(id="dv-dense-body")
        yield VirtualTable(device_info.MATRIX_COLUMNS, id="dv-matrix", classes="panel")

    def on_mount(self) -> None:
        super().on_mount()
        for pid in ("#dv-matrix", "#dv-dense"):
            panel = self.query_one(pid)
            panel.display = False
            panel.border_title = "Communication matrix (bytes per step)"
        self.query_one("#dv-detail").border_title = "Device"
        self.safe_refresh()
        self.query_one("#dv-heat", MeshHeatmap).focus()

    def focus_body(self) -> None:
        self.query_one("#dv-heat", MeshHeatmap).focus()

    @property
    def heat(self) -> MeshHeatmap:
        return self.query_one("#dv-heat", MeshHeatmap)

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#dv-metrics", Line).update(device_info.metric_bar(self.metric))
        st = self.state("devices")
        detail = self.query_one("#dv-detail", Static)
        notes = self.query_one("#dv-notes", Line)
        if not st.ready:
            detail.update(state_text(st, "per-device breakdown"))
            notes.update("")
            return
        report = st.value
        values, formatter, style, title = device_info.metric_values(report, self.metric)
        self.heat.set_data(device_info.grid_of(report), values, formatter, style=style,
                           title=title)
        notes.update(device_info.notes_text(report))
        self._show_device(self.heat.device)
        self._matrix(report)

    def _show_device(self, device: int | None) -> None:
        report = self.value("devices")
        if report is None or device is None or device < 0:
            return
        self.query_one("#dv-detail", Static).update(device_info.breakdown(report, device))

    def _matrix(self, report: Any) -> None:
        dense = report.comm_matrix.num_devices <= device_info.DENSE_MAX
        table = self.query_one("#dv-matrix", VirtualTable)
        box = self.query_one("#dv-dense")
        table.display = self.show_matrix and not dense
        box.display = self.show_matrix and dense
        if not self.show_matrix:
            return
        if dense:
            self.query_one("#dv-dense-body", Static).update(device_info.matrix_text(report))
        else:
            table.set_rows(device_info.matrix_rows(report))

    def on_mesh_heatmap_device_highlighted(self, event: MeshHeatmap.DeviceHighlighted) -> None:
        self._show_device(event.device)
        table = self.query_one("#dv-matrix", VirtualTable)
        if table.display:
            table.find_key(event.device)

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        """Enter on a matrix row selects that device in the grid."""
        if isinstance(event.row.key, int):
            self.heat.select_device(event.row.key)
            self.heat.focus()

    def action_next_metric(self) -> None:
        keys = [k for k, _ in device_info.METRICS]
        self.metric = keys[(keys.index(self.metric) + 1) % len(keys)]
        self.safe_refresh()

    def action_toggle_matrix(self) -> None:
        self.show_matrix = not self.show_matrix
        report = self.value("devices")
        if report is not None:
            self._matrix(report)
        table = self.query_one("#dv-matrix", VirtualTable)
        if self.show_matrix and table.display:
            table.focus()
        else:
            self.focus_body()

    def search_changed(self, text: str) -> None:
        """Search finds a device by id in the matrix rows (shown, when many devices)."""
        report = self.value("devices")
        if report is None:
            return
        if text.strip().isdigit():
            self.heat.select_device(int(text.strip()))
