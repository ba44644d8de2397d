"""XLA's module total reproduced bit for bit: its float32 arithmetic in its visit order.

HloCostAnalysis keeps every property as a C++ `float` and sums instructions in the order its
DFS visitor reaches them, so on big modules `compiled.cost_analysis()` differs from the exact
sum (`CostReport.total`) in the 5th-7th significant digit. `xla_float32_total` redoes that sum
from our per-instruction costs: each instruction's figure rounded to float32, computations
summed in float32 in XLA's post-order (operands first, unreachable roots before the root),
nested computations (fusion bodies, loop bodies, branches) the same way. Tests use it to show
that the only difference from XLA is this rounding.

It imports numpy for IEEE float32 arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hloscope.hlo.model import Computation, Instruction, Module

if TYPE_CHECKING:
    from hloscope.passes.cost import CostReport, OpCost

_SUB_COST = frozenset({"call", "async-start"})


def visit_order(comp: Computation) -> list[Instruction]:
    """XLA's `HloComputation::Accept` order: each unreachable root (no users, not the root, no
    control successors) in instruction order, then the root; each by post-order DFS over
    operands then control predecessors."""
    has_user: set[str] = set()
    for ins in comp.instructions:
        has_user.update(ins.operands)
        has_user.update(ins.control_predecessors)
    roots = [i.name for i in comp.instructions if i.name not in has_user and i.name != comp.root]
    roots.append(comp.root)
    state: dict[str, int] = {}  # 1 visiting, 2 visited
    order: list[Instruction] = []
    for root in roots:
        stack = [root]
        while stack:
            name = stack[-1]
            st = state.get(name, 0)
            if st == 2:
                stack.pop()
                continue
            ins = comp.by_name[name]
            if st == 1:
                stack.pop()
                state[name] = 2
                order.append(ins)
                continue
            state[name] = 1
            mark = len(stack)
            for child in (*ins.operands, *ins.control_predecessors):
                if state.get(child, 0) == 0 and child in comp.by_name:
                    stack.append(child)
            stack[mark:] = stack[mark:][::-1]
    return order


class _F32:
    def __init__(self, module: Module, report: CostReport) -> None:
        import numpy as np

        self.np = np
        self.module = module
        self.report = report
        self.sums: dict[str, tuple[Any, Any, Any]] = {}

    def f32(self, x: float) -> Any:
        return self.np.float32(x)

    def computation(self, name: str) -> tuple[Any, Any, Any]:
        got = self.sums.get(name)
        if got is not None:
            return got
        comp = self.module.by_name[name]
        z = self.f32(0.0)
        f, t, b = z, z, z
        for ins in visit_order(comp):
            fi, ti, bi = self.instruction(comp, ins)
            f, t, b = f + fi, t + ti, b + bi
        self.sums[name] = (f, t, b)
        return f, t, b

    def instruction(self, comp: Computation, ins: Instruction) -> tuple[Any, Any, Any]:
        op = ins.opcode
        if op in _SUB_COST and ins.called:
            return self.computation(ins.called[0])
        if op == "while":
            z = self.f32(0.0)
            f, t, b = z, z, z
            for name in reversed(ins.called):  # XLA adds the body, then the condition
                sf, st, sb = self.computation(name)
                f, t, b = f + sf, t + st, b + sb
            return f, t, b
        if op == "conditional":
            f, t, b = self.computation(ins.called[0])
            for name in ins.called[1:]:
                sf, st, sb = self.computation(name)
                f = max(f, sf) if sf else f
                t = max(t, st) if st else t
                b = max(b, sb) if sb else b
            return f, t, b
        exact: OpCost = self.report.cost_of(ins.name, comp.name)
        if op == "fusion" and not _custom_gather_scatter(self.module, ins):
            sf, st, _ = self.computation(ins.called[0])
            return sf, st, self.f32(exact.bytes_accessed)
        return (self.f32(exact.flops), self.f32(exact.transcendentals),
                self.f32(exact.bytes_accessed))


def _custom_gather_scatter(module: Module, ins: Instruction) -> bool:
    if ins.fusion_kind != "kCustom":
        return False
    body = module.by_name[ins.called[0]]
    return any(i.opcode in ("gather", "scatter") for i in body.instructions)


def xla_float32_total(module: Module, report: CostReport) -> Mapping[str, float]:
    """{'flops', 'transcendentals', 'bytes accessed'} as XLA's float32 sums would give them."""
    f, t, b = _F32(module, report).computation(module.entry)
    return {"flops": float(f), "transcendentals": float(t), "bytes accessed": float(b)}
