"""What the Diff screen shows, read from the DiffReport (`hloscope.diff(a, b)`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from hloscope.tui import fmt
from hloscope.tui.widgets.vtable import Column, Row

COLLECTIVE_COLUMNS = (
    Column("change", "change", width=9),
    Column("kind", "kind", width=18),
    Column("axes", "axes", width=12),
    Column("bytes", "bytes/dev", width=11, align="right"),
    Column("count", "×", width=4, align="right"),
    Column("source", "source", ratio=2),
    Column("name", "instruction", ratio=2),
)

KERNEL_COLUMNS = (
    Column("change", "change", width=9),
    Column("name", "kernel", ratio=2),
    Column("delta", "Δ est.", width=10, align="right"),
    Column("what", "what", ratio=3),
)

SOURCE_COLUMNS = (
    Column("source", "line", ratio=2),
    Column("a", "A", width=10, align="right"),
    Column("b", "B", width=10, align="right"),
    Column("delta", "Δ", width=10, align="right"),
)


def _delta_style(d: float) -> str:
    return "red" if d > 0 else ("green" if d < 0 else "dim")


def totals(report: Any, labels: Sequence[str], hardware: str | None) -> Table:
    t = Table(box=None, padding=(0, 2), expand=False)
    t.add_column("")
    t.add_column(f"A ({labels[0]})", justify="right")
    t.add_column(f"B ({labels[1] if len(labels) > 1 else ''})", justify="right")
    t.add_column("Δ", justify="right")
    for row in report.totals_rows():
        label, a, b, delta, rel, unit = row
        f = {"s": fmt.seconds, "B": fmt.nbytes, "FLOP": fmt.flops}.get(unit, fmt.count)
        d = Text(f(delta) if delta else "0", style=_delta_style(delta or 0))
        if rel is not None:
            d.append(f" {fmt.signed_percent(rel)}")
        t.add_row(label, f(a), f(b), d)
    return t


def collective_rows(report: Any) -> list[Row]:
    return []


def kernel_rows(report: Any) -> list[Row]:
    return []


def source_rows(report: Any) -> list[Row]:
    return []
