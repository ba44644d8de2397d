"""Reading the instructions of one computation: `[ROOT] name = shape opcode(operands), ...`.

Two paths give the same result. The fast path reads a whole usual line (one instruction on
one line: name, an array or flat tuple shape, plain operand names, attributes whose values
nest at most two brackets deep, or a JSON backend_config) with one regex match, and its
attributes with one `finditer`. Everything else (comments, line breaks inside an instruction,
operand shapes, nested tuple shapes, async sugar, mesh replica groups...) and every error goes
through the general path, which reads token by token and reports `file:line:col`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from hloscope.hlo import attrs as A
from hloscope.hlo._fast import fast_builder
from hloscope.hlo.infer import infer_shape, xla_fixed_shape
from hloscope.hlo.lexer import DIGITS, NAME_RE, Cursor
from hloscope.hlo.model import Instruction, Shape
from hloscope.hlo.opcodes import ASYNC_SUFFIXES, OPCODES
from hloscope.hlo.shapes import parse_shape_at, shape_cache
from hloscope.hlo.sharding import cached_sharding_at

_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_STR = r'"(?:[^"\\\n]++|\\.)*+"'


def _nested(depth: int) -> str:
    """A bracketed group (matching kinds) holding plain text, strings and groups up to
    `depth` levels deep. Possessive quantifiers: no backtracking, linear time."""
    inner = r"[^{}()\[\]\"'\n]++|" + _STR
    group = ""
    for _ in range(depth):
        alts = inner + (f"|{group}" if group else "")
        group = "(?:" + "|".join(
            f"{o}(?:{alts})*+{c}" for o, c in ((r"\{", r"\}"), (r"\[", r"\]"), (r"\(", r"\)"))
        ) + ")"
    return group


def _json(depth: int) -> str:
    """A JSON-like group of braces and square brackets (kinds not matched: the JSON parse
    checks them)."""
    group = ""
    for _ in range(depth):
        alts = r"[^{}\[\]\"\n]++|" + _STR + (f"|{group}" if group else "")
        group = rf"[{{\[](?:{alts})*+[}}\]]"
    return group


_VALUE = r"(?:[^\s,{}()\[\]\"']++|" + _STR + "|" + _nested(2) + ")++"
_JSON = _json(10)
# A value must be followed by the next attribute or the end of the line: `mesh[...] {...}`
# (a space inside a value) goes to the general path before any of its parts is read.
_AFTER = r"(?=,|[ \t]*+(?:\n|\Z))"
# A backend_config nested deeper than `_VALUE` reads is taken as JSON (checked by its parse).
_ITEM = rf",[ \t]*+(?:({_NAME})=({_VALUE}){_AFTER}|(backend_config)=({_JSON}){_AFTER})"
_ITEM_RE = re.compile(_ITEM)
# Operand names, with the `/*index=5*/` comments XLA writes before every fifth one.
_PLAIN_NAMES = r"%?" + _NAME + r"+(?:,[ \t]*+(?:/\*index=[0-9]++\*/)?%?" + _NAME + r"+)*+"
_INDEX_COMMENT_RE = re.compile(r"/\*index=[0-9]++\*/")
# A whole line: head, operands (group 6: when they are plain names), attributes (group 7,
# from the first comma to the line end), then the end of the line.
_FAST_RE = re.compile(
    r"[ \t]*+(ROOT[ \t]+)?%?(" + _NAME + r")[ \t]*=[ \t]*"
    r"([a-z][a-z0-9]*\[[0-9,]*\](?:\{[^{}\s]*\})?|\([^()\n]*\))[ \t]+"
    r"([a-z][a-z0-9\-]*)\(((" + _PLAIN_NAMES + r")|[^()\n\"'/]*)\)"
    r"(,[^\n]*+)?[ \t]*+(?:\n|\Z)"
)
_EOL_RE = re.compile(r"[ \t]*+\Z")
_OPERAND_NAMES_RE = re.compile(r"%?" + _NAME + r"(?:,[ \t]*%?" + _NAME + r")*")
_SPLIT_OPERANDS_RE = re.compile(r",[ \t]*%?")
# Operands written with their shapes (`f32[8]{0} %x, s32[] %i`), as XLA's to_string() has them.
_SHAPED = r"([a-z][a-z0-9]*\[[0-9,]*\](?:\{[^{}\s]*\})?)[ \t]+%?(" + _NAME + r")"
_SHAPED_OPERANDS_RE = re.compile(_SHAPED + r"(?:,[ \t]*" + _SHAPED + r")*")
_SHAPED_OPERAND_RE = re.compile(_SHAPED)
_DIGITS_RE = re.compile(DIGITS)
_OPCODE_RE = re.compile(r"[a-z][a-z0-9\-]*")
_ATTR_KEY_RE = re.compile(r"(" + _NAME + r")[ \t]*=")

# Attributes whose value names called computations, and their rank in `called`
# (while: condition then body; conditional: true then false; select-and-scatter: select then
# scatter; others in text order).
CALLED_KEYS = {
    "calls": 0, "to_apply": 0, "called_computations": 0, "branch_computations": 0,
    "condition": 0, "body": 1, "true_computation": 0, "false_computation": 1,
    "select": 0, "scatter": 1,
}
_REBUILT_SHAPES = frozenset({"send", "recv", "send-done", "recv-done"})

_Attributes = Sequence[tuple[str, str]]
tail_cache: dict[tuple[str, str], tuple[_Attributes, dict[str, Any],
                                       tuple[tuple[int, str, int], ...]]] = {}
"""(opcode, attribute text of a line) -> (unmodelled attributes, modelled fields, called
computations with their offsets in the text): lines repeat the same attributes often.
Process-wide and never emptied, so bounded: short tails only (long ones rarely repeat) and
`_TAIL_CACHE_CHARS` of keys in all."""
_TAIL_CACHE_MAX_TAIL = 2048
_TAIL_CACHE_CHARS = 16_000_000
_tail_cache_chars = 0

_build_instruction = fast_builder(Instruction, (
    "name", "opcode", "shape", "operands", "attributes", "called", "is_root", "line"))
# Opcodes whose parentheses hold something other than operand names.
_OWN_OPERANDS = frozenset({"parameter", "constant"})
_PLAIN_OPCODES = OPCODES - _OWN_OPERANDS - _REBUILT_SHAPES


class Parsed:
    """One instruction's pieces as read, before checks."""

    __slots__ = ("attributes", "called", "is_root", "kw", "line", "name", "opcode", "operands",
                 "pos", "shape")

    def __init__(self, name: str, opcode: str, shape: Shape | None, pos: int, line: int,
                 is_root: bool) -> None:
        self.name = name
        self.opcode = opcode
        self.shape = shape
        self.operands: tuple[str, ...] = ()
        self.pos = pos
        self.line = line
        self.is_root = is_root
        self.kw: dict[str, Any] = {}
        self.attributes: list[tuple[str, str]] = []
        self.called: list[tuple[int, str, int]] = []


class Body:
    """The instructions of one computation: read, checked and built one by one."""

    def __init__(self, cur: Cursor, name: str, computations: dict[str, int]) -> None:
        self.cur = cur
        self.text = cur.text
        self.name = name
        self.computations = computations
        """Computations defined so far (a call must name one of them)."""
        self.by_name: dict[str, Instruction] = {}
        self.built: list[Instruction] = []
        self.calling: list[Instruction] = []
        """The instructions that call computations (all the roles pass needs)."""
        self.params: dict[int, str] = {}
        self.root: str | None = None
        self.first_pos = -1
        self.line = 1 + cur.line_base
        self.line_pos = 0
        self._end = -1
        """End of the last instruction read by the fast path (after its newline)."""

    def line_at(self, pos: int) -> int:
        self.line += self.text.count("\n", self.line_pos, pos)
        self.line_pos = pos
        return self.line

    # --- reading ------------------------------------------------------------------------

    def read(self, pos: int, line: int, line_pos: int) -> int:
        """Read instructions from `pos` up to the closing `}`; returns the position after it."""
        self.line, self.line_pos = line, line_pos
        self.first_pos = pos
        cur, text = self.cur, self.text
        fast = _FAST_RE.match
        n = len(text)
        while True:
            m = fast(text, pos)
            if m is not None and self._fast(m, pos):
                pos = self._end
                if text.startswith(("  %", "  ROOT"), pos):
                    continue
            pos = cur.skip_ws(pos)
            if text.startswith("}", pos):
                break
            if pos >= n:
                cur.error(pos, "'}' to close the computation")
            m = fast(text, pos)
            if m is not None and self._fast(m, pos):
                pos = self._end
            else:
                pos = self._general(pos)
        if not self.built:
            cur.error(pos, "an instruction")
        return pos + 1

    def _fast(self, m: re.Match[str], pos: int) -> bool:
        """Take a fast-path match of a whole instruction line and read its attributes; False
        (nothing done) when the line needs the general path."""
        root, name, shape_text, opcode, ops, plain, tail = m.groups()
        if tail is None and self._simple(m, pos, root, name, shape_text, opcode, ops, plain):
            return True
        if opcode not in OPCODES:
            return False
        shape = shape_cache.get(shape_text) or self._fast_shape(m)
        kw: dict[str, Any] | None = None
        if plain is not None and opcode not in _OWN_OPERANDS:
            operands = _split_names(plain)
        else:
            kw = {}
            found = _fast_operands(opcode, ops, kw)
            if found is None:
                return False
            operands = found
        if shape is None:
            return False
        attributes: _Attributes | None = None
        called: list[tuple[int, str, int]] | None = None
        if tail is not None:
            if kw is None:
                kw = {}
            read = self._cached_attributes(m, opcode, tail, kw)
            if read is None:
                return False
            attributes, called = read
        # The line after a fast one starts where it ended: one line further.
        line = self.line = self.line + (
            1 if pos == self._end else self.text.count("\n", self.line_pos, pos))
        self.line_pos = pos
        self._end = m.end()
        # Errors point at the name (its `%`), as the general path's do.
        pos = m.start(2)
        if self.text.startswith("%", pos - 1):
            pos -= 1
        self.add(name, opcode, shape, operands, attributes, called, kw, pos, line,
                 root is not None)
        return True

    def _simple(self, m: re.Match[str], pos: int, root: str | None, name: str,
                shape_text: str, opcode: str, ops: str, plain: str | None) -> bool:
        """The commonest lines, `%c = f32[8] add(%a, %b)` and `%p = f32[8] parameter(0)` (no
        attributes, a shape seen before, a new name, operands defined before, a new parameter
        number), built without `add`'s general checks; False (nothing done) for anything
        else."""
        shape = shape_cache.get(shape_text)
        by_name = self.by_name
        if shape is None or name in by_name or (root is not None and self.root is not None):
            return False
        extra = None
        if plain is not None and opcode in _PLAIN_OPCODES:
            operands = _split_names(plain)
            for op in operands:
                if op not in by_name:
                    return False
        elif opcode == "parameter" and ops.isdigit() and ops.isascii() and len(ops) <= 18:
            num = int(ops)
            if num in self.params:
                return False
            self.params[num] = name
            operands = ()
            extra = {"parameter_number": num}
        else:
            return False
        line = self.line = self.line + (
            1 if pos == self._end else self.text.count("\n", self.line_pos, pos))
        self.line_pos = pos
        self._end = m.end()
        ins = _build_instruction(name, opcode, shape, operands, (), (), root is not None, line,
                                 extra)
        by_name[name] = ins
        self.built.append(ins)
        if root is not None:
            self.root = name
        return True

    def _fast_shape(self, m: re.Match[str]) -> Shape | None:
        """Parse (and cache) a shape spelling seen for the first time."""
        shape, stop = parse_shape_at(self.cur, m.start(3))
        if stop != m.end(3):
            return None
        if len(shape_cache) < 1_000_000:
            shape_cache[m.group(3)] = shape
        return shape

    def _cached_attributes(self, m: re.Match[str], opcode: str, tail: str, kw: dict[str, Any]
                           ) -> tuple[_Attributes, list[tuple[int, str, int]]] | None:
        """`_fast_attributes` of the tail (group 7 of `m`), from `tail_cache` when the same
        opcode had the same tail before: the readers are pure functions of the text (and
        `kind` of the opcode), and called computations keep their offsets in the tail (they
        are checked per instruction). None to use the general path."""
        start = m.start(7)
        hit = tail_cache.get((opcode, tail))
        if hit is not None:
            kw.update(hit[1])
            return hit[0], [(r, c, start + off) for r, c, off in hit[2]]
        values: dict[str, Any] = {}
        found: list[tuple[str, str]] = []
        called: list[tuple[int, str, int]] = []
        if not self._fast_attributes(start, m.end(7), opcode, values, found, called):
            return None
        kw.update(values)
        attributes = tuple(found)
        global _tail_cache_chars
        if len(tail) <= _TAIL_CACHE_MAX_TAIL and _tail_cache_chars < _TAIL_CACHE_CHARS:
            _tail_cache_chars += len(tail)
            tail_cache[opcode, tail] = (
                attributes, values, tuple((r, c, cpos - start) for r, c, cpos in called))
        return attributes, called

    def _fast_attributes(self, start: int, eol: int, opcode: str, kw: dict[str, Any],
                         attributes: list[tuple[str, str]],
                         called: list[tuple[int, str, int]]) -> bool:
        """Attributes from `start` (a comma) to the line end `eol`, then only blanks; False to
        use the general path."""
        text, cur = self.text, self.cur
        at = start
        keys: list[str] = []
        # Bounded by the line: a search past the last attribute must not run into the next.
        for a in _ITEM_RE.finditer(text, start, eol):
            s, e = a.span()
            if s != at:
                break
            at = e
            key, value, json_key, json_value = a.groups()
            if json_key is not None:
                if A.parse_json(json_value) is None:
                    return False  # not JSON: let the general path scan it exactly
                key, value = json_key, json_value
                vpos, vend = a.span(4)
            else:
                vpos, vend = a.span(2)
            keys.append(key)
            if key == "metadata":
                md = A.metadata_cache.get(value)
                kw["metadata"] = md if md is not None else A.metadata(cur, vpos, vend)
                continue
            handler = _HANDLERS.get(key)
            if handler is _h_groups and value[0] == "m":
                return False  # mesh form: its `, device_ids=(...)` needs the general path
            if handler is None or not handler(cur, kw, called, opcode, key, vpos, vend):
                attributes.append((key, value))
        if len(keys) > 1 and len(set(keys)) != len(keys):
            return False  # a repeated key: the general path reports it
        return at == eol or _EOL_RE.match(text, at, eol) is not None

    def attribute(self, p: Parsed, key: str, vpos: int, vend: int) -> None:
        handler = _HANDLERS.get(key)
        if handler is None or not handler(self.cur, p.kw, p.called, p.opcode, key, vpos, vend):
            p.attributes.append((key, self.text[vpos:vend]))

    def _general(self, pos: int) -> int:
        p, pos = self._general_head(pos)
        pos = self._general_attributes(p, pos)
        self.add(p.name, p.opcode, p.shape, p.operands, p.attributes, p.called, p.kw, p.pos,
                 p.line, p.is_root)
        return pos

    def _general_head(self, pos: int) -> tuple[Parsed, int]:
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
        if m is None or not text.startswith("(", m.end()) or not _is_opcode(m.group()):
            shape, pos = parse_shape_at(cur, pos)
            pos = cur.skip_ws(pos)
            m = _OPCODE_RE.match(text, pos)
            if m is None:
                cur.error(pos, "an opcode")
        opcode, kw = _resolve_opcode(cur, pos, m.group())
        pos = cur.expect(m.end(), "(", f"'(' after {m.group()}")
        p = Parsed(name, opcode, shape, start, self.line_at(start), is_root)
        p.kw.update(kw)
        return p, self._operands(p, pos)

    def _operands(self, p: Parsed, pos: int) -> int:
        cur, text = self.cur, self.text
        if p.opcode == "parameter":
            num, pos = cur.integer(pos, "a parameter number")
            if num < 0:
                cur.fail(pos, "parameter number must be >= 0")
            p.kw["parameter_number"] = num
            return cur.expect(pos, ")", "')' after the parameter number")
        if p.opcode == "constant":
            end = cur.balanced(pos - 1)
            literal = text[pos : end - 1].strip()
            if not literal:
                cur.error(pos, "a literal")
            p.kw["literal"] = literal
            return end
        names: list[str] = []
        pos = cur.skip_ws(pos)
        while not text.startswith(")", pos):
            name, pos = self._operand(pos)
            names.append(name)
            pos = cur.skip_ws(pos)
            if text.startswith(",", pos):
                pos = cur.skip_ws(pos + 1)
            elif not text.startswith(")", pos):
                cur.error(pos, "',' or ')' after an operand")
        p.operands = tuple(names)
        return pos + 1

    def _operand(self, pos: int) -> tuple[str, int]:
        """`%name` or `shape %name`."""
        cur, text = self.cur, self.text
        m = NAME_RE.match(text, pos)
        if text.startswith("%", pos) or (m is not None and not text.startswith("[", m.end())):
            return cur.name(pos, "an operand name")
        _, p = parse_shape_at(cur, pos)
        return cur.name(p, "an operand name after its shape")

    def _general_attributes(self, p: Parsed, pos: int) -> int:
        cur, text = self.cur, self.text
        seen: set[str] = set()
        while True:
            q = cur.skip_ws(pos)
            if not text.startswith(",", q):
                return pos
            key, vpos, vend = attr_head(cur, q + 1)
            if key in seen:
                cur.fail(cur.skip_ws(q + 1), f"attribute {key} appears twice")
            seen.add(key)
            self.attribute(p, key, vpos, vend)
            pos = vend

    # --- checking and building ------------------------------------------------------------

    def add(self, name: str, opcode: str, shape: Shape | None, operands: tuple[str, ...],
            attributes: _Attributes | None, called: list[tuple[int, str, int]] | None,
            kw: dict[str, Any] | None, pos: int, line: int, is_root: bool) -> None:
        """Check one instruction against the ones before it and build it."""
        by_name = self.by_name
        if name in by_name:
            self.cur.fail(pos, f"instruction {name} is defined twice in {self.name}")
        for op in operands:
            if op not in by_name:
                self._missing(name, pos, op, "operand")
        if kw:
            self._check_kw(name, pos, kw)
        if shape is None or opcode in _REBUILT_SHAPES:
            shape = self._xla_shape(name, pos, opcode, shape, operands, attributes or [])
        if is_root:
            self._set_root(name, pos)
        ins = _build_instruction(name, opcode, shape, operands,
                                 tuple(attributes) if attributes else (),
                                 self._called(called) if called else (), is_root, line, kw)
        by_name[name] = ins
        self.built.append(ins)
        if called:
            self.calling.append(ins)

    def _xla_shape(self, name: str, pos: int, opcode: str, shape: Shape | None,
                   operands: tuple[str, ...], attributes: _Attributes) -> Shape:
        """The shape XLA gives an instruction whose shape is omitted or rebuilt."""
        if shape is None:
            shape = self._infer(name, pos, opcode, operands, attributes)
        if opcode in _REBUILT_SHAPES:
            shapes = [self.by_name[o].shape for o in operands]
            shape = xla_fixed_shape(opcode, shape, shapes) or shape
        return shape

    def _set_root(self, name: str, pos: int) -> None:
        if self.root is not None:
            self.cur.fail(pos, f"computation {self.name} has a second ROOT")
        self.root = name

    def _check_kw(self, name: str, pos: int, kw: dict[str, Any]) -> None:
        for op in kw.get("control_predecessors", ()):
            if op not in self.by_name:
                self._missing(name, pos, op, "control predecessor")
        if "parameter_number" in kw:
            self._parameter(name, pos, kw["parameter_number"])

    def _called(self, called: list[tuple[int, str, int]]) -> tuple[str, ...]:
        for _, c, cpos in called:
            if c not in self.computations:
                self.cur.fail(cpos, f"computation {c} is not defined before its use")
        if len(called) == 1:
            return (called[0][1],)
        return tuple(c for _, c, _ in sorted(called, key=lambda t: t[0]))

    def _parameter(self, name: str, pos: int, num: int) -> None:
        if num in self.params:
            self.cur.fail(pos, f"parameter({num}) appears twice in {self.name}")
        self.params[num] = name

    def _missing(self, name: str, pos: int, op: str, what: str) -> None:
        at = self.text.find(op, pos + len(name))
        where = at if at >= 0 else pos
        self.cur.fail(where, f"{what} {op} of {name} is not defined before it in {self.name}")

    def _infer(self, name: str, pos: int, opcode: str, operands: tuple[str, ...],
               attributes: _Attributes) -> Shape:
        shape = infer_shape(opcode, [self.by_name[o].shape for o in operands], dict(attributes))
        if shape is None:
            self.cur.fail(pos, f"expected a shape for {name}: hloscope infers omitted "
                          "shapes only for elementwise ops, compare, select, tuple and "
                          f"get-tuple-element, not {opcode}")
        return shape

    def finish(self) -> tuple[tuple[Instruction, ...], str, tuple[str, ...]]:
        """(instructions, root name, parameter names by number)."""
        params = self.params
        numbers = range(len(params))
        in_order = list(params) == list(numbers)  # as written, usually
        if not in_order and sorted(params) != list(numbers):
            missing = min(set(numbers) - set(params))
            self.cur.fail(self.first_pos, f"computation {self.name} has {len(params)} "
                          f"parameters but no parameter({missing})")
        built = self.built
        root = self.root
        if root is None:  # XLA takes the last instruction as the root
            built[-1] = replace(built[-1], is_root=True)
            root = built[-1].name
            self.by_name[root] = built[-1]
        names = tuple(params.values()) if in_order else tuple(params[i] for i in numbers)
        return tuple(built), root, names


def _split_names(ops: str) -> tuple[str, ...]:
    """Names from a list matched by `_PLAIN_NAMES` (names hold no `%`, comma, blank or `/`)."""
    if "," not in ops:
        return (ops[1:] if ops[0] == "%" else ops,)
    if ops[0] == "%":  # XLA's `%a, %b`: one split when every comma is followed by ` %`
        names = ops[1:].split(", %")
        if len(names) == ops.count(",") + 1:
            return tuple(names)
    if "/" in ops:
        ops = _INDEX_COMMENT_RE.sub("", ops)
    return tuple(ops.replace("%", "").replace(" ", "").replace("\t", "").split(","))


def _fast_operands(opcode: str, ops: str, kw: dict[str, Any]) -> tuple[str, ...] | None:
    """Operand names from the text between the parentheses (parameter number and constant
    literal into `kw`); None when the general path must read them."""
    if opcode == "parameter":
        if _DIGITS_RE.fullmatch(ops) is None:
            return None
        kw["parameter_number"] = int(ops)
        return ()
    if opcode == "constant":
        if not ops.strip():
            return None
        kw["literal"] = ops.strip()
        return ()
    if not ops:
        return ()
    if _OPERAND_NAMES_RE.fullmatch(ops) is not None:
        return tuple(_SPLIT_OPERANDS_RE.split(ops[1:] if ops[0] == "%" else ops))
    if _SHAPED_OPERANDS_RE.fullmatch(ops) is not None:
        pairs = _SHAPED_OPERAND_RE.findall(ops)
        # Each operand's shape must parse: a spelling parsed before is in the cache; the
        # general path parses (and caches) the others, or reports them.
        for shape, _ in pairs:
            if shape not in shape_cache:
                return None
        return tuple(name for _, name in pairs)
    return None


def attr_head(cur: Cursor, pos: int) -> tuple[str, int, int]:
    """After a comma: `key=value` -> (key, value start, value end)."""
    p = cur.skip_ws(pos)
    m = _ATTR_KEY_RE.match(cur.text, p)
    if m is None:
        cur.error(p, "attribute=value")
    vpos = cur.skip_ws(m.end())
    key = m.group(1)
    if key == "literal":  # `literal=s32[] 1`: a shape, a space, a value
        _, q = parse_shape_at(cur, vpos)
        return "literal", vpos, cur.value_end(cur.skip_ws(q))
    vend = cur.value_end(vpos)
    if key == "replica_groups" and cur.text.startswith("mesh", vpos):
        vend = _mesh_device_ids_end(cur, vend)
    return key, vpos, vend


def _mesh_device_ids_end(cur: Cursor, vend: int) -> int:
    """`mesh[...], device_ids=(...) {...}` holds a comma: the value goes on through the
    device ids and the axes after them."""
    p = cur.skip_ws(vend)
    if not cur.text.startswith(",", p):
        return vend
    m = _ATTR_KEY_RE.match(cur.text, cur.skip_ws(p + 1))
    if m is None or m.group(1) != "device_ids":
        return vend
    return cur.value_end(cur.skip_ws(m.end()))


def _is_opcode(word: str) -> bool:
    if word in OPCODES:
        return True
    return any(word.endswith(s) and word[: -len(s)] in OPCODES for s in ASYNC_SUFFIXES)


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

_Called = list[tuple[int, str, int]]
_Handler = Callable[[Cursor, dict[str, Any], _Called, str, str, int, int], bool]


def _h_metadata(cur: Cursor, kw: dict[str, Any], called: _Called, opcode: str, key: str,
                 vpos: int, vend: int) -> bool:
    kw["metadata"] = A.metadata(cur, vpos, vend)
    return True


def _h_sharding(cur: Cursor, kw: dict[str, Any], called: _Called, opcode: str, key: str,
                 vpos: int, vend: int) -> bool:
    kw["sharding"] = cached_sharding_at(cur, vpos, vend)
    return True


def _h_backend(cur: Cursor, kw: dict[str, Any], called: _Called, opcode: str, key: str,
                vpos: int, vend: int) -> bool:
    kw["backend_config"], kw["backend_config_text"] = A.backend_config(cur, vpos, vend)
    return True


def _h_frontend(cur: Cursor, kw: dict[str, Any], called: _Called, opcode: str, key: str,
                 vpos: int, vend: int) -> bool:
    kw["frontend_attributes"] = A.frontend_attributes(cur, vpos, vend)
    return True


def _h_control(cur: Cursor, kw: dict[str, Any], called: _Called, opcode: str, key: str,
                vpos: int, vend: int) -> bool:
    kw["control_predecessors"] = A.name_list(cur, vpos, vend, "an instruction name")
    return True


def _h_groups(cur: Cursor, kw: dict[str, Any], called: _Called, opcode: str, key: str,
               vpos: int, vend: int) -> bool:
    kw["replica_groups"] = A.replica_groups(cur, vpos, vend)
    return True


def _h_pairs(cur: Cursor, kw: dict[str, Any], called: _Called, opcode: str, key: str,
              vpos: int, vend: int) -> bool:
    kw["source_target_pairs"] = A.source_target_pairs(cur, vpos, vend)
    return True


def _h_kind(cur: Cursor, kw: dict[str, Any], called: _Called, opcode: str, key: str,
             vpos: int, vend: int) -> bool:
    if opcode != "fusion":
        return False
    m = NAME_RE.match(cur.text, vpos)
    if m is None or m.end() != vend:
        cur.error(vpos, "a fusion kind (kLoop, kInput, kOutput, kCustom)")
    kw["fusion_kind"] = m.group()
    return True


def _h_called(cur: Cursor, kw: dict[str, Any], called: _Called, opcode: str, key: str,
               vpos: int, vend: int) -> bool:
    rank = CALLED_KEYS[key]
    if cur.text.startswith("%", vpos):
        m = NAME_RE.match(cur.text, vpos + 1)
        if m is not None and m.end() == vend:
            called.append((rank, m.group(), vpos))
            return True
    for n in A.name_list(cur, vpos, vend, "a computation name"):
        called.append((rank, n, vpos))
    return True


_HANDLERS: dict[str, _Handler] = {
    "metadata": _h_metadata,
    "sharding": _h_sharding,
    "backend_config": _h_backend,
    "frontend_attributes": _h_frontend,
    "control-predecessors": _h_control,
    "replica_groups": _h_groups,
    "source_target_pairs": _h_pairs,
    "kind": _h_kind,
    **dict.fromkeys(CALLED_KEYS, _h_called),
}
