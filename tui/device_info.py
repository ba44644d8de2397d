"""What the Devices screen shows, read from the devices report (and the memory report for
peak memory): the metric per device, one device's breakdown, the communication matrix."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from hloscope.tui import fmt, theme
from hloscope.tui.widgets.vtable import Column, Row

if TYPE_CHECKING:
    from hloscope.records import Capture

METRICS: tuple[tuple[str, str], ...] = (
    ("time", "estimated time"),
    ("collective_bytes", "collective bytes"),
    ("memory", "peak memory"),
)

MATRIX_COLUMNS = (
    Column("src", "from device", width=12),
    Column("total", "sends", width=11, align="right"),
    Column("to", "to (bytes per step)", ratio=1),
)


def metric_bar(current: str) -> Text:
    t = Text(" metric: ")
    for key, label in METRICS:
        if key == current:
            t.append(f"[{label}]", style="bold reverse")
        else:
            t.append(f" {label} ", style="dim")
        t.append(" ")
    t.append("  (tab switches)", style="dim")
    return t


def _device_time(d: Any) -> float | None:
    for field in ("step_s", "estimated_s", "total_s"):
        v = getattr(d, field, None)
        if v is not None:
            return float(v)
    return None


def _collective_bytes(d: Any) -> float | None:
    for field in ("collective_bytes", "sent_bytes"):
        v = getattr(d, field, None)
        if v is not None:
            return float(v)
    return None


def metric_values(
    report: Any, metric: str, memory: Any | None
) -> tuple[dict[int, float | None], Callable[[float | None], str], str, str, str]:
    """(values by device id, formatter, style, title, why-empty)."""
    devices = report.devices
    if metric == "time":
        vals = {d.id: _device_time(d) for d in devices}
        return vals, fmt.seconds, theme.COMPUTE, "estimated time per step", ""
    if metric == "collective_bytes":
        vals = {d.id: _collective_bytes(d) for d in devices}
        return vals, fmt.nbytes, theme.COMMS, "collective bytes sent per step", ""
    peak = {d.id: getattr(d, "peak_bytes", None) for d in devices}
    why = ""
    if all(v is None for v in peak.values()):
        if memory is not None:
            # In SPMD every device runs the same program: the memory report's peak is each
            # device's, unless the devices report says devices differ.
            peak = {d.id: float(memory.peak_bytes) for d in devices}
            why = "peak memory: the same program on every device (SPMD); the memory report's peak"
        else:
            why = "peak memory per device: waiting for the memory report"
    return (
        {k: (float(v) if v is not None else None) for k, v in peak.items()},
        fmt.nbytes,
        theme.MEMORY,
        "peak memory",
        why,
    )


def _find(report: Any, device: int) -> Any | None:
    for d in report.devices:
        if d.id == device:
            return d
    return None


def breakdown(
    report: Any, device: int, capture: Capture | None, memory: Any | None
) -> RenderableType:
    d = _find(report, device)
    if d is None:
        return Text(f"device {device}: not in the report")
    head = Text(f"device {device}", style="bold")
    mesh = capture.mesh if capture is not None else None
    coords = getattr(d, "coords", ()) or ()
    if mesh is not None and coords:
        head.append(" (" + ", ".join(f"{n}={c}" for n, c in zip(mesh.axis_names, coords,
                                                               strict=False)) + ")")
    t = Table.grid(padding=(0, 1))
    t.add_column(no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    total = _device_time(d)
    if total is not None:
        t.add_row(Text("step (est.)", style="bold"), Text(fmt.seconds(total), style="bold"))
    t.add_row(Text("compute", style=theme.COMPUTE), fmt.seconds(d.compute_s))
    t.add_row(Text("memory", style=theme.MEMORY), fmt.seconds(d.memory_s))
    t.add_row(Text("collectives", style=theme.COMMS), fmt.seconds(d.collective_s))
    by_axis = getattr(d, "collective_bytes_by_axis", None) or {}
    for axis, b in by_axis.items():
        t.add_row(f"  sent over {axis or '–'}", fmt.nbytes(b))
    recv = getattr(d, "received_bytes", None)
    if recv is not None:
        t.add_row("  received", fmt.nbytes(recv))
    peak = getattr(d, "peak_bytes", None)
    if peak is None and memory is not None:
        peak = memory.peak_bytes
    if peak is not None:
        t.add_row(Text("peak memory", style=theme.MEMORY), fmt.nbytes(peak))
    extra = []
    for note in getattr(d, "notes", ()) or ():
        extra.append(Text(f"• {note}", style="italic"))
    return Group(head, t, *extra)


def notes_text(report: Any) -> Text:
    t = Text()
    if getattr(report, "uniform", False):
        t.append(" All devices run the same program with even shards.", style="dim")
    for n in getattr(report, "notes", ()) or ():
        t.append(f" {n}", style="dim")
    return t


def matrix_rows(report: Any) -> list[Row]:
    """One row per sending device: its total and its partners, largest first."""
    matrix = getattr(report, "comm_matrix", None)
    if matrix is None:
        return []
    ids = [d.id for d in report.devices]
    out = []
    for i, src in enumerate(ids):
        row = matrix[i]
        partners = sorted(
            ((ids[j], b) for j, b in enumerate(row) if b and j != i), key=lambda p: -p[1]
        )
        total = sum(b for _, b in partners)
        to = ", ".join(f"{dst}: {fmt.nbytes(b)}" for dst, b in partners[:16])
        if len(partners) > 16:
            to += f", … {len(partners) - 16} more"
        out.append(Row((f"device {src}", fmt.nbytes(total), to or "–"), key=src))
    return out
