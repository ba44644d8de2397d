"""`dump --view memory`: bytes live over the schedule (a sparkline), the peak and what holds
it, parameters and outputs per device, the fit on each named device, and XLA's figures and
buffer assignment beside ours with the reasons they differ.

All figures come from `Analysis.memory` (derived from the optimized HLO) except those marked
`xla` (XLA's `memory_analysis()` and its dumped buffer assignment).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from hloscope.analysis import Analysis
    from hloscope.passes.memory import MemoryReport
    from hloscope.views import ViewOptions

BARS = "▁▂▃▄▅▆▇█"
WIDTH = 72
"""Sparkline columns at most (each column the highest of the steps it covers)."""


def to_json(analysis: Analysis, opts: ViewOptions) -> dict[str, Any]:
    return {"memory": analysis.memory.to_json()}


def fmt_bytes(n: float) -> str:
    """Binary units: `512 B`, `1.5 KiB`, `11.4 MiB`; negative numbers keep their sign."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{sign}{n:.0f} {unit}" if unit == "B" else f"{sign}{n:.1f} {unit}"
        n /= 1024
    return f"{sign}{n:.1f} TiB"  # pragma: no cover - loop always returns


def sparkline(values: Sequence[int], width: int = WIDTH) -> tuple[str, int]:
    """(bars, column of the peak): each column is the highest value of the steps it covers."""
    if not values:
        return "", 0
    cols = min(width, len(values))
    top = max(values) or 1
    out = []
    peak_col, peak_val = 0, -1
    for c in range(cols):
        lo = c * len(values) // cols
        hi = max(lo + 1, (c + 1) * len(values) // cols)
        v = max(values[lo:hi])
        if v > peak_val:
            peak_col, peak_val = c, v
        out.append(BARS[min(len(BARS) - 1, v * len(BARS) // (top + 1))])
    return "".join(out), peak_col


def render(analysis: Analysis, console: Console, opts: ViewOptions) -> None:
    r = analysis.memory
    console.print(f"[bold]Memory per device[/bold] — {analysis.capture.name}  "
                  f"[dim](derived from the scheduled HLO; figures marked xla are XLA's)[/dim]")
    _headline(r, console)
    _timeline(r, console)
    _at_peak(r, console, opts.top)
    _fits(r, console)
    _parameters(r, console, opts.top)
    _assignment(r, console, opts.top)
    if r.notes:
        console.print("[bold]Notes[/bold]")
        for note in r.notes:
            console.print(f"  • {note}")


def _headline(r: MemoryReport, console: Console) -> None:
    where = r.peak_instruction + (f" in {r.peak_computation}" if r.peak_computation else "")
    console.print(f"  peak          {fmt_bytes(r.peak_bytes)} ({r.peak_bytes} B) at step "
                  f"{r.peak_step} ({where})")
    split = "  ".join(f"{k} {fmt_bytes(v)}" for k, v in r.peak_split.items() if v)
    console.print(f"  at the peak   {split}")
    console.print(f"  arguments     {fmt_bytes(r.argument_bytes)}   outputs "
                  f"{fmt_bytes(r.output_bytes)}   donated {fmt_bytes(r.alias_bytes)}   "
                  f"constants {fmt_bytes(r.constant_bytes)}")
    console.print(f"  temporaries   at most {fmt_bytes(r.temp_bytes)} live at once;  whole-run "
                  f"{fmt_bytes(r.whole_run_bytes)};  reserved {fmt_bytes(r.reserved_bytes)}")
    x = r.xla
    if x:
        peak = fmt_bytes(x["peak_bytes"]) if "peak_bytes" in x else "n/a"
        console.print(f"  xla           peak_memory_in_bytes {peak};  temp arena "
                      f"{fmt_bytes(x['temp_bytes'])};  arguments+outputs-aliases+temp "
                      f"{fmt_bytes(x['total_bytes'])}")


def _timeline(r: MemoryReport, console: Console) -> None:
    if not r.timeline:
        return
    bars, col = sparkline(r.timeline)
    console.print(f"  timeline      {bars}", markup=False)
    console.print("                " + " " * col + "^ peak", markup=False)
    console.print(f"                step 0 … {len(r.timeline) - 1}; "
                  f"{r.steps} steps with nested computations; max {fmt_bytes(r.peak_bytes)}")


def _table(console: Console, title: str, columns: Sequence[str],
           rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for i, c in enumerate(columns):
        t.add_column(c, justify="right" if i in right else "left", overflow="fold")
    for row in rows:
        t.add_row(*row)
    console.print(t)


def _at_peak(r: MemoryReport, console: Console, top: int) -> None:
    rows = [
        (fmt_bytes(b.bytes), b.kind, b.name, b.shape, _short(b.source) or _tail(b.op_name),
         f"{b.live_from}–{b.live_to}")
        for b in r.at_peak[:top]
    ]
    more = len(r.at_peak) - len(rows)
    title = f"Live at the peak ({len(rows)} of {len(r.at_peak)} buffers, largest first)"
    _table(console, title, ("bytes", "kind", "value", "shape", "source", "steps"), rows,
           right=(0,))
    if more > 0:
        console.print(f"  … {more} more (--top N to see more)")


def _tail(op_name: str, width: int = 36) -> str:
    """The end of a long op_name (its most specific part)."""
    return op_name if len(op_name) <= width else "…" + op_name[-(width - 1):]


def _short(source: str | None) -> str:
    """`file.py:12` from a full path (the JSON keeps the path)."""
    return source.rsplit("/", 1)[-1] if source else ""


def _fits(r: MemoryReport, console: Console) -> None:
    if not r.fits:
        return
    rows = [
        (f.hardware, fmt_bytes(f.capacity_bytes), fmt_bytes(f.required_bytes),
         fmt_bytes(f.margin_bytes), "yes" if f.fits else "NO")
        for f in sorted(r.fits.values(), key=lambda f: f.capacity_bytes)
    ]
    basis = next(iter(r.fits.values())).basis
    what = "XLA's reserved bytes" if basis == "xla" else "reserved bytes, model"
    _table(console, f"Fit per device ({what})",
           ("hardware", "capacity", "required", "margin", "fits"), rows, right=(1, 2, 3))


def _parameters(r: MemoryReport, console: Console, top: int) -> None:
    prows = [
        (str(p.number), p.op_name or p.name, p.shape, fmt_bytes(p.bytes),
         ", ".join("{" + ",".join(map(str, i)) + "}" for i in p.donated_to), p.sharding or "")
        for p in sorted(r.parameters, key=lambda p: -p.bytes)[:top]
    ]
    _table(console, f"Parameters ({len(r.parameters)}, per-device shards, largest first)",
           ("#", "name", "shape", "bytes", "donated to", "sharding"), prows, right=(3,))
    orows = [
        ("{" + ",".join(map(str, o.index)) + "}", o.shape, fmt_bytes(o.bytes), o.defined_by,
         "" if o.aliases_parameter is None else str(o.aliases_parameter))
        for o in sorted(r.outputs, key=lambda o: -o.bytes)[:top]
    ]
    _table(console, f"Outputs ({len(r.outputs)}, largest first)",
           ("index", "shape", "bytes", "defined by", "reuses parameter"), orows, right=(2,))


def _assignment(r: MemoryReport, console: Console, top: int) -> None:
    if not r.xla_assignment:
        return
    rows = [
        (str(a.index), a.kind, fmt_bytes(a.xla_bytes), str(len(a.values)), str(a.our_buffers),
         "yes" if a.agrees else "NO", ", ".join(a.values[:4]) + (" …" if len(a.values) > 4
                                                                 else ""))
        for a in sorted(r.xla_assignment, key=lambda a: -a.xla_bytes)[:top]
    ]
    _table(console, f"XLA's buffer assignment ({len(r.xla_assignment)} allocations, largest "
           "first) beside this model", ("alloc", "kind", "xla bytes", "values", "our buffers",
                                        "agrees", "values (first 4)"), rows, right=(2, 3, 4))
    if r.assignment_conflicts:
        console.print(f"  {len(r.assignment_conflicts)} disagreements:")
        for c in r.assignment_conflicts[:top]:
            console.print(f"    {c}", markup=False)
    else:
        console.print("  no disagreement: every pair of values XLA stores in the same bytes is "
                      "live at different steps here")
