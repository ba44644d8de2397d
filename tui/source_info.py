"""What the Source screen shows: Python lines ranked by estimated time (the source report),
each unfolding to its kernels (with the roofline's estimates) and the StableHLO ops lowered
from it (the StableHLO links report; the ops' names and types from the StableHLO module)."""

from __future__ import annotations

import linecache
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from hloscope.tui import fmt, rows, theme
from hloscope.tui.reports import ReportState
from hloscope.tui.widgets.chrome import state_text
from hloscope.tui.widgets.vtable import Bar, Column, Row

COLUMNS = (
    Column("source", "line", ratio=4),
    Column("time", "est./step", width=10, align="right"),
    Column("bar", "share", width=14),
    Column("flops", "FLOPs/step", width=11, align="right"),
    Column("bytes", "bytes/step", width=10, align="right", hide_below=110),
    Column("what", "kernels / ops", ratio=2),
)

MAX_OPS = 200
"""StableHLO ops listed under one line (a line in a loop body can make thousands)."""


@dataclass(frozen=True, slots=True)
class SourceLine:
    key: str
    """`file:line` as the reports name it (`?`: no source)."""
    label: str
    code: str
    """The Python line itself, when the file is readable here."""
    time_s: float | None
    share: float | None
    flops: float
    bytes_accessed: float
    kernels: tuple[tuple[str, float | None, str], ...]
    """(kernel, its estimated time per step, what it computes), longest first."""
    ops: tuple[tuple[int, str], ...] = ()
    """(StableHLO op id, label)."""
    op_count: int = 0


def _split(source: str) -> tuple[str, int] | None:
    path, _, line = source.rpartition(":")
    return (path, int(line)) if path and line.isdigit() else None


def source_lines(report: Any, fusion: Any, roofline: Any | None, links: Any | None,
                 stablehlo: Any | None) -> list[SourceLine]:
    """The view of each line of the source report, in its order (longest first). Ops are
    listed when both the links and the StableHLO module are at hand."""
    by_name = {k.name: k for k in fusion.kernels}
    est = roofline.by_kernel if roofline is not None else {}
    out = []
    for ln in report.lines:
        kernels = []
        for name in ln.kernels:
            e = est.get(name)
            k = by_name.get(name)
            kernels.append((name, e.total_s if e is not None else None,
                            rows.kernel_what(k) if k is not None else ""))
        kernels.sort(key=lambda x: -(x[1] or 0.0))
        where = _split(ln.source)
        code, op_count = "", 0
        ops: tuple[tuple[int, str], ...] = ()
        if where is not None:
            code = linecache.getline(where[0], where[1]).strip()
            if links is not None and stablehlo is not None:
                found = links.line_ops(ln.source)
                op_count = len(found)
                ops = tuple((i, op_label(stablehlo.ops[i])) for i in found[:MAX_OPS])
        out.append(SourceLine(
            key=ln.source,
            label=ln.short if ln.source != "?" else "? (no source line)",
            code=code,
            time_s=ln.estimated_s,
            share=report.share(ln),
            flops=ln.flops,
            bytes_accessed=ln.bytes_accessed,
            kernels=tuple(kernels),
            ops=ops,
            op_count=op_count,
        ))
    return out


def op_label(op: Any) -> str:
    types = ", ".join(str(t) for t in op.result_types[:2])
    return f"{op.name} → {types}" if types else op.name


def summary(report: Any, lines: list[SourceLine], roof: ReportState,
            stable: ReportState) -> Text:
    """`stable`: the state of the StableHLO links (or of the module, whichever is not
    ready)."""
    t = Text(f" {len(lines)} source lines")
    if report.attributed_share is not None:
        t.append(f", {fmt.percent(report.attributed_share)} of FLOPs have a line")
    if report.hardware:
        t.append(f"   estimates on {report.hardware}", style="dim")
    elif not roof.ready:
        t.append("   ")
        t.append_text(state_text(roof, "estimates"))
    if not stable.ready:
        t.append("   ")
        t.append_text(state_text(stable, "StableHLO ops"))
    return t


def line_row(line: SourceLine, is_open: bool) -> Row:
    arrow = "▾ " if is_open else "▸ "
    label = Text(arrow + line.label)
    if line.code:
        label.append("  " + line.code, style="dim")
    what = f"{len(line.kernels)} kernel{'s' if len(line.kernels) != 1 else ''}"
    if line.op_count:
        what += f", {line.op_count} ops"
    return Row(
        (
            label,
            fmt.seconds(line.time_s),
            Bar(line.share or 0.0, theme.COMPUTE, theme.COMPUTE_CHAR,
                label=fmt.percent(line.share)),
            fmt.flops(line.flops),
            fmt.nbytes(line.bytes_accessed),
            what,
        ),
        key=("line", line.key),
        search=f"{line.key} {line.code} {what}".lower(),
        extra={"line_key": line.key},
    )


def child_rows(line: SourceLine) -> list[Row]:
    out = []
    for name, t, what in line.kernels:
        out.append(Row((Text(f"kernel {name}  ", style="bold").append(what, style="dim"),
                        fmt.seconds(t), "", "", "", "Enter: open"),
                       key=("kernel", name), depth=2, extra={"line_key": line.key},
                       search=f"{line.key} {name} {what}".lower()))
    for op_id, label in line.ops:
        out.append(Row((label, "", "", "", "", "Enter: in text"),
                       key=("stablehlo", op_id), depth=2, style="dim",
                       extra={"line_key": line.key}, search=f"{line.key} {label}".lower()))
    if line.op_count > len(line.ops):
        out.append(Row((f"… {line.op_count - len(line.ops)} more ops", "", "", "", "", ""),
                       key=("more", line.key), depth=2, style="dim",
                       extra={"line_key": line.key}))
    return out
