"""XLA's own cost of every instruction, by carving (JAX-XLA-NOTES.md, Q3).

Each instruction is cut out into a module of its own: its operands become parameters, the
computations it calls are copied with it, and XLA's C++ HloCostAnalysis runs on that module
(`hloscope._jaxapi.hlo_cost_of_text`). The text worked on is XLA's own print of the module (with
operand shapes), so this helper does not depend on hloscope's parser.

A `*-done` instruction cannot stand alone (XLA's parser wants its start as the operand): it is
carved together with its start, and its cost is the pair's minus the start's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hloscope import _jaxapi

_COMP_HEADER = re.compile(r"^(ENTRY )?%(\S+) .*\{$")
_REF = re.compile(r"%([\w.\-]+)")

DONE_OF_START = {"send-done": "send", "recv-done": "recv"}
"""Halves that need their first half; also every `*-done` / `*-update` (async-done,
all-reduce-done, the `slice-done` sugar, ...)."""


def _needs_start(opcode: str) -> bool:
    return opcode in DONE_OF_START or opcode.endswith(("-done", "-update"))


@dataclass(frozen=True, slots=True)
class PrintedInstruction:
    name: str
    shape: str
    opcode: str
    operands: tuple[tuple[str, str], ...]
    """(shape text, name) per operand; empty for constants and parameters."""
    head: str
    """Text up to and including the opcode's `(`: `%x = f32[2]{0} add(`."""
    args: str
    """Raw text between the opcode's parentheses."""
    attrs: str
    """Text after the closing parenthesis (`, dimensions={0}, ...`), control deps removed."""


@dataclass(frozen=True, slots=True)
class PrintedComputation:
    name: str
    text: str
    instructions: tuple[PrintedInstruction, ...]


@dataclass(frozen=True, slots=True)
class Carved:
    computation: str
    name: str
    opcode: str
    flops: float | None
    transcendentals: float | None
    bytes_accessed: float | None
    error: str = ""


def _matching(text: str, start: int) -> int:
    """Index of the bracket closing the one at `start` (any of ([{ nested)."""
    depth = 0
    in_str = False
    i = start
    while i < len(text):
        ch = text[i]
        if in_str:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced brackets in {text[:80]!r}")


def _split_top(text: str) -> list[str]:
    out, depth, cur, in_str = [], 0, [], False
    for ch in text:
        if in_str:
            cur.append(ch)
            if ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def _strip_control_deps(attrs: str) -> str:
    key = ", control-predecessors="
    i = attrs.find(key)
    if i < 0:
        return attrs
    j = _matching(attrs, i + len(key))
    return attrs[:i] + attrs[j + 1:]


def parse_instruction(line: str) -> PrintedInstruction:
    body = line.strip()
    if body.startswith("ROOT "):
        body = body[5:]
    name, _, rest = body.partition(" = ")
    name = name.lstrip("%")
    if rest.startswith("("):
        end = _matching(rest, 0)
        shape, after = rest[: end + 1], rest[end + 1:].lstrip()
    else:
        shape, _, after = rest.partition(" ")
    paren = after.index("(")
    opcode = after[:paren]
    close = _matching(after, paren)
    args = after[paren + 1: close]
    attrs = _strip_control_deps(after[close + 1:])
    operands: list[tuple[str, str]] = []
    if opcode not in ("constant", "parameter"):
        for item in _split_top(args):
            shp, _, ref = item.rpartition(" ")
            operands.append((shp, ref.lstrip("%")))
    head = f"%{name} = {shape} {opcode}("
    return PrintedInstruction(name, shape, opcode, tuple(operands), head, args, attrs)


def _depth(text: str) -> int:
    depth, in_str, i = 0, False, 0
    while i < len(text):
        ch = text[i]
        if in_str:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        i += 1
    return depth


def split_module(printed: str) -> list[PrintedComputation]:
    comps: list[PrintedComputation] = []
    lines = printed.splitlines()
    i = 0
    while i < len(lines):
        m = _COMP_HEADER.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        instrs: list[PrintedInstruction] = []
        i += 1
        while not lines[i].startswith("}"):  # `}` or `}, execution_thread="..."`
            line = lines[i]
            while _depth(line) > 0:  # an attribute (raw JSON) printed over several lines
                i += 1
                line += "\n" + lines[i]
            instrs.append(parse_instruction(line))
            i += 1
        text = "\n".join(lines[start: i + 1])
        if m.group(1):
            text = text[len("ENTRY "):]
        comps.append(PrintedComputation(m.group(2), text, tuple(instrs)))
        i += 1
    return comps


class Carver:
    """Carves instructions of one module (given as HLO text XLA parses)."""

    def __init__(self, text: str) -> None:
        module = _jaxapi.hlo_module_from_text(text)
        self.printed = module.to_string(_jaxapi.print_options(operand_shapes=True))
        self.computations = split_module(self.printed)
        self.by_name = {c.name: c for c in self.computations}
        self.order = {c.name: i for i, c in enumerate(self.computations)}
        self._local: dict[str, dict[str, PrintedInstruction]] = {}

    def _called(self, attrs: str) -> list[str]:
        found: list[str] = []
        stack = [n for n in _REF.findall(attrs) if n in self.by_name]
        seen: set[str] = set()
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            found.append(n)
            for ins in self.by_name[n].instructions:
                stack.extend(r for r in _REF.findall(ins.attrs) if r in self.by_name)
        return sorted(found, key=self.order.__getitem__)

    def _text(self, chain: list[PrintedInstruction]) -> str:
        """A module whose entry computes `chain` (a start and its done, or one instruction)."""
        params: dict[str, str] = {}
        inner = {c.name for c in chain}
        lines: list[str] = []
        for ins in chain:
            if ins.opcode == "parameter":
                lines.append(f"  %{ins.name} = {ins.shape} parameter({len(params)})")
                params[ins.name] = ins.shape
                continue
            if ins.opcode == "constant":
                lines.append(f"  {ins.head}{ins.args}){ins.attrs}")
                continue
            refs = []
            for shp, ref in ins.operands:
                if ref in inner:
                    refs.append(f"{shp} %{ref}")
                    continue
                if ref not in params:
                    lines.append(f"  %{ref} = {shp} parameter({len(params)})")
                    params[ref] = shp
                refs.append(f"{shp} %{ref}")
            lines.append(f"  {ins.head}{', '.join(refs)}){ins.attrs}")
        lines[-1] = "  ROOT " + lines[-1].lstrip()
        called: list[str] = []
        for ins in chain:
            called.extend(c for c in self._called(ins.attrs) if c not in called)
        called.sort(key=self.order.__getitem__)
        parts = ["HloModule carved", ""]
        parts += [self.by_name[c].text + "\n" for c in called]
        parts.append("ENTRY %carved_entry {\n" + "\n".join(lines) + "\n}\n")
        return "\n".join(parts)

    def _cost(self, chain: list[PrintedInstruction]) -> dict[str, float]:
        return _jaxapi.hlo_cost_of_text(self._text(chain))

    def carve(self, comp: PrintedComputation, ins: PrintedInstruction) -> Carved:
        try:
            chain = self._chain(comp, ins)
            got = self._cost(chain)
            if len(chain) > 1:
                base = self._cost(chain[:-1])
                got = {k: got.get(k, 0.0) - base.get(k, 0.0) for k in set(got) | set(base)}
        except Exception as e:  # XLA refused the carved module: reported, not hidden
            return Carved(comp.name, ins.name, ins.opcode, None, None, None, str(e).splitlines()[0])
        return Carved(
            comp.name, ins.name, ins.opcode,
            got.get("flops", 0.0), got.get("transcendentals", 0.0), got.get("bytes accessed", 0.0),
        )

    def _chain(self, comp: PrintedComputation, ins: PrintedInstruction) -> list[PrintedInstruction]:
        chain = [ins]
        if not _needs_start(ins.opcode):
            return chain
        local = self._local.get(comp.name)
        if local is None:
            local = self._local[comp.name] = {i.name: i for i in comp.instructions}
        while _needs_start(chain[0].opcode) and chain[0].operands:
            start = local.get(chain[0].operands[0][1])
            if start is None:
                break
            chain.insert(0, start)
        return chain

    def all(self) -> Iterator[Carved]:
        for comp in self.computations:
            for ins in comp.instructions:
                yield self.carve(comp, ins)


# -- comparing with hloscope's per-instruction costs ------------------------------------------

_LAYOUT_OR_COMMENT = re.compile(r"\{[^{}]*\}|/\*.*?\*/|\s")


_REAL_ASYNC = frozenset({
    "all-gather-start", "all-gather-done", "all-reduce-start", "all-reduce-done",
    "collective-permute-start", "collective-permute-done", "copy-start", "copy-done",
    "async-start", "async-update", "async-done", "send-done", "recv-done",
})


def _norm_opcode(opcode: str) -> str:
    """XLA prints an async-start wrapping one op as `<op>-start` (and `-update`, `-done`)."""
    if opcode in _REAL_ASYNC:
        return opcode
    for suffix in ("-start", "-update", "-done"):
        if opcode.endswith(suffix):
            return "async" + suffix
    return opcode


def _norm_shape(text: str) -> str:
    return _LAYOUT_OR_COMMENT.sub("", text)


def _close(a: float, b: float, rel: float = 1e-6) -> bool:
    """Equal up to XLA's float32 storage of each figure (relative 1e-6)."""
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


@dataclass
class Comparison:
    """Per-instruction agreement of hloscope's costs with XLA's on one module."""

    compared: int = 0
    matched: int = 0
    mismatches: list[str] | None = None
    carve_errors: list[str] | None = None
    by_signature: int = 0
    """Instructions XLA's parser renamed (duplicate names), matched by computation, opcode
    and shape instead of by name."""

    def __post_init__(self) -> None:
        self.mismatches = self.mismatches or []
        self.carve_errors = self.carve_errors or []


def compare(text: str, module: Any, report: Any, *, limit: int | None = None,
            seed: int = 0) -> Comparison:
    """Carve every instruction of `text` (or a deterministic sample of `limit`: every opcode
    kept, the rest strided) and compare XLA's cost with `report.cost_of`."""
    from hloscope.passes.fusion import format_shape

    carver = Carver(text)
    out = Comparison()
    picks = _sample(carver, limit, seed)
    leftovers: dict[tuple[str, str, str], list[tuple[float, float, float]]] = {}
    ours_left: dict[tuple[str, str, str], list[tuple[float, float, float]]] = {}
    by_name: set[tuple[str, str]] = set()
    for comp, ins in picks:
        carved = carver.carve(comp, ins)
        where = f"{comp.name}/{ins.name} ({ins.opcode})"
        if carved.error:
            assert out.carve_errors is not None
            out.carve_errors.append(f"{where}: {carved.error}")
            continue
        xla = (carved.flops or 0.0, carved.transcendentals or 0.0, carved.bytes_accessed or 0.0)
        ocomp = module.by_name.get(comp.name)
        oins = ocomp.by_name.get(ins.name) if ocomp is not None else None
        key = (comp.name, _norm_opcode(ins.opcode), _norm_shape(ins.shape))
        if (oins is None or oins.opcode != key[1]
                or _norm_shape(format_shape(oins.shape)) != key[2]):
            leftovers.setdefault(key, []).append(xla)  # renamed by XLA: match by signature
            continue
        by_name.add((comp.name, ins.name))
        c = report.cost_of(ins.name, comp.name)
        ours = (c.flops, c.transcendentals, c.bytes_accessed)
        _record(out, where, ours, xla)
    if leftovers:
        # Our instructions not matched by name, by the same signature.
        for comp in module.computations:
            for ins in comp.instructions:
                key = (comp.name, ins.opcode, _norm_shape(format_shape(ins.shape)))
                if key in leftovers and (comp.name, ins.name) not in by_name:
                    c = report.cost_of(ins.name, comp.name)
                    ours_left.setdefault(key, []).append(
                        (c.flops, c.transcendentals, c.bytes_accessed))
        for key, xs in leftovers.items():
            pool = sorted(ours_left.get(key, []))
            for xla in sorted(xs):
                hit = next((p for p in pool if all(map(_close, p, xla))), None)
                out.compared += 1
                if hit is not None:
                    pool.remove(hit)
                    out.matched += 1
                    out.by_signature += 1
                else:
                    assert out.mismatches is not None
                    out.mismatches.append(f"{key[0]}/? ({key[1]} {key[2]}): renamed by XLA; "
                                          f"no instruction of ours costs {xla}")
    return out


def _record(out: Comparison, where: str, ours: tuple[float, float, float],
            xla: tuple[float, float, float]) -> None:
    out.compared += 1
    if all(map(_close, ours, xla)):
        out.matched += 1
    else:
        assert out.mismatches is not None
        out.mismatches.append(f"{where}: ours (flops, transcendentals, bytes) = {ours}, "
                              f"XLA = {xla}")


def _sample(carver: Carver, limit: int | None, seed: int
            ) -> list[tuple[PrintedComputation, PrintedInstruction]]:
    every = [(c, i) for c in carver.computations for i in c.instructions]
    if limit is None or len(every) <= limit:
        return every
    first: dict[str, tuple[PrintedComputation, PrintedInstruction]] = {}
    for c, i in every:
        first.setdefault(i.opcode, (c, i))
    chosen = {(c.name, i.name) for c, i in first.values()}
    stride = max(1, len(every) // max(1, limit - len(chosen)))
    for c, i in every[seed % stride::stride]:
        chosen.add((c.name, i.name))
    return [(c, i) for c, i in every if (c.name, i.name) in chosen]
