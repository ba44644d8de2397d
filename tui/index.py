"""Navigation index over a module's text: where each instruction and computation is defined,
and who uses each instruction. Structure only (no figures): it lets the text view jump from
an instruction to its operands' definitions and to its users.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hloscope.hlo.model import Module


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    name: str
    computation: str
    line: int
    """0-based line in the module text; -1 when the text does not hold it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TextIndex:
    instructions: Mapping[str, Place]
    """Instruction name -> where it is defined."""
    computations: Mapping[str, int]
    """Computation name -> 0-based line of its header."""
    at_line: Mapping[int, str]
    """0-based line -> the instruction defined there."""
    comp_at_line: Mapping[int, str]
    """0-based header line -> computation name."""
    users: Mapping[tuple[str, str], tuple[str, ...]]
    """(computation, instruction) -> names of instructions of that computation using it as an
    operand, in text order. Keyed by computation too: hand-written HLO may reuse names."""
    callers: Mapping[str, tuple[str, ...]]
    """Computation name -> instructions calling it (fusion, while, reducers...)."""

    def line_of(self, name: str) -> int:
        p = self.instructions.get(name)
        if p is not None:
            return p.line
        return self.computations.get(name, -1)


def build_index(module: Module) -> TextIndex:
    """Index a parsed module. Lines come from the parser's `Instruction.line` (1-based in the
    text the module was parsed from)."""
    instructions: dict[str, Place] = {}
    at_line: dict[int, str] = {}
    computations: dict[str, int] = {}
    comp_at_line: dict[int, str] = {}
    users: dict[tuple[str, str], list[str]] = {}
    callers: dict[str, list[str]] = {}
    for comp in module.computations:
        cline = comp.line - 1 if comp.line else -1
        computations[comp.name] = cline
        if cline >= 0:
            comp_at_line[cline] = comp.name
        for ins in comp.instructions:
            line = ins.line - 1 if ins.line else -1
            instructions.setdefault(
                ins.name, Place(name=ins.name, computation=comp.name, line=line)
            )
            if line >= 0:
                at_line[line] = ins.name
            for op in ins.operands:
                users.setdefault((comp.name, op), []).append(ins.name)
            for c in ins.called:
                callers.setdefault(c, []).append(ins.name)
    return TextIndex(
        instructions=instructions,
        computations=computations,
        at_line=at_line,
        comp_at_line=comp_at_line,
        users={k: tuple(dict.fromkeys(v)) for k, v in users.items()},
        callers={k: tuple(v) for k, v in callers.items()},
    )
