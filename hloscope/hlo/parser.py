"""HLO text -> `Module`, eagerly, with `file:line:col` errors.

Grammar (xla/hlo/parser/hlo_parser.cc): an optional `HloModule name, attr=value, ...` header,
optional FileNames / FunctionNames / FileLocations / StackFrames tables, then computations
`[ENTRY] name [(params) -> shape] { instructions } [, execution_thread="..."]`, each
instruction `[ROOT] name = shape opcode(operands), attr=value, ...` (read in instructions.py).
"""

from __future__ import annotations

import gc
import re
from dataclasses import replace
from typing import Any

from hloscope.errors import ParseError
from hloscope.hlo import attrs as A
from hloscope.hlo._fast import fast_builder
from hloscope.hlo.instructions import Body, attr_head
from hloscope.hlo.lexer import INT_RE, NAME_RE, Cursor
from hloscope.hlo.model import Computation, FileLocation, Instruction, Module, StackFrame
from hloscope.hlo.roles import computation_roles
from hloscope.hlo.shapes import parse_shape_at, shape_cache
from hloscope.hlo.split import ModulePart, module_spans, split_modules

_TABLE_ENTRY_RE = re.compile(r"[0-9]+")
# A one-line computation head: `[ENTRY] name [(params) -> shape] {`. The parameter list may
# hold brackets two deep and no quotes, so it is balanced exactly as `Cursor.balanced` reads it.
_SIG_PLAIN = r"[^()\[\]{}\"'\n]"
_SIG_GROUP = rf"\[{_SIG_PLAIN}*+\]|\{{{_SIG_PLAIN}*+\}}"
_SIG_INNER = rf"{_SIG_PLAIN}++|{_SIG_GROUP}"
_HEAD_RE = re.compile(
    r"(ENTRY[ \t]+)?%?([A-Za-z_][A-Za-z0-9_.\-]*+)[ \t]*+"
    rf"(?:\((?:{_SIG_INNER}|\((?:{_SIG_INNER})*+\))*+\)[ \t]*+->[ \t]*+"
    r"([a-z][a-z0-9]*\[[0-9,]*\](?:\{[^{}\s]*\})?|\([^()\n]*\))[ \t]*+)?\{"
)
_TABLE_HEADERS = ("FileNames", "FunctionNames", "FileLocations", "StackFrames")


def list_modules(text: str) -> tuple[str, ...]:
    """Names of the modules in a text (see `hloscope.hlo.split`: `// -----` sections and
    `HloModule` headers; a headerless module is named after its entry, as XLA names it)."""
    return tuple(p.name for p in split_modules(text))


def parse(text: str, *, name: str | None = None, module: str | int | None = None,
          first_line: int = 1) -> Module:
    """Parse HLO text into a `Module`.

    name: where the text came from (a path), used in error messages and `Module.source_path`.
    module: for texts holding several modules, which one (its name or its index); errors then
    still count lines from the top of the text.
    first_line: the line of file `name` at which `text` starts (a module cut out of a larger
    file): error messages count lines from there. `Instruction.line` stays a line of `text`.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected HLO text (str), found {type(text).__name__}", file=name)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + first_line
        raise ParseError("expected text, found a NUL byte", file=name, line=line)
    spans = module_spans(text)
    if not spans:
        found = "only comments" if text.strip() else "an empty text"
        raise ParseError(f"expected an HLO module, found {found}", file=name,
                         line=first_line, column=1)
    part = _select(text, spans, name, module)
    start, end = (spans[0][0], spans[0][1]) if part is None else (part.start, part.end)
    line_base = text.count("\n", 0, start)
    # The IR holds no reference cycles, and the collector's passes over a growing heap of
    # new objects cost up to half the parse time of large modules: pause it meanwhile.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        out = _ModuleParser(text[start:end], name, line_base, first_line - 1).run()
    finally:
        if was_enabled:
            gc.enable()
    if part is not None and part.name != out.name:  # a headerless one made unique
        out = replace(out, name=part.name)
    return out


def _select(text: str, spans: list[tuple[int, int, int]], file: str | None,
            module: str | int | None) -> ModulePart | None:
    """The part `module` names; None for the only module of a text when none is named."""
    if module is None and len(spans) == 1:
        return None
    parts = split_modules(text)
    names = tuple(p.name for p in parts)
    if module is None:
        raise ParseError(
            f"the text holds {len(parts)} modules ({_some_names(names)}); choose "
            "one with module=NAME or module=INDEX", file=file)
    if isinstance(module, int) and not isinstance(module, bool):
        if not -len(parts) <= module < len(parts):
            raise ParseError(f"module index {module} out of range: the text holds "
                             f"{len(parts)} modules", file=file)
        return parts[module]
    matches = [i for i, n in enumerate(names) if n == module]
    if not matches:
        raise ParseError(f"no module named {module!r}; the text holds {_some_names(names)}",
                         file=file)
    if len(matches) > 1:
        raise ParseError(f"{len(matches)} modules are named {module!r} (indexes "
                         f"{', '.join(map(str, matches))}); choose one by index", file=file)
    return parts[matches[0]]


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


class _ModuleParser:
    def __init__(self, text: str, file: str | None, line_base: int,
                 file_lines_before: int = 0) -> None:
        # Instruction lines count from the top of the text parsed; errors from the top of
        # the file it was cut from.
        self.cur = Cursor(text, file, line_base + file_lines_before)
        self.text = text
        self.file = file
        self.line = 1 + line_base
        self.line_pos = 0
        self.header: dict[str, Any] = {"has_header": False}
        self.tables: dict[str, Any] = {}
        self.computations: list[tuple[Any, ...]] = []
        """(name, instructions, root, is_entry, parameters, by_name, line, execution_thread)"""
        self.calling: list[tuple[str, list[Instruction]]] = []
        """Per computation, its instructions that call computations."""
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
            pos = self._computation(pos)
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
            key, vpos, vend = attr_head(cur, p + 1)
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
            if not raw.isdigit() or len(raw) > 18:
                cur.error(vpos, f"a count for {key}")
            self.header[key] = int(raw)
        elif key == "entry_computation_layout":
            self.header[key] = raw
        elif key == "input_output_alias":
            self.header[key] = A.input_output_alias(cur, vpos, vend)

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
            raw = self.text[vs:ve]
            if INT_RE.fullmatch(raw) is None:
                cur.error(vs, f"an integer for {key}")
            values[key] = int(raw)
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
        m = _HEAD_RE.match(text, pos)
        head = self._fast_head(m) if m is not None else None
        if head is not None:
            name, is_entry, pos = head
            line = self.line_at(start)
        else:
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
        body = Body(cur, name, self.comp_lines)
        pos = body.read(cur.skip_ws(pos), self.line, self.line_pos)
        self.line, self.line_pos = body.line, body.line_pos
        instructions, root, params = body.finish()
        execution_thread = None
        p = cur.skip_ws(pos)
        if text.startswith(",", p):
            key, vpos, vend = attr_head(cur, p + 1)
            if key != "execution_thread":
                cur.error(vpos - len(key) - 1, "execution_thread")
            execution_thread = cur.string(vpos)[0]
            pos = vend
        else:
            pos = p
        if is_entry:
            if self.entry is not None:
                cur.fail(start, f"a second ENTRY computation ({name}; {self.entry} was first)")
            self.entry = name
        self.comp_lines[name] = line
        # Built once roles are known (they need the whole call graph).
        self.computations.append((name, instructions, root, is_entry, params, body.by_name,
                                  line, execution_thread))
        self.calling.append((name, body.calling))
        return pos if pos == p else cur.skip_ws(pos)

    def _fast_head(self, m: re.Match[str]) -> tuple[str, bool, int] | None:
        """(name, is_entry, position after the `{`) of a one-line computation head matched by
        `_HEAD_RE`, as the general path reads it; None when that path must read it."""
        entry, name, shape_text = m.groups()
        if entry is None and self.text.startswith("ENTRY", m.start()):
            return None  # `ENTRY{`, `ENTRY-x`, `ENTRY%x`...: the general path decides
        if name in self.comp_lines:
            self.cur.fail(m.start(), f"computation {name} is defined twice")
        if shape_text is not None:
            # The signature's shape is only checked; it must end where the match says (a
            # layout-like `{` after it would be read as its layout).
            if shape_text[0] != "(" or shape_text not in shape_cache:
                shape, stop = parse_shape_at(self.cur, m.start(3))
                if stop != m.end(3):
                    return None
                if shape_text[0] == "(" and len(shape_cache) < 1_000_000:
                    shape_cache[shape_text] = shape
        return name, entry is not None, m.end()

    def _signature(self, pos: int) -> int:
        """`(p0: f32[2], p1: s32[]) -> f32[2]`: checked for syntax; the IR takes parameters
        from the instructions."""
        cur = self.cur
        pos = cur.balanced(pos)
        pos = cur.expect(pos, "->", "'->' after the parameter list")
        _, pos = parse_shape_at(cur, cur.skip_ws(pos))
        return pos


_build_computation = fast_builder(Computation, (
    "name", "instructions", "root", "is_entry", "parameters", "by_name", "line",
    "execution_thread", "role"))


def _finish_module(p: _ModuleParser) -> Module:
    pending = p.computations
    entry = p.entry or pending[-1][0]
    roles = computation_roles(p.calling, entry)
    comps = [_build_computation(*c, roles[c[0]]) for c in pending]
    if not comps[-1].is_entry and p.entry is None:  # XLA takes the last one as the entry
        comps[-1] = replace(comps[-1], is_entry=True)
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


