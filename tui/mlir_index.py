"""Where each StableHLO op is in the module's text, so the TUI can jump there. Navigation
only, no figures: the StableHLO reader gives ops and their Python lines; this finds their
text lines by matching (function, op name, innermost Python frame) in order, resolving the
`#locN` table jax prints with `debug_info=True`.

Ops the printer folds into another op's line (the body of a pretty-printed `reduce`) map to
the line of the op holding them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_LOC_DEF = re.compile(r"^(#loc\d*) = loc\((.*)\)\s*$")
_FUNC = re.compile(r"^\s*func\.func\s+(?:public|private|nested\s+)?\s*@([\w.$\-]+)")
_OP = re.compile(
    r'^\s*(?:%[\w#:.\-]+(?:\s*,\s*%[\w#:.\-]+)*\s*=\s*)?"?([a-z_]+\.[\w.]+|call|return)\b'
)
_TRAILING_LOC = re.compile(r"loc\((#loc\d*)\)\s*$")
_FILE_LINE = re.compile(r'^"((?:[^"\\]|\\.)*)":(\d+):(\d+)')
_NAMED = re.compile(r'^"(?:[^"\\]|\\.)*"\((.*)\)$')
_CALLSITE = re.compile(r"^callsite\((#loc\d*) at (#loc\d*)\)$")
_FUSED = re.compile(r"^fused(?:<[^>]*>)?\[(.*)\]$")
_REF = re.compile(r"#loc\d*")

Frame = tuple[str, int]
"""(file, line) of Python source."""


def _short_name(name: str) -> str:
    """The text's spelling of an op: `func.call` prints as `call`, `func.return` as
    `return`."""
    return {"func.call": "call", "func.return": "return"}.get(name, name)


class _Locations:
    def __init__(self, defs: Mapping[str, str]) -> None:
        self.defs = defs
        self.memo: dict[str, Frame | None] = {}

    def frame(self, ref: str, depth: int = 0) -> Frame | None:
        """The innermost Python frame of a `#locN`."""
        if ref in self.memo:
            return self.memo[ref]
        self.memo[ref] = None  # cycles resolve to nothing
        body = self.defs.get(ref)
        found = self.parse(body, depth) if body is not None and depth < 200 else None
        self.memo[ref] = found
        return found

    def parse(self, body: str, depth: int) -> Frame | None:
        body = body.strip()
        if body.startswith("#loc"):
            return self.frame(body, depth + 1)
        m = _FILE_LINE.match(body)
        if m:
            return (m.group(1), int(m.group(2)))
        m = _CALLSITE.match(body)
        if m:
            return self.frame(m.group(1), depth + 1) or self.frame(m.group(2), depth + 1)
        m = _NAMED.match(body)
        if m:
            return self.parse(m.group(1), depth + 1)
        m = _FUSED.match(body)
        if m:
            for ref in _REF.findall(m.group(1)):
                f = self.frame(ref, depth + 1)
                if f is not None:
                    return f
        return None


@dataclass(frozen=True, slots=True)
class OpLines:
    """StableHLO op id -> 0-based text line, for the ops found."""

    lines: Mapping[int, int]

    def line_of(self, op_id: int) -> int | None:
        return self.lines.get(op_id)


def index_text(lines: Sequence[str]) -> dict[tuple[str, str, str, int], list[int]]:
    """(function, op name, file, line) -> text lines holding such ops, in order."""
    defs: dict[str, str] = {}
    for text in lines:
        if text.startswith("#loc"):
            m = _LOC_DEF.match(text)
            if m:
                defs[m.group(1)] = m.group(2)
    locs = _Locations(defs)
    out: dict[tuple[str, str, str, int], list[int]] = {}
    func = ""
    for i, text in enumerate(lines):
        m = _FUNC.match(text)
        if m:
            func = m.group(1)
            continue
        op = _OP.match(text)
        if op is None:
            continue
        ref = _TRAILING_LOC.search(text)
        frame = locs.frame(ref.group(1)) if ref else None
        if frame is None:
            continue
        out.setdefault((func, op.group(1), frame[0], frame[1]), []).append(i)
    return out


def op_lines(module: Any, lines: Sequence[str]) -> OpLines:
    """Text lines of the ops of a StableModule (`hloscope.stablehlo`), matched in order."""
    table = index_text(lines)
    seen: dict[tuple[str, str, str, int], int] = {}
    found: dict[int, int] = {}
    for op in module.ops:
        frames = op.loc.frames
        if frames:
            key = (op.func or "", _short_name(op.name), frames[0].file, frames[0].line)
            n = seen.get(key, 0)
            candidates = table.get(key, ())
            if n < len(candidates):
                found[op.id] = candidates[n]
                seen[key] = n + 1
                continue
        if op.parent is not None and op.parent in found:
            found[op.id] = found[op.parent]  # folded into its parent's line
    return OpLines(found)
