"""`dump --view roofline [--hardware NAME]`: an ESTIMATE of the step time on a named device,
per kernel (compute or memory bound, arithmetic intensity, how far from the ridge) and by
category. Without `--hardware`, the capture's own device (or this CPU, measured)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hloscope.views.ops import (
    cost_json,
    estimate_label,
    kernels_json,
    make_table,
    seconds,
    short,
    si,
)

if TYPE_CHECKING:
    from rich.console import Console

    from hloscope.analysis import Analysis
    from hloscope.views import ViewOptions


def to_json(analysis: Analysis, opts: ViewOptions) -> dict[str, Any]:
    return {
        "cost": cost_json(analysis.cost),
        "roofline": analysis.roofline.to_json(top=opts.top),
        "kernels": kernels_json(analysis, opts, with_estimates=True),
    }


def render(analysis: Analysis, console: Console, opts: ViewOptions) -> None:
    from rich.table import Table
    from rich.text import Text

    roof = analysis.roofline
    fusion = analysis.fusion
    hw = roof.hardware
    console.print(Text(f"{analysis.capture.name}: roofline {estimate_label(roof)}",
                       style="bold cyan"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("estimated step", f"{seconds(roof.step_s)} per device "
                 f"(compute-bound {seconds(roof.compute_s)} · memory-bound "
                 f"{seconds(roof.memory_s)} · collectives {seconds(roof.collective_s)})")
    peaks = " · ".join(f"{k} {si(v, 'OP/s' if k == 'int8' else 'FLOP/s')}"
                       for k, v in hw.peak_flops.items())
    grid.add_row("hardware", f"{peaks} · HBM {si(hw.hbm_bytes_per_s, 'B/s')}"
                 + (" (measured)" if hw.measured else ""))
    shares = " · ".join(f"{c} {roof.share(c):.0%}" for c, v in
                        sorted(roof.by_category.items(), key=lambda kv: -kv[1]) if v)
    grid.add_row("time by category", shares or "—")
    for note in roof.notes:
        grid.add_row("note", Text(note, style="dim"))
    console.print(grid)
    table = make_table(f"top {opts.top} kernels by estimated time per step ({hw.name})", [
        ("kernel", "name"), ("category", "text"), ("×", "num"), ("est. total", "num"),
        ("share", "num"), ("bound", "text"), ("FLOP/byte", "num"), ("of ridge", "num"),
        ("source", "text")])
    kernels = {k.name: k for k in fusion.kernels}
    for name in roof.top_kernels[: opts.top]:
        est = roof.by_kernel[name]
        k = kernels[name]
        share = roof.kernel_share(name)
        table.add_row(
            name, est.category, str(est.count), seconds(est.total_s),
            f"{share:.1%}" if share is not None else "—", est.bound,
            f"{est.intensity:.3g}", f"{est.ridge_fraction:.0%} of {est.peak}",
            short(k.primary_source),
        )
    console.print(table)
