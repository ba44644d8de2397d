"""Kernels of two programs put in correspondence (what XLA fused differently).

A kernel's members are its instruction and what it fuses; two kernels are linked when a
member of one is matched to a member of the other (constants, broadcasts, iotas and other
cheap instructions XLA copies into many fusions do not link). Each connected group of linked
kernels is one change: 1 -> 1 same (or changed), 1 -> n split, n -> 1 merged, n -> m
regrouped, 0 -> 1 added, 1 -> 0 removed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hloscope.passes.diff_match import Matching, Ref
from hloscope.passes.diff_report import DiffSide, KernelChange, same, source_order

if TYPE_CHECKING:
    from hloscope.hlo.model import Module
    from hloscope.passes.fusion import Kernel

NO_LINK = frozenset(
    """constant broadcast iota bitcast reshape get-tuple-element tuple parameter copy
    convert""".split()
)
"""Cheap instructions XLA duplicates into several fusions: they do not link kernels."""


def _members(module: Module, comp_name: str, name: str) -> list[Ref]:
    """The kernel instruction and every instruction of the computations it fuses or wraps."""
    out: list[Ref] = [(comp_name, name)]
    ins = module.by_name[comp_name].by_name[name]
    if ins.opcode not in ("fusion", "async-start"):
        return out
    stack = list(ins.called[:1])
    seen: set[str] = set()
    while stack:
        cname = stack.pop()
        comp = module.by_name.get(cname)
        if comp is None or cname in seen:
            continue
        seen.add(cname)
        for inner in comp.instructions:
            if inner.opcode == "parameter":
                continue
            out.append((cname, inner.name))
            if inner.opcode in ("fusion", "async-start") and inner.called:
                stack.append(inner.called[0])
    return out


def _linking(module: Module, refs: list[Ref]) -> list[Ref]:
    """Members that link kernels: not cheap copies XLA duplicates, unless that is all."""
    keep = [r for r in refs if module.by_name[r[0]].by_name[r[1]].opcode not in NO_LINK]
    return keep or refs


class _Kernels:
    """One side's kernels, their linking members and estimated times."""

    def __init__(self, side: DiffSide) -> None:
        assert side.fusion is not None
        assert side.module is not None
        self.side = side
        self.kernels: list[Kernel] = list(side.fusion.kernels)
        self.owner: dict[Ref, int] = {}
        self.links: list[list[Ref]] = []
        for i, k in enumerate(self.kernels):
            members = _linking(side.module, _members(side.module, k.computation, k.name))
            self.links.append(members)
            for r in members:
                self.owner.setdefault(r, i)

    def time(self, i: int) -> float | None:
        r = self.side.roofline
        if r is None:
            return None
        est = r.by_kernel.get(self.kernels[i].name)
        return est.total_s if est is not None else 0.0


def _kernel_groups(ka: _Kernels, kb: _Kernels, m: Matching
                   ) -> list[tuple[list[int], list[int]]]:
    """Connected groups of kernels linked by matched members: (A indices, B indices)."""
    na = len(ka.kernels)
    parent = list(range(na + len(kb.kernels)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, refs in enumerate(ka.links):
        for r in refs:
            partner = m.a_to_b.get(r)
            j = kb.owner.get(partner) if partner is not None else None
            if j is not None:
                ri, rj = find(i), find(na + j)
                if ri != rj:
                    parent[rj] = ri
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for i in range(na):
        groups.setdefault(find(i), ([], []))[0].append(i)
    for j in range(len(kb.kernels)):
        groups.setdefault(find(na + j), ([], []))[1].append(j)
    return list(groups.values())


def kernel_changes(a: DiffSide, b: DiffSide, m: Matching) -> tuple[KernelChange, ...]:
    """Kernels added, removed, split, merged, regrouped, or changed (same grouping, other
    cost, shape or body), largest estimated-time change first."""
    ka, kb = _Kernels(a), _Kernels(b)
    changed = {c.a: c for c in m.changed}
    out: list[KernelChange] = []
    for xs, ys in _kernel_groups(ka, kb, m):
        status = _group_status(len(xs), len(ys))
        fields: tuple[str, ...] = ()
        if status == "same":
            k1, k2 = ka.kernels[xs[0]], kb.kernels[ys[0]]
            own = changed.get((k1.computation, k1.name))
            fields = own.what if own is not None else ()
            inner = any(r in changed for r in ka.links[xs[0]][1:])
            if not (fields or inner) and same(k1.flops, k2.flops) and same(
                    k1.bytes_accessed, k2.bytes_accessed):
                continue
            status = "changed"
        out.append(_kernel_change(status, ka, xs, kb, ys, fields))
    out.sort(key=_order)
    return tuple(out)


def _order(k: KernelChange) -> tuple[float, float, float, str, tuple[str, int], str,
                                     tuple[str, ...], tuple[str, ...]]:
    """Largest change first; equal ones by status, line, what, then kernel names (unique on
    each side): a total order, so the report never depends on the order kernels came in."""
    return (-abs(k.time_delta or 0.0), -abs(k.bytes_b - k.bytes_a), -abs(k.flops_b - k.flops_a),
            k.status, source_order(k.source), k.what, k.a, k.b)


def _group_status(n_a: int, n_b: int) -> str:
    if n_a == 0:
        return "added"
    if n_b == 0:
        return "removed"
    if n_a == 1 and n_b == 1:
        return "same"
    if n_a == 1:
        return "split"
    if n_b == 1:
        return "merged"
    return "regrouped"


def _sum(values: Iterable[float | None]) -> float | None:
    """Exactly rounded (math.fsum): the same whatever order the values come in."""
    got = list(values)
    if any(v is None for v in got):
        return None
    return math.fsum(v for v in got if v is not None)


def _kernel_change(status: str, ka: _Kernels, xs: list[int], kb: _Kernels, ys: list[int],
                   changes: tuple[str, ...] = ()) -> KernelChange:
    ks_a = [ka.kernels[i] for i in xs]
    ks_b = [kb.kernels[j] for j in ys]
    every = ks_b or ks_a
    first = every[0]
    return KernelChange(
        status=status,
        a=tuple(k.name for k in ks_a),
        b=tuple(k.name for k in ks_b),
        category=first.category,
        what=_describe(ks_a, ks_b),
        source=first.primary_source,
        flops_a=math.fsum(k.flops * k.count for k in ks_a),
        flops_b=math.fsum(k.flops * k.count for k in ks_b),
        bytes_a=math.fsum(k.bytes_accessed * k.count for k in ks_a),
        bytes_b=math.fsum(k.bytes_accessed * k.count for k in ks_b),
        time_a=_sum(ka.time(i) for i in xs) if ka.side.roofline is not None else None,
        time_b=_sum(kb.time(j) for j in ys) if kb.side.roofline is not None else None,
        changes=changes,
    )


def _kernel_words(k: Kernel) -> str:
    ops = [o for o in k.opcodes if o not in ("parameter", "constant")]
    shown = ", ".join(ops[:4]) + (f" +{len(ops) - 4}" if len(ops) > 4 else "")
    kind = k.kind if k.opcode == "fusion" else k.opcode
    return f"{kind}({shown})" if k.opcode == "fusion" else kind


def _scope(k: Kernel) -> str:
    """The kernel's first name scope (`jit(f)/block0/mlp`), without `jit(f)/`."""
    s = k.scopes[0] if k.scopes else ""
    return s.split(")/", 1)[1] if s.startswith("jit(") and ")/" in s else s


def _describe(ks_a: list[Kernel], ks_b: list[Kernel]) -> str:
    scopes: dict[str, None] = {}
    for k in (*ks_a, *ks_b):
        scope = _scope(k)
        if scope:
            scopes[scope] = None
    left = " + ".join(_kernel_words(k) for k in ks_a[:3]) + (" ..." if len(ks_a) > 3 else "")
    right = " + ".join(_kernel_words(k) for k in ks_b[:3]) + (" ..." if len(ks_b) > 3 else "")
    text = f"{left} -> {right}" if ks_a and ks_b and left != right else (left or right)
    scope = next(iter(scopes), "")
    return f"{text} in {scope}" if scope else text


