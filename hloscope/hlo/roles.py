"""Computation roles (entry, fusion body, while body/condition, branch, reducer, async, called,
unused) from the call graph."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from hloscope.hlo.model import Computation, Instruction, Role

# When several callers give a computation different roles, the first in this order wins.
_PRIORITY = (Role.ENTRY, Role.WHILE_BODY, Role.WHILE_CONDITION, Role.BRANCH, Role.ASYNC,
             Role.FUSION, Role.CALLED, Role.REDUCER)
_ASYNC_OPS = frozenset({"async-start", "async-update", "async-done"})
_CALLED_OPS = frozenset({"call", "custom-call"})


def call_roles(ins: Instruction) -> Iterable[tuple[str, Role]]:
    """(callee, role it plays) for each computation an instruction calls."""
    op = ins.opcode
    if op == "while":
        roles: Sequence[Role] = (Role.WHILE_CONDITION, Role.WHILE_BODY)
        for i, c in enumerate(ins.called):
            yield c, roles[i] if i < 2 else Role.CALLED
        return
    role = (Role.FUSION if op == "fusion" else Role.BRANCH if op == "conditional"
            else Role.ASYNC if op in _ASYNC_OPS else Role.CALLED if op in _CALLED_OPS
            else Role.REDUCER)
    for c in ins.called:
        yield c, role


def reachable(comps: Sequence[Computation], entry: str) -> set[str]:
    by_name = {c.name: c for c in comps}
    seen = {entry}
    todo = [entry]
    while todo:
        comp = by_name.get(todo.pop())
        if comp is None:
            continue
        for ins in comp.instructions:
            for c in ins.called:
                if c not in seen:
                    seen.add(c)
                    todo.append(c)
    return seen


def assign_roles(comps: Sequence[Computation], entry: str) -> list[Computation]:
    live = reachable(comps, entry)
    found: dict[str, set[Role]] = {entry: {Role.ENTRY}}
    for comp in comps:
        if comp.name not in live:
            continue
        for ins in comp.instructions:
            for callee, role in call_roles(ins):
                found.setdefault(callee, set()).add(role)
    out = []
    for comp in comps:
        roles = found.get(comp.name) if comp.name in live else None
        role = next(r for r in _PRIORITY if r in roles) if roles else Role.UNUSED
        out.append(comp if comp.role is role else replace(comp, role=role))
    return out
