"""Devices: the mesh as a heatmap of one metric (Tab switches: time, collective bytes,
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
from hloscope.tui.widgets.heatmap import MeshHeatmap, grid_of_mesh
from hloscope.tui.widgets.vtable import VirtualTable


class DevicesScreen(HloscopeScreen):
    MODE = "devices"
    SCREEN_TITLE = "Devices"
    NEEDS: ClassVar[tuple[str, ...]] = ("devices", "sharding", "memory")
    HELP = (
        "The device mesh, one cell per device (first mesh axis down, the others across), "
        "shaded by the metric named at the top (tab switches). Arrows or a click select a "
        "device; its breakdown shows on the right. x shows the communication matrix: bytes "
        "each device sends to each other device per step, from the replica groups and "
        "permute pairs."
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
        yield VirtualTable(device_info.MATRIX_COLUMNS, id="dv-matrix", classes="panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#dv-matrix").display = False
        self.query_one("#dv-matrix").border_title = "Communication matrix (bytes per step)"
        self.query_one("#dv-detail").border_title = "Device"
        self.safe_refresh()
        self.query_one("#dv-heat", MeshHeatmap).focus()

    def focus_body(self) -> None:
        self.query_one("#dv-heat", MeshHeatmap).focus()

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#dv-metrics", Static).update(device_info.metric_bar(self.metric))
        cap = self.capture
        heat = self.query_one("#dv-heat", MeshHeatmap)
        st = self.state("devices")
        detail = self.query_one("#dv-detail", Static)
        notes = self.query_one("#dv-notes", Static)
        if cap is None:
            detail.update(state_text(st, "devices"))
            return
        mesh = cap.mesh
        if mesh is not None and mesh.axis_names:
            grid = grid_of_mesh(mesh.axis_names, mesh.axis_sizes, mesh.device_ids)
        else:
            grid = grid_of_mesh((), (), tuple(range(cap.device_count)))
        if not st.ready:
            heat.set_data(grid, {}, lambda v: "", style="dim", title="devices")
            detail.update(state_text(st, "per-device breakdown"))
            notes.update("")
            return
        report = st.value
        values, formatter, style, title, why = device_info.metric_values(
            report, self.metric, self.value("memory")
        )
        heat.set_data(grid, values, formatter, style=style, title=title)
        if why:
            notes.update(why)
        else:
            notes.update(device_info.notes_text(report))
        self._show_device(heat.device)
        self._matrix(report)

    def _show_device(self, device: int | None) -> None:
        report = self.value("devices")
        if report is None or device is None:
            return
        self.query_one("#dv-detail", Static).update(
            device_info.breakdown(report, device, self.capture, self.value("memory"))
        )

    def _matrix(self, report: Any) -> None:
        table = self.query_one("#dv-matrix", VirtualTable)
        table.display = self.show_matrix
        if self.show_matrix:
            table.set_rows(device_info.matrix_rows(report))

    def on_mesh_heatmap_device_highlighted(self, event: MeshHeatmap.DeviceHighlighted) -> None:
        self._show_device(event.device)

    def action_next_metric(self) -> None:
        keys = [k for k, _ in device_info.METRICS]
        self.metric = keys[(keys.index(self.metric) + 1) % len(keys)]
        self.safe_refresh()

    def action_toggle_matrix(self) -> None:
        self.show_matrix = not self.show_matrix
        report = self.value("devices")
        if report is not None:
            self._matrix(report)
        else:
            self.query_one("#dv-matrix").display = self.show_matrix
        if self.show_matrix:
            self.query_one("#dv-matrix", VirtualTable).focus()
        else:
            self.focus_body()

    def search_changed(self, text: str) -> None:
        self.show_matrix = True
        table = self.query_one("#dv-matrix", VirtualTable)
        table.display = True
        report = self.value("devices")
        if report is not None and not table.rows:
            table.set_rows(device_info.matrix_rows(report))
        table.set_filter(text)
