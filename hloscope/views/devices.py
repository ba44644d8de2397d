"""`dump --view devices`: each device's share of a step, where devices differ, totals per mesh
axis and the device × device communication matrix.

Devices with identical figures are shown as one row (`×k`): in SPMD most are. The matrix is
printed whole up to 16 devices; beyond, as the busiest pairs and per-axis totals.

JSON: `devices` (one entry per device: `id`, `coords`, `compute_s`,
`collective_bytes_by_axis`, ...), `devices_summary` and `comm_matrix` (sparse entries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hloscope.views._fmt import bytes_text, seconds_text

if TYPE_CHECKING:
    from rich.console import Console

    from hloscope.analysis import Analysis
    from hloscope.passes.devices import DeviceBreakdown, DevicesReport
    from hloscope.views import ViewOptions

DENSE_LIMIT = 16


def to_json(analysis: Analysis, opts: ViewOptions) -> dict[str, Any]:
    r = analysis.devices
    return {
        "devices": [d.to_json() for d in r.devices],
        "devices_summary": {
            "axis_names": list(r.axis_names),
            "axis_sizes": list(r.axis_sizes),
            "mesh_inferred": r.mesh_inferred,
            "hardware": r.hardware,
            "uniform": r.uniform,
            "differences": list(r.differences),
            "by_axis": dict(r.by_axis),
            "notes": list(r.notes),
        },
        "comm_matrix": r.comm_matrix.to_json(),
    }


def _profile(d: DeviceBreakdown) -> tuple[Any, ...]:
    return (
        round(d.collective_sent_bytes, 3),
        round(d.collective_received_bytes, 3),
        d.collectives,
        d.padding_bytes,
        d.pinned,
        tuple(sorted((k, round(v, 3)) for k, v in d.collective_bytes_by_axis.items())),
    )


def render(analysis: Analysis, console: Console, opts: ViewOptions) -> None:
    from rich.text import Text

    r = analysis.devices
    console.print(Text("devices", style="bold cyan"))
    mesh = " × ".join(f"{n}={s}" for n, s in zip(r.axis_names, r.axis_sizes, strict=True))
    console.print(
        f"{len(r.devices)} devices · mesh {mesh or '-'}"
        + (" (inferred)" if r.mesh_inferred else "")
        + (f" · hardware {r.hardware}" if r.hardware else ""),
        markup=False,
    )
    console.print(Text(r.notes[0] if r.notes else "", style="dim"))
    if r.devices:
        _common(console, r.devices[0])
    if r.differences:
        console.print(Text("where devices differ", style="bold"))
        for line in r.differences:
            console.print(f"  • {line}", markup=False, highlight=False)
    else:
        console.print("every device has the same figures")
    _table(console, r, opts)
    _axes(console, r)
    _matrix(console, r, opts)
    for note in r.notes[1:]:
        console.print(Text(f"note: {note}", style="dim"))


def _common(console: Console, d: DeviceBreakdown) -> None:
    parts = []
    if d.flops is not None:
        parts.append(f"{d.flops:.4g} FLOP")
    if d.memory_bytes is not None:
        parts.append(f"{bytes_text(d.memory_bytes)} memory traffic")
    if d.compute_s is not None:
        parts.append(f"compute {seconds_text(d.compute_s)}")
    if d.memory_s is not None:
        parts.append(f"memory-bound {seconds_text(d.memory_s)}")
    if d.peak_bytes is not None:
        parts.append(f"peak {bytes_text(d.peak_bytes)}")
    if parts:
        console.print(
            "every device, per step: "
            + " · ".join(parts)
            + (" (estimates)" if d.compute_s is not None else ""),
            markup=False,
        )


def _table(console: Console, r: DevicesReport, opts: ViewOptions) -> None:
    from rich.table import Table
    from rich.text import Text

    groups: dict[tuple[Any, ...], list[DeviceBreakdown]] = {}
    for d in r.devices:
        groups.setdefault(_profile(d), []).append(d)
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col in (
        "devices",
        "coords",
        "collectives",
        "sent",
        "received",
        "collective est.",
        "padding",
        "pinned",
    ):
        table.add_column(
            col, justify="left" if col in ("devices", "coords", "pinned") else "right", no_wrap=True
        )
    rows = sorted(groups.values(), key=lambda ds: -ds[0].collective_sent_bytes)
    for ds in rows[: opts.top]:
        d = ds[0]
        who = str(d.id) if len(ds) == 1 else f"{d.id} … ×{len(ds)}"
        table.add_row(
            *(
                Text(x)
                for x in (
                    who,
                    ",".join(map(str, d.coords)),
                    str(d.collectives),
                    bytes_text(d.collective_sent_bytes),
                    bytes_text(d.collective_received_bytes),
                    seconds_text(d.collective_s),
                    bytes_text(d.padding_bytes or None),
                    ", ".join(d.pinned) or "",
                )
            )
        )
    console.print(table)
    if len(rows) > opts.top:
        console.print(f"… {len(rows) - opts.top} more distinct device profiles (--top N)")


def _axes(console: Console, r: DevicesReport) -> None:
    if not r.by_axis:
        return
    line = " · ".join(f"{k} {bytes_text(v)}" for k, v in r.by_axis.items())
    console.print(
        f"sent per step by mesh axis (busiest device): {line}", markup=False, highlight=False
    )


def _cell(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.2f}" if x >= 0.01 else "<0.01"


def _unit(largest: float) -> tuple[str, float]:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if largest >= scale:
            return unit, float(scale)
    return "B", 1.0


def _matrix(console: Console, r: DevicesReport, opts: ViewOptions) -> None:
    from rich.table import Table
    from rich.text import Text

    m = r.comm_matrix
    console.print(
        Text(
            f"communication matrix (bytes per step, row sends to column): "
            f"{len(m)} device pairs, {bytes_text(m.total_bytes)} in all",
            style="bold",
        )
    )
    if len(m) == 0:
        return
    cell = 6
    if m.num_devices <= DENSE_LIMIT and 8 + m.num_devices * (cell + 1) <= console.width:
        dense = m.dense()
        unit, scale = _unit(float(dense.max()))
        console.print(Text(f"in {unit}", style="dim"))
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        table.add_column("from\\to", justify="right", no_wrap=True)
        for j in range(m.num_devices):
            table.add_column(str(j), justify="right", no_wrap=True, min_width=cell)
        for i in range(m.num_devices):
            table.add_row(str(i), *(_cell(v / scale) if v else "·" for v in dense[i]))
        console.print(table)
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col in ("from", "to", "bytes"):
        table.add_column(col, justify="right", no_wrap=True)
    for s, d, b in m.top(opts.top):
        table.add_row(str(s), str(d), bytes_text(b))
    console.print(table)
    console.print(
        Text(
            f"busiest {min(opts.top, len(m))} of {len(m)} pairs; the full sparse "
            "matrix is in --json",
            style="dim",
        )
    )
