"""What the Devices screen shows, read from the devices report: the mesh as a grid, a metric
per device, one device's breakdown, and the communication matrix."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from hloscope.records import mesh_coords
from hloscope.tui import fmt, theme
from hloscope.tui.widgets.heatmap import Grid
from hloscope.tui.widgets.vtable import Column, Row

METRICS: tuple[tuple[str, str], ...] = (
    ("time", "estimated time"),
    ("collective_bytes", "collective bytes"),
    ("memory", "peak memory"),
)

MATRIX_COLUMNS = (
    Column("src", "from", width=10),
    Column("total", "sends/step", width=11, align="right"),
    Column("to", "to (largest first)", ratio=1),
)

DENSE_MAX = 16
"""Up to this many devices the matrix is drawn whole; beyond, one row per sending device."""


def metric_bar(current: str) -> Text:
    t = Text(" metric: ")
    for key, label in METRICS:
        if key == current:
            t.append(f"[{label}]", style="bold reverse")
        else:
            t.append(f" {label} ", style="dim")
        t.append(" ")
    t.append("  (tab switches, x: communication matrix)", style="dim")
    return t


def grid_of(report: Any) -> Grid:
    """Rows over the first mesh axis, columns over the others (row-major), from each device's
    mesh coordinates. A program without a mesh is one row of devices."""
    names, sizes = tuple(report.axis_names), tuple(report.axis_sizes)
    devices = report.devices
    if not sizes or len(sizes) != len(devices[0].coords if devices else ()):
        ids = tuple(d.id for d in devices)
        return Grid("", "device ", ("",), tuple(str(i) for i in ids), (ids,))
    rows_n = sizes[0]
    rest = sizes[1:]
    cols_n = math.prod(rest)
    cells = [[-1] * cols_n for _ in range(rows_n)]
    for d in devices:
        col = 0
        for c, s in zip(d.coords[1:], rest, strict=True):
            col = col * s + c
        cells[d.coords[0]][col] = d.id
    col_labels = [",".join(str(x) for x in mesh_coords(col, rest)) for col in range(cols_n)]
    return Grid(
        row_title=f"{names[0]}=",
        col_title=(",".join(names[1:]) + " →") if rest else "",
        row_labels=tuple(str(r) for r in range(rows_n)),
        col_labels=tuple(col_labels) if rest else ("",),
        devices=tuple(tuple(r) for r in cells),
    )


def metric_values(
    report: Any, metric: str
) -> tuple[dict[int, float | None], Callable[[float | None], str], str, str]:
    """(value by device id, formatter, style, title)."""
    devices = report.devices
    if metric == "time":
        return ({d.id: d.estimated_s for d in devices}, fmt.seconds, theme.COMPUTE,
                f"estimated time per step on {report.hardware or '–'}")
    if metric == "collective_bytes":
        return ({d.id: d.collective_sent_bytes for d in devices}, fmt.nbytes, theme.COMMS,
                "collective bytes sent per step")
    return ({d.id: (float(d.peak_bytes) if d.peak_bytes is not None else None) for d in devices},
            fmt.nbytes, theme.MEMORY, "peak memory")


def find(report: Any, device: int) -> Any | None:
    for d in report.devices:
        if d.id == device:
            return d
    return None


def breakdown(report: Any, device: int) -> RenderableType:
    d = find(report, device)
    if d is None:
        return Text(f"device {device}: not in the report")
    head = Text(f"device {d.id}", style="bold")
    if d.global_id != d.id:
        head.append(f" (global id {d.global_id})")
    if d.coords and report.axis_names:
        head.append("  " + ", ".join(
            f"{n}={c}" for n, c in zip(report.axis_names, d.coords, strict=False)))
    t = Table.grid(padding=(0, 1))
    t.add_column(no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    for label, value in _figures(report, d):
        t.add_row(label, value)
    extra: list[RenderableType] = []
    place = _place(d)
    if place:
        extra.append(Text(place, style="dim"))
    for note in d.notes:
        extra.append(Text(f"• {note}", style="italic"))
    return Group(head, t, *extra)


def _figures(report: Any, d: Any) -> list[tuple[Text | str, Text | str]]:
    rows: list[tuple[Text | str, Text | str]] = []
    if d.estimated_s is not None:
        rows += [
            (Text("step (est.)", style="bold"), Text(fmt.seconds(d.estimated_s), style="bold")),
            (Text("  compute", style=theme.COMPUTE), fmt.seconds(d.compute_s)),
            (Text("  memory", style=theme.MEMORY), fmt.seconds(d.memory_s)),
            (Text("  collectives", style=theme.COMMS), fmt.seconds(d.collective_s)),
        ]
    if d.flops is not None:
        rows.append(("FLOPs/step", fmt.flops(d.flops)))
    if d.memory_bytes is not None:
        rows.append(("memory traffic", fmt.nbytes(d.memory_bytes)))
    rows.append((Text(f"sends ({d.collectives} coll.)", style=theme.COMMS),
                 fmt.nbytes(d.collective_sent_bytes)))
    rows += [(f"  over {axis}", fmt.nbytes(b)) for axis, b in d.collective_bytes_by_axis.items()]
    rows.append(("receives", fmt.nbytes(d.collective_received_bytes)))
    if d.inter_sent_bytes:
        rows.append((f"  across {report.link_domain or 'domains'}",
                     fmt.nbytes(d.inter_sent_bytes)))
    if d.peak_bytes is not None:
        rows.append((Text("peak memory", style=theme.MEMORY), fmt.nbytes(d.peak_bytes)))
    return rows


def _place(d: Any) -> str:
    place = []
    if d.kind:
        place.append(d.kind)
    if d.physical_coords:
        place.append("chip (" + ",".join(str(c) for c in d.physical_coords) + ")")
    if d.process_index is not None:
        place.append(f"host {d.process_index}")
    if d.slice_index:
        place.append(f"slice {d.slice_index}")
    return ", ".join(place)


def notes_text(report: Any) -> Text:
    t = Text(" ")
    if report.uniform:
        t.append("All devices run the same program with the same figures.", style="dim")
    else:
        t.append("Devices differ: " + "; ".join(report.differences), style="italic")
    return t


def matrix_rows(report: Any) -> list[Row]:
    """One row per sending device: what it sends per step, and to whom, largest first."""
    out = []
    m = report.comm_matrix
    for d in report.devices:
        row = m.row(d.id)
        partners = sorted(((int(j), float(b)) for j, b in enumerate(row) if b), key=lambda p: -p[1])
        to = ", ".join(f"{dst}: {fmt.nbytes(b)}" for dst, b in partners[:12])
        if len(partners) > 12:
            to += f", … {len(partners) - 12} more"
        out.append(Row((f"device {d.id}", fmt.nbytes(d.collective_sent_bytes), to or "–"),
                       key=d.id, search=f"device {d.id} {to}".lower()))
    return out


def matrix_text(report: Any) -> Text:
    """The whole device × device matrix, shaded, for small device counts."""
    m = report.comm_matrix
    n = m.num_devices
    dense = m.dense()
    top = float(dense.max()) if n else 0.0
    shades = " ░▒▓█"
    w = 9
    t = Text(no_wrap=True)
    t.append("from\\to".ljust(8), style="bold")
    for j in range(n):
        t.append(f"{j:>{w}}", style="bold")
    t.append("\n")
    for i in range(n):
        t.append(f"{i:<8}", style="bold")
        for j in range(n):
            b = float(dense[i, j])
            if not b:
                t.append(f"{'·':>{w}}", style="dim")
                continue
            shade = shades[max(1, round(b / top * 4))] if top else " "
            label = fmt.nbytes(b).replace(" ", "")
            t.append(f"{shade}{label:>{w - 1}}", style=theme.COMMS)
        t.append("\n")
    t.append(f"bytes sent per step, row device → column device; total "
             f"{fmt.nbytes(m.total_bytes)}", style="dim")
    return t
