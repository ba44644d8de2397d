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


def _live(instrs: dict[str, Sequence[Instruction]], entry: str) -> set[str]:
    """Computations reachable from the entry."""
    live = {entry}
    todo = [entry]
    while todo:
        for ins in instrs.get(todo.pop(), ()):
            for c in ins.called:
                if c not in live:
                    live.add(c)
                    todo.append(c)
    return live


def computation_roles(comps: Sequence[tuple[str, Sequence[Instruction]]],
                      entry: str) -> dict[str, Role]:
    """Role of each computation given (name, instructions) in text order."""
    live = _live(dict(comps), entry)
    found: dict[str, set[Role]] = {entry: {Role.ENTRY}}
    for name, body in comps:
        if name not in live:
            continue
        for ins in body:
            if ins.called:
                for callee, role in call_roles(ins):
                    found.setdefault(callee, set()).add(role)
    out = {}
    for name, _ in comps:
        roles = found.get(name) if name in live else None
        if not roles:
            out[name] = Role.UNUSED
        elif len(roles) == 1:  # the usual case (every role found is in _PRIORITY)
            out[name] = next(iter(roles))
        else:
            out[name] = next(r for r in _PRIORITY if r in roles)
    return out


def assign_roles(comps: Sequence[Computation], entry: str) -> list[Computation]:
    """The computations with their roles set."""
    roles = computation_roles([(c.name, c.instructions) for c in comps], entry)
    return [c if c.role is roles[c.name] else replace(c, role=roles[c.name]) for c in comps]
