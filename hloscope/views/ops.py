"""`dump --view ops`: FLOPs, transcendentals and bytes per instruction and in total, with XLA's
conventions (derived; the total equals XLA's cost_analysis), the executed total with loop
trip counts, ops without a cost rule, and the costliest instructions with their source line.

Shared helpers for the cost views (number formatting, the `cost` and `kernels` JSON) live
here too; `fusions`, `roofline` and `source` import them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from hloscope.analysis import Analysis
    from hloscope.passes.cost import CostReport
    from hloscope.passes.roofline import RooflineReport
    from hloscope.views import ViewOptions


# -- formatting ------------------------------------------------------------------------------


def si(x: float, unit: str = "") -> str:
    """`1.234 GFLOP`: 4 significant digits (exact numbers are in --json)."""
    if x < 0:
        return "?" if x == -1 else "-" + si(-x, unit)
    for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.4g} {prefix}{unit}"
    return f"{x:.4g} {unit}".rstrip()


def nbytes(n: float) -> str:
    if n < 0:
        return "?"
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def seconds(s: float | None) -> str:
    if s is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def short(source: str) -> str:
    """`/path/to/model.py:42` -> `model.py:42`."""
    if not source or source == "?":
        return source or ""
    path, _, line = source.rpartition(":")
    return f"{path.rsplit('/', 1)[-1]}:{line}"


def make_table(title: str, columns: list[tuple[str, str]]) -> Any:
    """A rich Table; columns are (header, kind): `name` (kept whole, folded if needed),
    `text` (cut with …), `num` (right-aligned, never wrapped)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for header, kind in columns:
        if kind == "name":
            table.add_column(header, min_width=16, ratio=3, overflow="fold")
        elif kind == "num":
            table.add_column(header, justify="right", no_wrap=True)
        else:
            table.add_column(header, max_width=32, ratio=1, overflow="ellipsis")
    return table


# -- shared JSON -----------------------------------------------------------------------------


def cost_json(cost: CostReport) -> dict[str, Any]:
    doc: dict[str, Any] = cost.to_json()
    return doc


def kernels_json(analysis: Analysis, opts: ViewOptions, *, with_estimates: bool
                 ) -> list[dict[str, Any]]:
    """The `kernels` list: every kernel (program order), with `estimated_s` and `bound` on
    the hardware when `with_estimates`."""
    fusion = analysis.fusion
    roof = analysis.roofline if with_estimates else None
    out = []
    for k in fusion.kernels:
        doc = k.to_json()
        if roof is not None:
            est = roof.by_kernel[k.name]
            doc.update({
                "estimated_s": est.time_s, "estimated_total_s": est.total_s,
                "bound": est.bound, "intensity": est.intensity,
                "ridge_fraction": est.ridge_fraction, "peak": est.peak,
                "hardware": roof.hardware.name,
            })
        out.append(doc)
    return out


def wants_estimates(opts: ViewOptions) -> bool:
    return opts.hardware is not None


def estimate_label(roof: RooflineReport) -> str:
    hw = roof.hardware
    return f"estimate on {hw.name} ({hw.description})"


# -- the view --------------------------------------------------------------------------------


def to_json(analysis: Analysis, opts: ViewOptions) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "cost": cost_json(analysis.cost),
        "instructions": [
            r.to_json() for r in analysis.cost.top_instructions(analysis.module, opts.top)
        ],
        "kernels": kernels_json(analysis, opts, with_estimates=wants_estimates(opts)),
    }
    if wants_estimates(opts):
        doc["roofline"] = analysis.roofline.to_json(top=opts.top)
    return doc


def render(analysis: Analysis, console: Console, opts: ViewOptions) -> None:
    from rich.table import Table
    from rich.text import Text

    cost = analysis.cost
    xla = analysis.capture.xla_cost
    console.print(Text(f"{analysis.capture.name}: cost per device "
                       f"({cost.devices} device{'s' if cost.devices != 1 else ''})",
                       style="bold cyan"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("total (XLA convention)", _line(cost.total))
    if xla is not None:
        same = (abs(xla.flops - cost.total.flops) <= 1e-4 * max(1.0, abs(xla.flops)))
        grid.add_row("XLA cost_analysis", Text(
            _line_values(xla.flops, xla.transcendentals, xla.bytes_accessed)
            + ("  (agrees up to float32 rounding)" if same else "  (differs!)"),
            style="dim" if same else "red"))
    grid.add_row("executed (× trip counts)", _line(cost.executed))
    if cost.unknown_trip_counts:
        grid.add_row("", Text(f"loops without a known trip count, counted once: "
                              f"{', '.join(cost.unknown_trip_counts[:5])}", style="yellow"))
    if cost.devices > 1:
        grid.add_row("all devices (executed)", _line(cost.all_devices))
    for cond, branches in list(cost.conditionals.items())[:5]:
        grid.add_row(f"conditional {cond}", " | ".join(
            f"{b}: {si(c.flops, 'FLOP')}, {nbytes(c.bytes_accessed)}" for b, c in branches)
            + "  (totals take the costliest)")
    if cost.unknown_ops:
        grid.add_row("no cost rule", Text(
            " · ".join(f"{k} ×{v}" for k, v in cost.unknown_ops.items())
            + "  (custom calls: XLA counts -1 flops, -1 bytes)", style="yellow"))
    console.print(grid)
    table = make_table(f"top {opts.top} instructions by bytes + flops per step", [
        ("instruction", "name"), ("opcode", "text"), ("×", "num"), ("FLOPs", "num"),
        ("transc.", "num"), ("bytes", "num"), ("source", "text")])
    for row in cost.top_instructions(analysis.module, opts.top):
        table.add_row(row.name, row.opcode, str(row.count), si(row.cost.flops),
                      si(row.cost.transcendentals), nbytes(row.cost.bytes_accessed),
                      short(row.source))
    console.print(table)


def _line(c: Any) -> str:
    return _line_values(c.flops, c.transcendentals, c.bytes_accessed)


def _line_values(flops: float, transcendentals: float, bytes_: float) -> str:
    return (f"{si(flops, 'FLOP')} · {si(transcendentals)} transcendentals · "
            f"{nbytes(bytes_)} accessed")
