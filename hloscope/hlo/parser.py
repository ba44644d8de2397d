"""HLO text -> `Module`, eagerly, with `file:line:col` errors.

Grammar (xla/hlo/parser/hlo_parser.cc): an optional `HloModule name, attr=value, ...` header,
optional FileNames / FunctionNames / FileLocations / StackFrames tables, then computations
`[ENTRY] name [(params) -> shape] { instructions } [, execution_thread="..."]`, each
instruction `[ROOT] name = shape opcode(operands), attr=value, ...`.

Speed: one precompiled regex reads the usual instruction head (name, array shape, opcode,
plain operand names) in a single match; shapes, shardings, metadata and replica groups are
cached by their text. Anything unusual (tuple shapes, operand shapes, comments, line breaks
inside an instruction) goes through the general token path, which also produces the errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hloscope.errors import ParseError
from hloscope.hlo import attrs as A
from hloscope.hlo.infer import infer_shape, xla_fixed_shape
from hloscope.hlo.lexer import NAME_RE, Cursor
from hloscope.hlo.model import (
    Computation,
    FileLocation,
    Instruction,
    Module,
    Shape,
    StackFrame,
)
from hloscope.hlo.opcodes import ASYNC_SUFFIXES, OPCODES
from hloscope.hlo.roles import assign_roles
from hloscope.hlo.shapes import parse_shape_at
from hloscope.hlo.sharding import cached_sharding_at

_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
# The usual instruction head in one match: `  [ROOT ]%name = f32[8]{0} opcode(operands`.
_FAST_HEAD_RE = re.compile(
    r"(ROOT[ \t]+)?%?(" + _NAME + r")[ \t]*=[ \t]*"
    r"([a-z][a-z0-9]*\[[0-9,]*\](?:\{[^{}\s]*\})?)[ \t]+"
    r"([a-z][a-z0-9\-]*)\(([^()\n\"'/]*)\)"
)
_OPERAND_NAMES_RE = re.compile(r"%?" + _NAME + r"(?:,[ \t]*%?" + _NAME + r")*")
_SPLIT_OPERANDS_RE = re.compile(r",[ \t]*%?")
_OPCODE_RE = re.compile(r"[a-z][a-z0-9\-]*")
_ATTR_KEY_RE = re.compile(r"(" + _NAME + r")[ \t]*=")
_MODULE_RE = re.compile(r"^[ \t]*HloModule\b", re.M)
_TABLE_ENTRY_RE = re.compile(r"[0-9]+")

# Attributes whose value names called computations, and their rank in `called`
# (while: condition then body; conditional: true then false; select-and-scatter: select then
# scatter; others in text order).
_CALLED_KEYS = {
    "calls": 0, "to_apply": 0, "called_computations": 0, "branch_computations": 0,
    "condition": 0, "body": 1, "true_computation": 0, "false_computation": 1,
    "select": 0, "scatter": 1,
}
_REBUILT_SHAPES = frozenset({"send", "recv", "send-done", "recv-done"})
_TABLE_HEADERS = ("FileNames", "FunctionNames", "FileLocations", "StackFrames")


@dataclass(slots=True)
class _Instr:
    """An instruction while it is being read."""

    name: str
    opcode: str
    shape: Shape | None
    operands: tuple[str, ...]
    pos: int
    line: int
    is_root: bool = False
    kw: dict[str, Any] = field(default_factory=dict)
    attributes: list[tuple[str, str]] = field(default_factory=list)
    called: list[tuple[int, str, int]] = field(default_factory=list)


def list_modules(text: str) -> tuple[str, ...]:
    """Names of the modules in a text (one per `HloModule` header; a headerless text holds one
    module named after its entry, as XLA names it)."""
    spans = _module_spans(text)
    if not spans:
        return ()
    names = []
    for start, end in spans:
        cur = Cursor(text[start:end])
        pos = cur.skip_ws(0)
        if text.startswith("HloModule", start + pos):
            names.append(cur.name(pos + len("HloModule"), "a module name")[0])
        else:
            names.append(f"module_{_headerless_entry(text[start:end])}")
    return tuple(names)


_ENTRY_NAME_RE = re.compile(r"^[ \t]*ENTRY[ \t]+%?(" + _NAME + r")", re.M)
_COMP_HEAD_RE = re.compile(r"^[ \t]*%?(" + _NAME + r")[ \t]*[({]", re.M)


def _headerless_entry(text: str) -> str:
    """The entry's name in a headerless text, as XLA picks it (ENTRY, else the last
    computation), found without parsing the text."""
    m = _ENTRY_NAME_RE.search(text)
    if m is not None:
        return m.group(1)
    heads = _COMP_HEAD_RE.findall(text)
    return heads[-1] if heads else "module"


def _module_spans(text: str) -> list[tuple[int, int]]:
    starts = [m.start() for m in _MODULE_RE.finditer(text)]
    if not starts:
        return [(0, len(text))] if text.strip() else []
    if text[: starts[0]].strip() and Cursor(text).skip_ws(0) < starts[0]:
        starts[0] = 0  # text before the first header: let the parser report it
    bounds = [*starts, len(text)]
    return [(bounds[i], bounds[i + 1]) for i in range(len(starts))]


def parse(text: str, *, name: str | None = None, module: str | int | None = None) -> Module:
    """Parse HLO text into a `Module`.

    name: where the text came from (a path), used in error messages and `Module.source_path`.
    module: for texts holding several modules, which one (its name or its index).
    """
    if not isinstance(text, str):
        raise ParseError(f"expected HLO text (str), found {type(text).__name__}", file=name)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ParseError("expected text, found a NUL byte", file=name, line=line)
    spans = _module_spans(text)
    if not spans:
        raise ParseError("expected an HLO module, found an empty text", file=name, line=1,
                         column=1)
    start, end = _select(text, spans, name, module)
    line_base = text.count("\n", 0, start)
    return _parse_one(text[start:end], name, line_base)


def _select(text: str, spans: list[tuple[int, int]], file: str | None,
            module: str | int | None) -> tuple[int, int]:
    if module is None:
        if len(spans) == 1:
            return spans[0]
        raise ParseError(
            f"the text holds {len(spans)} modules ({_some_names(list_modules(text))}); choose "
            "one with module=NAME or module=INDEX", file=file)
    if isinstance(module, int) and not isinstance(module, bool):
        if not -len(spans) <= module < len(spans):
            raise ParseError(f"module index {module} out of range: the text holds "
                             f"{len(spans)} modules", file=file)
        return spans[module]
    names = list_modules(text)
    matches = [i for i, n in enumerate(names) if n == module]
    if not matches:
        raise ParseError(f"no module named {module!r}; the text holds {_some_names(names)}",
                         file=file)
    if len(matches) > 1:
        raise ParseError(f"{len(matches)} modules are named {module!r} (indexes "
                         f"{', '.join(map(str, matches))}); choose one by index", file=file)
    return spans[matches[0]]


def _some_names(names: tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def parse_file(path: Any, *, module: str | int | None = None) -> Module:
    """Read and parse an HLO text file."""
    p = str(path)
    try:
        with open(p, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ParseError(f"expected UTF-8 text, found byte {e.object[e.start]:#x} at offset "
                         f"{e.start}", file=p) from None
    except OSError as e:
        raise ParseError(f"cannot read: {e.strerror or e}", file=p) from None
    return parse(text, name=p, module=module)


def _parse_one(text: str, file: str | None, line_base: int) -> Module:
    return _ModuleParser(text, file, line_base).run()


class _ModuleParser:
    def __init__(self, text: str, file: str | None, line_base: int) -> None:
        self.cur = Cursor(text, file, line_base)
        self.text = text
        self.file = file
        self.line = 1 + line_base
        self.line_pos = 0
        self.header: dict[str, Any] = {"has_header": False}
        self.tables: dict[str, Any] = {}
        self.computations: list[Computation] = []
        self.comp_lines: dict[str, int] = {}
        self.entry: str | None = None

    def line_at(self, pos: int) -> int:
        """1-based line of `pos`; positions must come in increasing order."""
        self.line += self.text.count("\n", self.line_pos, pos)
        self.line_pos = pos
        return self.line

    # --- module -------------------------------------------------------------------------

    def run(self) -> Module:
        cur = self.cur
        pos = cur.skip_ws(0)
        if self.text.startswith("HloModule", pos) and not NAME_RE.match(
                self.text, pos + 9):
            pos = self._header(pos + len("HloModule"))
        pos = self._tables(cur.skip_ws(pos))
        while pos < len(self.text):
            pos = cur.skip_ws(self._computation(pos))
        if not self.computations:
            cur.error(pos, "a computation")
        return _finish_module(self)

    def _header(self, pos: int) -> int:
        cur, text = self.cur, self.text
        name, pos = cur.name(pos, "a module name")
        if text.startswith(":", pos):  # XLA's lexer reads `name:` as a name token
            pos += 1
        attrs: list[tuple[str, str]] = []
        seen: set[str] = set()
        while True:
            p = cur.skip_ws(pos)
            if not text.startswith(",", p):
                break
            key, vpos, vend = self._attr_head(p + 1)
            if key in seen:
                cur.fail(p + 1, f"attribute {key} appears twice")
            seen.add(key)
            self._header_attr(key, vpos, vend)
            attrs.append((key, text[vpos:vend]))
            pos = vend
        self.header.update(name=name, attributes=tuple(attrs), has_header=True)
        return pos

    def _header_attr(self, key: str, vpos: int, vend: int) -> None:
        cur, raw = self.cur, self.text[vpos:vend]
        if key == "is_scheduled":
            if raw not in ("true", "false"):
                cur.error(vpos, "true or false")
            self.header["is_scheduled"] = raw == "true"
        elif key in ("num_partitions", "replica_count"):
            if not raw.isdigit():
                cur.error(vpos, f"a count for {key}")
            self.header[key] = int(raw)
        elif key == "entry_computation_layout":
            self.header[key] = raw
        elif key == "input_output_alias":
            self.header[key] = A.input_output_alias(cur, vpos, vend)

    def _attr_head(self, pos: int) -> tuple[str, int, int]:
        """After a comma: `key=value` -> (key, value start, value end)."""
        cur = self.cur
        p = cur.skip_ws(pos)
        m = _ATTR_KEY_RE.match(self.text, p)
        if m is None:
            cur.error(p, "attribute=value")
        vpos = cur.skip_ws(m.end())
        if m.group(1) == "literal":  # `literal=s32[] 1`: a shape, a space, a value
            _, p = parse_shape_at(cur, vpos)
            return "literal", vpos, cur.value_end(cur.skip_ws(p))
        return m.group(1), vpos, cur.value_end(vpos)

    def _tables(self, pos: int) -> int:
        text = self.text
        if not text.startswith("FileNames", pos):
            return pos
        readers = (self._string_row, self._string_row, self._location_row, self._frame_row)
        for header, reader in zip(_TABLE_HEADERS, readers, strict=True):
            pos = self.cur.skip_ws(pos)
            if not text.startswith(header, pos):
                self.cur.error(pos, repr(header))
            pos = self.cur.skip_ws(pos + len(header))
            rows: dict[int, Any] = {}
            while (m := _TABLE_ENTRY_RE.match(text, pos)) is not None:
                # XLA numbers rows by position (1-based) and ignores the written index.
                value, pos = reader(m.end())
                rows[len(rows) + 1] = value
                pos = self.cur.skip_ws(pos)
            self.tables[header] = rows
        return pos

    def _string_row(self, pos: int) -> tuple[str, int]:
        return self.cur.string(pos)

    def _sub_attrs(self, pos: int, keys: tuple[str, ...]) -> tuple[dict[str, int], int]:
        cur = self.cur
        p = cur.skip_ws(pos)
        if not self.text.startswith("{", p):
            cur.error(p, "'{'")
        end = cur.balanced(p)
        values: dict[str, int] = {}
        for key, vs, ve in A.braced_items(cur, p, end):
            if key not in keys:
                cur.error(vs - len(key) - 1, " or ".join(keys))
            try:
                values[key] = int(self.text[vs:ve])
            except ValueError:
                cur.error(vs, f"an integer for {key}")
        missing = [k for k in keys[:2] if k not in values]
        if missing:
            cur.fail(p, f"missing {missing[0]}")
        return values, end

    def _location_row(self, pos: int) -> tuple[FileLocation, int]:
        v, end = self._sub_attrs(pos, ("file_name_id", "function_name_id", "line", "end_line",
                                        "column", "end_column"))
        return FileLocation(v["file_name_id"], v["function_name_id"], v.get("line", 0),
                            v.get("end_line", 0), v.get("column", 0),
                            v.get("end_column", 0)), end

    def _frame_row(self, pos: int) -> tuple[StackFrame, int]:
        v, end = self._sub_attrs(pos, ("file_location_id", "parent_frame_id"))
        # XLA writes parent+1 (1 = no parent) and its parser subtracts 1.
        return StackFrame(v["file_location_id"], v["parent_frame_id"] - 1), end

    # --- computations -----------------------------------------------------------------

    def _computation(self, pos: int) -> int:
        cur, text = self.cur, self.text
        start = pos
        is_entry = text.startswith("ENTRY", pos) and not NAME_RE.match(text, pos + 5)
        if is_entry:
            pos += 5
        name, pos = cur.name(pos, "a computation name")
        if name in self.comp_lines:
            cur.fail(start, f"computation {name} is defined twice")
        line = self.line_at(start)
        pos = cur.skip_ws(pos)
        if text.startswith("(", pos):
            pos = self._signature(pos)
        pos = cur.expect(pos, "{", "'{' to open the computation")
        instrs, pos = self._instructions(pos)
        execution_thread = None
        p = cur.skip_ws(pos)
        if text.startswith(",", p):
            key, vpos, vend = self._attr_head(p + 1)
            if key != "execution_thread":
                cur.error(vpos - len(key) - 1, "execution_thread")
            execution_thread = cur.string(vpos)[0]
            pos = vend
        comp = _ComputationBuilder(self, name, instrs, line, is_entry, execution_thread).build()
        if is_entry:
            if self.entry is not None:
                cur.fail(start, f"a second ENTRY computation ({name}; {self.entry} was first)")
            self.entry = name
        self.comp_lines[name] = line
        self.computations.append(comp)
        return pos

    def _signature(self, pos: int) -> int:
        """`(p0: f32[2], p1: s32[]) -> f32[2]`: checked for syntax; the IR takes parameters
        from the instructions."""
        cur = self.cur
        pos = cur.balanced(pos)
        pos = cur.expect(pos, "->", "'->' after the parameter list")
        _, pos = parse_shape_at(cur, cur.skip_ws(pos))
        return pos

    def _instructions(self, pos: int) -> tuple[list[_Instr], int]:
        cur, text = self.cur, self.text
        out: list[_Instr] = []
        pos = cur.skip_ws(pos)
        while not text.startswith("}", pos):
            if pos >= len(text):
                cur.error(pos, "'}' to close the computation")
            out.append(self._instruction(pos))
            pos = cur.skip_ws(self._end)
        if not out:
            cur.error(pos, "an instruction")
        return out, pos + 1

    # --- instructions -----------------------------------------------------------------

    def _instruction(self, pos: int) -> _Instr:
        text = self.text
        m = _FAST_HEAD_RE.match(text, pos)
        ins = None
        if m is not None:
            ins = self._fast_head(m, pos)
        if ins is None:
            ins = self._general_head(pos)
        self._attributes(ins, self._end)
        return ins

    def _fast_head(self, m: re.Match[str], pos: int) -> _Instr | None:
        opcode = m.group(4)
        ops = m.group(5)
        if opcode == "parameter" or opcode == "constant" or opcode not in OPCODES:
            return None
        if ops:
            if _OPERAND_NAMES_RE.fullmatch(ops) is None:
                return None
            operands = tuple(_SPLIT_OPERANDS_RE.split(ops.lstrip("%")))
        else:
            operands = ()
        shape, stop = parse_shape_at(self.cur, m.start(3))
        if stop != m.end(3):
            return None
        self._end = m.end()
        return _Instr(m.group(2), opcode, shape, operands, pos, self.line_at(pos),
                      m.group(1) is not None)

    def _general_head(self, pos: int) -> _Instr:
        cur, text = self.cur, self.text
        is_root = text.startswith("ROOT", pos) and not NAME_RE.match(text, pos + 4)
        if is_root:
            pos = cur.skip_ws(pos + 4)
        start = pos
        name, pos = cur.name(pos, "an instruction name")
        pos = cur.expect(pos, "=", f"'=' after the instruction name {name}")
        pos = cur.skip_ws(pos)
        shape: Shape | None = None
        m = _OPCODE_RE.match(text, pos)
        if m is None or not text.startswith("(", m.end()) or m.group() not in _opcode_or_async(
                m.group()):
            shape, pos = parse_shape_at(cur, pos)
            pos = cur.skip_ws(pos)
            m = _OPCODE_RE.match(text, pos)
            if m is None:
                cur.error(pos, "an opcode")
        opcode, kw = _resolve_opcode(cur, pos, m.group())
        pos = cur.expect(m.end(), "(", f"'(' after {m.group()}")
        ins = _Instr(name, opcode, shape, (), start, self.line_at(start), is_root, kw)
        self._end = self._operands(ins, pos)
        return ins

    def _operands(self, ins: _Instr, pos: int) -> int:
        cur, text = self.cur, self.text
        if ins.opcode == "parameter":
            num, pos = cur.int(pos, "a parameter number")
            if num < 0:
                cur.fail(pos, "parameter number must be >= 0")
            ins.kw["parameter_number"] = num
            return cur.expect(pos, ")", "')' after the parameter number")
        if ins.opcode == "constant":
            end = cur.balanced(pos - 1)
            literal = text[pos : end - 1].strip()
            if not literal:
                cur.error(pos, "a literal")
            ins.kw["literal"] = literal
            return end
        names: list[str] = []
        pos = cur.skip_ws(pos)
        while not text.startswith(")", pos):
            names.append(self._operand(pos))
            pos = cur.skip_ws(self._end)
            if text.startswith(",", pos):
                pos = cur.skip_ws(pos + 1)
            elif not text.startswith(")", pos):
                cur.error(pos, "',' or ')' after an operand")
        ins.operands = tuple(names)
        return pos + 1

    def _operand(self, pos: int) -> str:
        """`%name` or `shape %name`."""
        cur, text = self.cur, self.text
        m = NAME_RE.match(text, pos)
        if text.startswith("%", pos) or (m is not None and not text.startswith("[", m.end())):
            name, self._end = cur.name(pos, "an operand name")
            return name
        _, p = parse_shape_at(cur, pos)
        name, self._end = cur.name(p, "an operand name after its shape")
        return name

    def _attributes(self, ins: _Instr, pos: int) -> None:
        cur, text = self.cur, self.text
        seen: set[str] = set()
        while True:
            if text.startswith(", ", pos):
                p = pos + 2
            else:
                p = cur.skip_ws(pos)
                if not text.startswith(",", p):
                    break
                p += 1
            key, vpos, vend = self._attr_head(p)
            if key in seen:
                cur.fail(cur.skip_ws(p), f"attribute {key} appears twice")
            seen.add(key)
            handler = _HANDLERS.get(key)
            if handler is not None and handler(self, ins, key, vpos, vend):
                pass
            else:
                ins.attributes.append((key, text[vpos:vend]))
            pos = vend
        self._end = pos

    _end: int = 0


def _opcode_or_async(word: str) -> frozenset[str] | tuple[str]:
    if word in OPCODES:
        return OPCODES
    for suffix in ASYNC_SUFFIXES:
        if word.endswith(suffix) and word[: -len(suffix)] in OPCODES:
            return (word,)
    return OPCODES


def _resolve_opcode(cur: Cursor, pos: int, word: str) -> tuple[str, dict[str, Any]]:
    """The XLA opcode for a written opcode; `slice-start` is sugar for an async-start that
    wraps a slice (kept in `async_wrapped_opcode`)."""
    if word in OPCODES:
        return word, {}
    for suffix, opcode in ASYNC_SUFFIXES.items():
        if word.endswith(suffix) and word[: -len(suffix)] in OPCODES:
            return opcode, {"async_wrapped_opcode": word[: -len(suffix)]}
    cur.error(pos, "an opcode", repr(word))


# --- attribute handlers: return True when the attribute is modelled ----------------------

def _h_metadata(p: _ModuleParser, ins: _Instr, key: str, vpos: int, vend: int) -> bool:
    ins.kw["metadata"] = A.metadata(p.cur, vpos, vend)
    return True


def _h_sharding(p: _ModuleParser, ins: _Instr, key: str, vpos: int, vend: int) -> bool:
    ins.kw["sharding"] = cached_sharding_at(p.cur, vpos, vend)
    return True


def _h_backend(p: _ModuleParser, ins: _Instr, key: str, vpos: int, vend: int) -> bool:
    ins.kw["backend_config"], ins.kw["backend_config_text"] = A.backend_config(p.cur, vpos, vend)
    return True


def _h_frontend(p: _ModuleParser, ins: _Instr, key: str, vpos: int, vend: int) -> bool:
    ins.kw["frontend_attributes"] = A.frontend_attributes(p.cur, vpos, vend)
    return True


def _h_control(p: _ModuleParser, ins: _Instr, key: str, vpos: int, vend: int) -> bool:
    ins.kw["control_predecessors"] = A.name_list(p.cur, vpos, vend, "an instruction name")
    return True


def _h_groups(p: _ModuleParser, ins: _Instr, key: str, vpos: int, vend: int) -> bool:
    ins.kw["replica_groups"] = A.replica_groups(p.cur, vpos, vend)
    return True


def _h_pairs(p: _ModuleParser, ins: _Instr, key: str, vpos: int, vend: int) -> bool:
    ins.kw["source_target_pairs"] = A.source_target_pairs(p.cur, vpos, vend)
    return True


def _h_kind(p: _ModuleParser, ins: _Instr, key: str, vpos: int, vend: int) -> bool:
    if ins.opcode != "fusion":
        return False
    m = NAME_RE.match(p.text, vpos)
    if m is None or m.end() != vend:
        p.cur.error(vpos, "a fusion kind (kLoop, kInput, kOutput, kCustom)")
    ins.kw["fusion_kind"] = m.group()
    return True


def _h_called(p: _ModuleParser, ins: _Instr, key: str, vpos: int, vend: int) -> bool:
    rank = _CALLED_KEYS[key]
    for n in A.name_list(p.cur, vpos, vend, "a computation name"):
        ins.called.append((rank, n, vpos))
    return True


_HANDLERS = {
    "metadata": _h_metadata,
    "sharding": _h_sharding,
    "backend_config": _h_backend,
    "frontend_attributes": _h_frontend,
    "control-predecessors": _h_control,
    "replica_groups": _h_groups,
    "source_target_pairs": _h_pairs,
    "kind": _h_kind,
    **dict.fromkeys(_CALLED_KEYS, _h_called),
}


class _ComputationBuilder:
    """Checks one computation's instructions and builds the frozen `Computation`."""

    def __init__(self, parser: _ModuleParser, name: str, instrs: list[_Instr], line: int,
                 is_entry: bool, execution_thread: str | None) -> None:
        self.p = parser
        self.name = name
        self.instrs = instrs
        self.line = line
        self.is_entry = is_entry
        self.execution_thread = execution_thread

    def build(self) -> Computation:
        cur = self.p.cur
        by_name: dict[str, Instruction] = {}
        root = self._root()
        params: dict[int, str] = {}
        comps = self.p.comp_lines
        built: list[Instruction] = []
        for ins in self.instrs:
            if ins.name in by_name:
                cur.fail(ins.pos, f"instruction {ins.name} is defined twice in {self.name}")
            for op in ins.operands:
                if op not in by_name:
                    self._missing(ins, op, "operand")
            for op in ins.kw.get("control_predecessors", ()):
                if op not in by_name:
                    self._missing(ins, op, "control predecessor")
            called = ()
            if ins.called:
                for _, c, cpos in ins.called:
                    if c not in comps:
                        cur.fail(cpos, f"computation {c} is not defined before its use")
                called = tuple(c for _, c, _ in sorted(ins.called, key=lambda t: t[0]))
            if ins.opcode == "parameter":
                self._parameter(ins, params)
            shape = ins.shape if ins.shape is not None else self._infer(ins, by_name)
            if ins.opcode in _REBUILT_SHAPES:
                shape = xla_fixed_shape(ins.opcode, shape,
                                        [by_name[o].shape for o in ins.operands]) or shape
            instr = Instruction(
                name=ins.name, opcode=ins.opcode, shape=shape, operands=ins.operands,
                attributes=tuple(ins.attributes), called=called, is_root=ins.name == root,
                line=ins.line, **ins.kw)
            by_name[ins.name] = instr
            built.append(instr)
        if sorted(params) != list(range(len(params))):
            missing = min(set(range(len(params))) - set(params))
            cur.fail(self.instrs[0].pos, f"computation {self.name} has {len(params)} "
                     f"parameters but no parameter({missing})")
        return Computation(
            name=self.name, instructions=tuple(built), root=root, is_entry=self.is_entry,
            parameters=tuple(params[i] for i in range(len(params))), by_name=by_name,
            line=self.line, execution_thread=self.execution_thread)

    def _root(self) -> str:
        roots = [i for i in self.instrs if i.is_root]
        if len(roots) > 1:
            self.p.cur.fail(roots[1].pos, f"computation {self.name} has a second ROOT")
        return roots[0].name if roots else self.instrs[-1].name

    def _parameter(self, ins: _Instr, params: dict[int, str]) -> None:
        num = ins.kw["parameter_number"]
        if num in params:
            self.p.cur.fail(ins.pos, f"parameter({num}) appears twice in {self.name}")
        params[num] = ins.name

    def _missing(self, ins: _Instr, op: str, what: str) -> None:
        text = self.p.text
        at = text.find(op, ins.pos)
        where = at if at >= 0 else ins.pos
        if any(i.name == op for i in self.instrs):
            self.p.cur.fail(where, f"{what} {op} of {ins.name} is used before it is defined")
        self.p.cur.fail(where, f"{what} {op} of {ins.name} is not defined in {self.name}")

    def _infer(self, ins: _Instr, by_name: dict[str, Instruction]) -> Shape:
        shape = infer_shape(ins.opcode, [by_name[o].shape for o in ins.operands],
                            dict(ins.attributes))
        if shape is None:
            self.p.cur.fail(ins.pos, f"expected a shape for {ins.name}: hloscope infers "
                            f"omitted shapes only for elementwise ops, tuple and "
                            f"get-tuple-element, not {ins.opcode}")
        return shape


def _finish_module(p: _ModuleParser) -> Module:
    comps = p.computations
    entry = p.entry or comps[-1].name
    comps = [
        c if c.name != entry or c.is_entry else _replace_entry(c) for c in comps
    ]
    comps = assign_roles(comps, entry)
    header = p.header
    name = header.get("name") or f"module_{entry}"
    tables = p.tables
    return Module(
        name=name,
        computations=tuple(comps),
        entry=entry,
        attributes=header.get("attributes", ()),
        is_scheduled=header.get("is_scheduled", False),
        num_partitions=header.get("num_partitions", 1),
        replica_count=header.get("replica_count", 1),
        entry_computation_layout=header.get("entry_computation_layout"),
        input_output_alias=header.get("input_output_alias", ()),
        file_names=tables.get("FileNames", {}),
        function_names=tables.get("FunctionNames", {}),
        file_locations=tables.get("FileLocations", {}),
        stack_frames=tables.get("StackFrames", {}),
        has_header=header["has_header"],
        by_name={c.name: c for c in comps},
        source_path=p.file,
    )


def _replace_entry(c: Computation) -> Computation:
    from dataclasses import replace

    return replace(c, is_entry=True)

