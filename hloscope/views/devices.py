"""`dump --view devices`: each device's share of a step, where devices differ, where each
device is on the target (physical coordinates, host, slice), totals per mesh axis and the
device × device communication matrix, with traffic across hosts / slices told apart from
traffic within one.

Devices with identical figures are shown as one row (`×k`): in SPMD most are. The placement
table lists devices one per row (up to `--top`). The matrix is printed whole up to 16 devices;
beyond, as the busiest pairs and per-axis totals.

JSON: `devices` (one entry per device: `id`, `coords`, `physical_coords`, `process_index`,
`slice_index`, `kind`, `compute_s`, `collective_bytes_by_axis`, `inter_bytes_by_axis`, ...),
`devices_summary` and `comm_matrix` (sparse entries, each with `inter`).
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
CELL = 6
"""Matrix cell width (characters)."""
INTER_MARK = "*"
"""Marks a matrix cell whose pair lies in different hosts / slices."""


def to_json(analysis: Analysis, opts: ViewOptions) -> dict[str, Any]:
    r = analysis.devices
    return {
        "devices": [d.to_json() for d in r.devices],
        "devices_summary": {
            "axis_names": list(r.axis_names),
            "axis_sizes": list(r.axis_sizes),
            "mesh_inferred": r.mesh_inferred,
            "hardware": r.hardware,
            "target": r.target,
            "device_kind": r.device_kind,
            "topology": r.topology,
            "chips_per_host": list(r.chips_per_host),
            "num_slices": r.num_slices,
            "hosts": r.hosts,
            "placed": r.placed,
            "link_domain": r.link_domain,
            "domains": r.domains,
            "uniform": r.uniform,
            "differences": list(r.differences),
            "by_axis": dict(r.by_axis),
            "by_axis_inter": dict(r.by_axis_inter),
            "notes": list(r.notes),
        },
        "comm_matrix": r.comm_matrix.to_json(),
    }


def _profile(d: DeviceBreakdown) -> tuple[Any, ...]:
    return (
        round(d.collective_sent_bytes, 3),
        round(d.collective_received_bytes, 3),
        round(d.inter_sent_bytes, 3),
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
    if r.target is not None:
        console.print(_target_line(r), markup=False, highlight=False)
        links = _links_line(analysis, r)
        if links:
            console.print(links, markup=False, highlight=False)
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
    if _has_places(r):
        _placement(console, r, opts)
    _axes(console, r)
    _matrix(console, r, opts)
    for note in r.notes[1:]:
        console.print(Text(f"note: {note}", style="dim"))


def _target_line(r: DevicesReport) -> str:
    parts = [f"target {r.target}"]
    if r.device_kind:
        parts.append(r.device_kind)
    if r.topology:
        parts.append(f"topology {r.topology}")
    if r.hosts is not None:
        per = "×".join(map(str, r.chips_per_host))
        parts.append(f"{r.hosts} host{'s' if r.hosts != 1 else ''}" + (f" of {per}" if per else ""))
    parts.append(f"{r.num_slices} slice{'s' if r.num_slices != 1 else ''}")
    return " · ".join(parts)


def _link_name(analysis: Analysis, scope: str) -> str:
    hw = analysis.hardware
    link = hw.link(scope) if hw is not None else None
    return link.name if link is not None else f"{scope} links"


def _links_line(analysis: Analysis, r: DevicesReport) -> str | None:
    if not r.placed or r.link_domain is None:
        return None
    word = r.link_domain
    intra = _link_name(analysis, "intra")
    if r.domains <= 1:
        return f"links: every device is in one {word}: all traffic on {intra} (intra)"
    m = r.comm_matrix
    return (
        f"links: {r.domains} {word}s · within a {word} {intra} (intra), across "
        f"{_link_name(analysis, 'inter')} (inter) · {bytes_text(m.inter_bytes)} of "
        f"{bytes_text(m.total_bytes)} per step crosses {word}s"
    )


def _common(console: Console, d: DeviceBreakdown) -> None:
    parts = []
    if d.flops is not None:
        parts.append(f"{d.flops:.4g} FLOP")
    if d.memory_bytes is not None:
        parts.append(f"{bytes_text(d.memory_bytes)} memory traffic")
    if d.flop_s is not None:
        parts.append(f"FLOPs at peak {seconds_text(d.flop_s)}")
    if d.compute_s is not None:
        parts.append(f"compute-bound kernels {seconds_text(d.compute_s)}")
    if d.memory_s is not None:
        parts.append(f"memory-bound kernels {seconds_text(d.memory_s)}")
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
    split = r.domains > 1
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    cols = ["devices", "coords", "collectives", "sent", "received"]
    if split:
        cols.append(f"across {r.link_domain}s")
    cols += ["collective est.", "padding", "pinned"]
    for col in cols:
        table.add_column(
            col, justify="left" if col in ("devices", "coords", "pinned") else "right", no_wrap=True
        )
    rows = sorted(groups.values(), key=lambda ds: (-ds[0].collective_sent_bytes, ds[0].id))
    for ds in rows[: opts.top]:
        d = ds[0]
        who = str(d.id) if len(ds) == 1 else f"{d.id} … ×{len(ds)}"
        cells = [
            who,
            ",".join(map(str, d.coords)),
            str(d.collectives),
            bytes_text(d.collective_sent_bytes),
            bytes_text(d.collective_received_bytes),
        ]
        if split:
            cells.append(bytes_text(d.inter_sent_bytes))
        cells += [
            seconds_text(d.collective_s),
            bytes_text(d.padding_bytes or None),
            ", ".join(d.pinned) or "",
        ]
        table.add_row(*(Text(x) for x in cells))
    console.print(table)
    if len(rows) > opts.top:
        console.print(f"… {len(rows) - opts.top} more distinct device profiles (--top N)")


def _placement(console: Console, r: DevicesReport, opts: ViewOptions) -> None:
    """One row per device: its mesh coordinates beside its place on the target."""
    from rich.table import Table
    from rich.text import Text

    shown = r.devices[: opts.top]
    cores = any(d.core_on_chip for d in r.devices)
    split = r.domains > 1
    console.print(Text(f"where each device is (mesh → {r.topology or r.target})", style="bold"))
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    axes = ",".join(r.axis_names)
    cols = ["device", "id", f"mesh {axes}" if axes else "mesh", "chip"]
    if cores:
        cols.append("core")
    cols += ["host", "slice", "sent"]
    if split:
        cols.append(f"across {r.link_domain}s")
    for col in cols:
        table.add_column(
            col,
            justify="right" if col in ("sent",) or col.startswith("across") else "left",
            no_wrap=True,
        )
    for d in shown:
        cells = [
            str(d.id),
            str(d.global_id),
            ",".join(map(str, d.coords)),
            ",".join(map(str, d.physical_coords)) or "-",
        ]
        if cores:
            cells.append(_opt(d.core_on_chip))
        cells += [_opt(d.process_index), _opt(d.slice_index), bytes_text(d.collective_sent_bytes)]
        if split:
            cells.append(bytes_text(d.inter_sent_bytes))
        table.add_row(*(Text(x) for x in cells))
    console.print(table)
    if len(r.devices) > len(shown):
        console.print(
            f"… {len(r.devices) - len(shown)} more devices (--top N; every device is in --json)"
        )


def _has_places(r: DevicesReport) -> bool:
    """Whether a placement table says anything: chip coordinates, or more than one host or
    slice (fake CPU devices have neither)."""
    if not r.placed:
        return False
    return any(d.physical_coords for d in r.devices) or (r.hosts or 1) > 1 or r.num_slices > 1


def _opt(x: int | None) -> str:
    return "-" if x is None else str(x)


def _axes(console: Console, r: DevicesReport) -> None:
    if not r.by_axis:
        return
    word = r.link_domain or "domain"

    def one(k: str, v: float) -> str:
        inter = r.by_axis_inter.get(k)
        if inter:
            return f"{k} {bytes_text(v)} ({bytes_text(inter)} across {word}s)"
        return f"{k} {bytes_text(v)}"

    line = " · ".join(one(k, v) for k, v in r.by_axis.items())
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


def _where(r: DevicesReport, s: int, d: int) -> str:
    """`host 0` for a pair within one domain, `host 0→1` across."""
    dom = r.comm_matrix.domain
    if dom is None:
        return ""
    a, b = int(dom[s]), int(dom[d])
    return f"{r.link_domain} {a}" if a == b else f"{r.link_domain} {a}→{b}"


def _matrix(console: Console, r: DevicesReport, opts: ViewOptions) -> None:
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
    if m.num_devices <= DENSE_LIMIT and 8 + m.num_devices * (CELL + 1) <= console.width:
        _dense(console, r)
    else:
        _sparse(console, r, opts)


def _dense(console: Console, r: DevicesReport) -> None:
    from rich.table import Table
    from rich.text import Text

    m = r.comm_matrix
    split = m.domain is not None
    dense = m.dense()
    unit, scale = _unit(float(dense.max()))
    legend = f"in {unit}"
    if split:
        legend += f"; {INTER_MARK} crosses {r.link_domain}s ({bytes_text(m.inter_bytes)})"
    console.print(Text(legend, style="dim"))
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("from\\to", justify="right", no_wrap=True)
    for j in range(m.num_devices):
        table.add_column(str(j), justify="right", no_wrap=True, min_width=CELL)
    for i in range(m.num_devices):
        cells = []
        for j, v in enumerate(dense[i]):
            if not v:
                cells.append(Text("·"))
            elif m.crosses(i, j):
                cells.append(Text(_cell(v / scale) + INTER_MARK, style="yellow"))
            else:
                cells.append(Text(_cell(v / scale)))
        table.add_row(str(i), *cells)
    console.print(table)


def _sparse(console: Console, r: DevicesReport, opts: ViewOptions) -> None:
    from rich.table import Table
    from rich.text import Text

    m = r.comm_matrix
    split = m.domain is not None
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    cols = ["from", "to", "bytes"] + (["link"] if split else [])
    for col in cols:
        table.add_column(col, justify="left" if col == "link" else "right", no_wrap=True)
    for s, d, b in m.top(opts.top):
        row = [str(s), str(d), bytes_text(b)] + ([_where(r, s, d)] if split else [])
        table.add_row(*row)
    console.print(table)
    console.print(
        Text(
            f"busiest {min(opts.top, len(m))} of {len(m)} pairs; the full sparse "
            "matrix is in --json",
            style="dim",
        )
    )
