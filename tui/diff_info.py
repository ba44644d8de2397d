"""What the Diff screen shows, read from the DiffReport (`hloscope.diff(a, b)`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from hloscope.tui import fmt, rows, theme
from hloscope.tui.widgets.vtable import Column, Row

SECTIONS = (
    ("collectives", "1 Collectives"),
    ("kernels", "2 Kernels"),
    ("lines", "3 Source lines"),
    ("parameters", "4 Parameters"),
    ("memory", "5 Memory"),
)

COLUMNS: dict[str, tuple[Column, ...]] = {
    "collectives": (
        Column("status", "change", width=8),
        Column("kind", "kind", width=15),
        Column("axes", "axes A → B", width=16),
        Column("bytes", "bytes/dev A → B", width=21),
        Column("delta", "Δ bytes/step", width=12, align="right"),
        Column("time", "Δ est.", width=9, align="right"),
        Column("source", "source", ratio=1),
    ),
    "kernels": (
        Column("status", "change", width=9),
        Column("names", "kernels A → B", ratio=3),
        Column("delta", "Δ est./step", width=11, align="right"),
        Column("flops", "Δ FLOPs", width=10, align="right"),
        Column("what", "what", ratio=3),
        Column("source", "source", ratio=2),
    ),
    "lines": (
        Column("source", "line", ratio=2),
        Column("a", "est. A", width=9, align="right"),
        Column("b", "est. B", width=9, align="right"),
        Column("delta", "Δ est.", width=10, align="right"),
        Column("flops", "Δ FLOPs", width=10, align="right"),
        Column("bytes", "Δ bytes", width=10, align="right"),
    ),
    "parameters": (
        Column("status", "change", width=8),
        Column("label", "parameter", ratio=2),
        Column("shape", "shape/device A → B", ratio=2),
        Column("axes", "axes A → B", ratio=2),
        Column("bytes", "Δ bytes", width=10, align="right"),
    ),
    "memory": (
        Column("name", "buffer A / B", ratio=2),
        Column("kind", "kind", width=9),
        Column("shape", "shape A → B", ratio=2),
        Column("delta", "Δ at peak", width=11, align="right"),
        Column("source", "source", ratio=2),
    ),
}

STATUS_STYLE = {"added": "green", "removed": "red", "resized": "yellow", "moved": "yellow",
                "split": "yellow", "merged": "yellow", "regrouped": "yellow",
                "changed": "yellow"}


def _signed(f: Callable[[float | None], str], v: float | None) -> Text:
    if v is None:
        return Text("-", style="dim")
    if not v:
        return Text("0", style="dim")
    text = f(v)
    return Text(text if v < 0 else "+" + text, style=theme.BAD if v > 0 else theme.GOOD)


def _arrow(a: object, b: object) -> str:
    if a == b:
        return "" if a is None else str(a)
    return f"{'–' if a is None else a} → {'–' if b is None else b}"


_UNIT_FMT: dict[str, Callable[[float | None], str]] = {
    "s": fmt.seconds, "B": fmt.nbytes, "FLOP": fmt.flops,
}


def totals(report: Any, labels: Sequence[str]) -> RenderableType:
    t = Table(box=None, padding=(0, 2), expand=False, show_edge=False)
    t.add_column("", no_wrap=True)
    # The programs are named above the table: as column headers, long labels widened the A
    # and B columns until the figures' own columns were cut (`+362.…` at 100 columns).
    t.add_column("A", justify="right", no_wrap=True)
    t.add_column("B", justify="right", no_wrap=True)
    t.add_column("Δ", justify="right", no_wrap=True)
    for row in report.totals:
        f = _UNIT_FMT.get(row.unit, fmt.count)
        d = _signed(f, row.delta)
        if row.rel is not None and row.delta:
            d.append(f" {fmt.signed_percent(row.rel)}")
        t.add_row(row.label, f(row.a), f(row.b), d)  # estimates say so ("est. step time")
    head = Text()
    if report.identical:
        head.append("No differences.", style=f"bold {theme.GOOD}")
    else:
        head.append(section_counts(report), style="bold")
    names = [Text.assemble((f"{side}  ", "bold"), (label, ""), no_wrap=True,
                           overflow="ellipsis")
             for side, label in zip("AB", labels, strict=False)]
    extra = [Text(f"{k}: {v}", style="dim") for k, v in report.unavailable.items()]
    extra += [Text(n, style="dim") for n in report.notes]
    return Group(head, *names, t, *extra)


def section_counts(report: Any) -> str:
    parts = [f"collectives {s} {n}" for s, n in report.status_counts("collectives").items()]
    parts += [f"kernels {s} {n}" for s, n in report.status_counts("kernels").items()]
    if report.lines:
        parts.append(f"{len(report.lines)} lines changed cost")
    return ", ".join(parts) or "Only totals differ."


def section_rows(report: Any, section: str) -> list[Row]:
    return {
        "collectives": collective_rows,
        "kernels": kernel_rows,
        "lines": line_rows,
        "parameters": parameter_rows,
        "memory": memory_rows,
    }[section](report)


def _status(s: str) -> Text:
    return Text(s, style=STATUS_STYLE.get(s, ""))


def collective_rows(report: Any) -> list[Row]:
    out = []
    # The report's order: largest change first, ties broken the same way on every run.
    for c in report.collectives:
        side, name = (1, c.name_b) if c.name_b else (0, c.name_a)
        out.append(Row(
            (
                _status(c.status),
                c.kind,
                _arrow(c.axes_a, c.axes_b),
                _arrow(_nb(c.bytes_a), _nb(c.bytes_b)),
                _signed(fmt.nbytes, c.total_delta),
                _signed(fmt.seconds, c.time_delta),
                rows.short_source(c.source),
            ),
            key=("collective", side, name),
            search=f"{c.status} {c.kind} {c.axes} {c.source} {c.op_name}".lower(),
        ))
    return out


def _nb(v: float | None) -> str | None:
    return None if v is None else fmt.nbytes(v)


def kernel_rows(report: Any) -> list[Row]:
    out = []
    for k in report.kernels:  # the report's order (see collective_rows)
        names = (_arrow(", ".join(k.a) or None, ", ".join(k.b) or None) if k.a != k.b
                 else ", ".join(k.a))
        side, name = (1, k.b[0]) if k.b else (0, k.a[0] if k.a else "")
        what = k.what + (f" ({'; '.join(k.changes)})" if k.changes else "")
        out.append(Row(
            (
                _status(k.status),
                names,
                _signed(fmt.seconds, k.time_delta),
                _signed(fmt.count, k.flops_delta),
                what,
                rows.short_source(k.source),
            ),
            key=("kernel", side, name),
            search=f"{k.status} {' '.join(k.a)} {' '.join(k.b)} {k.what} {k.source}".lower(),
        ))
    return out


def line_rows(report: Any) -> list[Row]:
    out = []
    for ln in report.lines:  # the report's order (see collective_rows)
        out.append(Row(
            (
                rows.short_source(ln.source) or "?",
                fmt.seconds(ln.time_a),
                fmt.seconds(ln.time_b),
                _signed(fmt.seconds, ln.time_delta),
                _signed(fmt.count, ln.flops_delta),
                _signed(fmt.nbytes, ln.bytes_delta),
            ),
            key=("source", 0, ln.source),
            search=f"{ln.source} {ln.function}".lower(),
        ))
    return out


def parameter_rows(report: Any) -> list[Row]:
    out = []
    for p in report.parameters:
        side, name = (1, p.name_b) if p.name_b else (0, p.name_a)
        out.append(Row(
            (
                _status(p.status),
                p.label,
                _arrow(p.shape_a, p.shape_b),
                _arrow(p.layout_a or p.sharding_a, p.layout_b or p.sharding_b),
                _signed(fmt.nbytes, p.bytes_delta),
            ),
            key=("parameter", side, name),
            search=f"{p.status} {p.label} {p.shape_a} {p.shape_b}".lower(),
        ))
    return out


def memory_rows(report: Any) -> list[Row]:
    m = report.memory
    if m is None:
        return []
    out = []
    for b in m.buffers:
        side, name = (1, b.name_b) if b.name_b else (0, b.name_a)
        out.append(Row(
            (
                _arrow(b.name_a, b.name_b),
                b.kind,
                _arrow(b.shape_a, b.shape_b),
                _signed(fmt.nbytes, b.delta),
                rows.short_source(b.source or ""),
            ),
            key=("buffer", side, name),
            search=f"{b.name_a} {b.name_b} {b.kind} {b.source}".lower(),
        ))
    return out


def memory_header(report: Any) -> Text:
    m = report.memory
    if m is None:
        return Text(report.unavailable.get("memory", "no memory comparison"), style="dim")
    t = Text(f" peak A {fmt.nbytes(m.peak_a)}  B {fmt.nbytes(m.peak_b)}  ")
    t.append_text(_signed(fmt.nbytes, m.delta))
    return t
