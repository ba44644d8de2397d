"""`dump --view source [--hardware NAME]`: cost per Python source line (`Analysis.source`).
FLOPs are exact (each instruction's own line); bytes and, with a hardware, estimated time go to
each kernel's main line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hloscope.views.ops import (
    cost_json,
    kernels_json,
    make_table,
    nbytes,
    seconds,
    short,
    si,
    wants_estimates,
)

if TYPE_CHECKING:
    from rich.console import Console

    from hloscope.analysis import Analysis
    from hloscope.passes.source import SourceReport
    from hloscope.views import ViewOptions


def report(analysis: Analysis, opts: ViewOptions) -> SourceReport:
    """The analysis's per-line report: with estimates when it was given a hardware (as `dump
    --hardware` does)."""
    return analysis.source


def to_json(analysis: Analysis, opts: ViewOptions) -> dict[str, Any]:
    return {
        "cost": cost_json(analysis.cost),
        "source": report(analysis, opts).to_json(top=opts.top),
        "kernels": kernels_json(analysis, opts, with_estimates=wants_estimates(opts)),
    }


def render(analysis: Analysis, console: Console, opts: ViewOptions) -> None:
    from rich.text import Text

    rep = report(analysis, opts)
    share = rep.attributed_share
    if share is None:
        share = 1.0
    console.print(Text(f"{analysis.capture.name}: cost by Python line, per step "
                       f"({share:.0%} of FLOPs have a source line)", style="bold cyan"))
    timed = rep.hardware is not None
    title = f"top {opts.top} lines"
    if timed:
        title += f" by estimated time (estimate on {rep.hardware})"
    cols = [("line", "name"), ("function", "text"), ("FLOPs", "num"), ("transc.", "num"),
            ("bytes", "num"), ("kernels", "num")]
    if timed:
        cols.append((f"est. ({rep.hardware})", "num"))
    table = make_table(title, cols)
    for ln in rep.lines[: opts.top]:
        row = [short(ln.source), ln.function, si(ln.flops), si(ln.transcendentals),
               nbytes(ln.bytes_accessed), str(len(ln.kernels))]
        if timed:
            row.append(seconds(ln.estimated_s))
        table.add_row(*row)
    console.print(table)
