"""Kernels and Python lines -> the StableHLO ops behind them, matched by source location.

`run(module, *, fusion, stablehlo) -> StableLinks`. Kept apart from the kernel report
(`passes/fusion.py`): it needs the capture's StableHLO parsed, which takes seconds on a large
program (in an isolated subprocess), and only the faces that list StableHLO ops want it, so
kernels, estimates and the diff never wait for it.

- A kernel's ops: for each instruction inside it, the StableHLO ops whose innermost Python
  frame is the instruction's line and whose name stack is the instruction's op_name; every op
  of that line when none has that name stack (XLA rewrites op_names, for instance when it folds
  a transpose into a dot). Call/return plumbing (the `func` dialect) is left out.
- A line's ops: every op whose innermost Python frame is that line (`StableModule.ops_at`).

Ids index `StableModule.ops`. A match by location is a link, not a proof: two ops on one line
with one name stack are both linked to every kernel made from that line and scope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hloscope.hlo.model import Instruction, Module
    from hloscope.hlo.source import SourceLoc
    from hloscope.passes.fusion import FusionReport
    from hloscope.stablehlo.model import StableModule

SourceFn = Callable[["Module", "Instruction"], "SourceLoc | None"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StableLinks:
    kernels: Mapping[str, tuple[int, ...]]
    """Kernel name -> ids of its StableHLO ops, in op order (kernels with none are absent)."""
    lines: Mapping[str, tuple[int, ...]]
    """`file:line` (full path, as the reports name lines) -> ids of the ops it made."""
    op_count: int = 0
    """Ops in the StableHLO module."""

    def kernel_ops(self, kernel: str) -> tuple[int, ...]:
        return self.kernels.get(kernel, ())

    def line_ops(self, source: str) -> tuple[int, ...]:
        return self.lines.get(source, ())

    def to_json(self) -> dict[str, Any]:
        return {
            "provenance": "derived: StableHLO ops matched to kernels by Python line and "
                          "name scope",
            "op_count": self.op_count,
            "kernels": {k: list(v) for k, v in self.kernels.items()},
            "lines": {k: list(v) for k, v in self.lines.items()},
        }


def run(module: Module, *, fusion: FusionReport, stablehlo: StableModule,
        source_of: SourceFn | None = None) -> StableLinks:
    """The links of `fusion`'s kernels and of every Python line to `stablehlo`'s ops."""
    from hloscope.passes.fusion import members, memo_source_of

    where = source_of or memo_source_of()
    per_line: dict[tuple[str, int], dict[str | None, list[int]]] = {}

    def by_stack(file: str, line: int) -> dict[str | None, list[int]]:
        """The line's ops by name stack (None: all of them), plumbing left out."""
        got = per_line.get((file, line))
        if got is None:
            got = {}
            for op in stablehlo.ops_at(file, line):
                if op.dialect == "func":
                    continue
                got.setdefault(op.name_stack, []).append(op.id)
                got.setdefault(None, []).append(op.id)
            per_line[(file, line)] = got
        return got

    kernels: dict[str, tuple[int, ...]] = {}
    for k in fusion.kernels:
        found: dict[int, None] = {}
        for _, ins in members(module, k):
            src = where(module, ins)
            if src is None or not src.file:
                continue
            ops = by_stack(src.file, src.line)
            for op_id in ops.get(ins.op_name or None) or ops.get(None) or ():
                found.setdefault(op_id)
        if found:
            kernels[k.name] = tuple(sorted(found))
    lines = {f"{file}:{line}": tuple(sorted(ids))
             for (file, line), ids in stablehlo.source_lines().items()}
    return StableLinks(kernels=kernels, lines=lines, op_count=len(stablehlo.ops))
