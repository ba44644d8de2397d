"""What the Source screen shows: Python lines ranked by cost, each with its kernels and the
StableHLO ops lowered from it. Figures come from the fusion and roofline reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from hloscope.tui import fmt, theme
from hloscope.tui.reports import ReportState
from hloscope.tui.widgets.chrome import state_text
from hloscope.tui.widgets.vtable import Bar, Column, Row

COLUMNS = (
    Column("source", "line", ratio=3),
    Column("time", "est. time", width=10, align="right"),
    Column("bar", "share", width=16),
    Column("flops", "FLOPs", width=11, align="right"),
    Column("bytes", "bytes", width=10, align="right"),
    Column("what", "kernels / ops", ratio=2),
)


@dataclass(frozen=True, slots=True)
class SourceLine:
    key: str
    """`file:line` as the reports name it."""
    label: str
    time_s: float | None
    share: float | None
    flops: float
    bytes_accessed: float
    kernels: tuple[tuple[str, float | None], ...]
    """(kernel name, its estimated time) the line contributes to."""
    ops: tuple[tuple[str, int], ...] = ()
    """(StableHLO op, 0-based line in the StableHLO text)."""
    code: str = ""


def source_lines(fusion: Any, roofline: Any | None, stablehlo: Any | None) -> list[SourceLine]:
    return []


def summary(lines: list[SourceLine], roof: ReportState, stable: ReportState) -> Text:
    t = Text(f" {len(lines)} source lines")
    if not roof.ready:
        t.append("   ")
        t.append_text(state_text(roof, "estimates"))
    if not stable.ready:
        t.append("   ")
        t.append_text(state_text(stable, "StableHLO ops"))
    return t


def line_row(line: SourceLine, is_open: bool) -> Row:
    arrow = "▾ " if is_open else "▸ "
    return Row(
        (
            arrow + line.label,
            fmt.seconds(line.time_s),
            Bar(line.share or 0.0, theme.COMPUTE, label=fmt.percent(line.share)),
            fmt.flops(line.flops),
            fmt.nbytes(line.bytes_accessed),
            f"{len(line.kernels)} kernels, {len(line.ops)} ops",
        ),
        key=("line", line.key),
        extra={"line_key": line.key},
    )


def child_rows(line: SourceLine) -> list[Row]:
    out = []
    for name, t in line.kernels:
        out.append(Row((f"kernel {name}", fmt.seconds(t), "", "", "", ""),
                       key=("kernel", name), depth=2, extra={"line_key": line.key}))
    for op, ln in line.ops:
        out.append(Row((f"stablehlo {op}", "", "", "", "", f"line {ln + 1}"),
                       key=("stablehlo", ln), depth=2, style="dim",
                       extra={"line_key": line.key}))
    return out
