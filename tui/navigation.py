"""Where one can jump from a line of HLO or StableHLO text: operand definitions, users,
called computations and callers. Structure only."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

from hloscope.hlo.model import Module
from hloscope.tui.index import TextIndex


@dataclass(frozen=True, slots=True)
class JumpTarget:
    label: str
    line: int
    """0-based line to go to."""
    group: str = ""
    """`operand`, `user`, `calls`, `caller`, `definition`."""


def _instruction_at(index: TextIndex, line: int) -> tuple[str, str] | None:
    name = index.at_line.get(line)
    if name is None:
        return None
    place = index.instructions.get(name)
    if place is None:
        return None
    return place.computation, name


def describe_line(module: Module, index: TextIndex, line: int) -> Text:
    """` fusion.12 in main: 3 operands, 2 users, model.py:42 (jit(f)/dot_general)`"""
    comp_name = index.comp_at_line.get(line)
    if comp_name is not None:
        callers = index.callers.get(comp_name, ())
        t = Text(f" computation {comp_name}", style="bold")
        t.append(f": called by {len(callers)}" if callers else ": not called (entry)")
        return t
    found = _instruction_at(index, line)
    if found is None:
        return Text("")
    comp_name, name = found
    comp = module.by_name[comp_name]
    ins = comp.by_name[name]
    users = index.users.get((comp_name, name), ())
    t = Text(f" {name}", style="bold")
    t.append(f" in {comp_name}: {len(ins.operands)} operands, {len(users)} users")
    if ins.called:
        t.append(f", calls {', '.join(ins.called)}")
    from hloscope.hlo.source import source_of

    loc = source_of(module, ins)
    if loc is not None:
        t.append(f"   {os.path.basename(loc.file)}:{loc.line}")
    if ins.op_name:
        t.append(f" ({ins.op_name})", style="dim")
    t.append("   Enter: jump", style="dim")
    return t


def jump_targets(module: Module, index: TextIndex, line: int) -> list[JumpTarget]:
    comp_name = index.comp_at_line.get(line)
    if comp_name is not None:
        out = []
        for caller in index.callers.get(comp_name, ()):
            out.append(JumpTarget(f"← called by {caller}", index.line_of(caller), "caller"))
        comp = module.by_name.get(comp_name)
        if comp is not None:
            out.append(JumpTarget(f"→ root {comp.root}", index.line_of(comp.root), "definition"))
        return [t for t in out if t.line >= 0]
    found = _instruction_at(index, line)
    if found is None:
        return []
    comp_name, name = found
    ins = module.by_name[comp_name].by_name[name]
    out = []
    for i, op in enumerate(ins.operands):
        out.append(JumpTarget(f"→ operand {i}: {op}", index.line_of(op), "operand"))
    for c in ins.called:
        out.append(JumpTarget(f"→ calls {c}", index.computations.get(c, -1), "calls"))
    for u in index.users.get((comp_name, name), ()):
        out.append(JumpTarget(f"← used by {u}", index.line_of(u), "user"))
    if ins.is_root:
        for caller in index.callers.get(comp_name, ()):
            out.append(JumpTarget(f"← result of {comp_name} used by {caller}",
                                  index.line_of(caller), "caller"))
    return [t for t in out if t.line >= 0]


_MLIR_DEF = re.compile(r"^\s*(%[\w#.\-]+(?::\d+)?(?:\s*,\s*%[\w#.\-]+)*)\s*=")
_MLIR_USE = re.compile(r"%[\w.\-]+")
_FUNC = re.compile(r"^\s*func\.func\b")


def mlir_jump_targets(lines: Sequence[str], line: int) -> list[JumpTarget]:
    """Within the function holding `line`: the definitions of the SSA values it uses and the
    lines using the values it defines (SSA names are local to a function)."""
    if not 0 <= line < len(lines):
        return []
    start = line
    while start > 0 and not _FUNC.match(lines[start]):
        start -= 1
    end = line + 1
    while end < len(lines) and not _FUNC.match(lines[end]):
        end += 1
    text = lines[line]
    m = _MLIR_DEF.match(text)
    defined = set(_MLIR_USE.findall(m.group(1))) if m else set()
    rhs = text[m.end():] if m else text
    used = [u for u in dict.fromkeys(_MLIR_USE.findall(rhs)) if u not in defined]
    defs: dict[str, int] = {}
    users: list[JumpTarget] = []
    for i in range(start, end):
        dm = _MLIR_DEF.match(lines[i])
        if dm:
            for name in _MLIR_USE.findall(dm.group(1)):
                defs.setdefault(name, i)
        if i != line and defined:
            rest = lines[i][dm.end():] if dm else lines[i]
            hit = [d for d in defined if re.search(re.escape(d) + r"\b(?![\w.\-])", rest)]
            if hit:
                users.append(JumpTarget(f"← used at line {i + 1}: {lines[i].strip()[:60]}", i,
                                        "user"))
    out = [JumpTarget(f"→ {u} defined at line {defs[u] + 1}", defs[u], "operand")
           for u in used if u in defs]
    return out + users[:200]
