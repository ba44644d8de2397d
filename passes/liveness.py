"""Buffers of a scheduled HLO module and when each is live: a model of XLA's
HloDataflowAnalysis + HloAliasAnalysis + HloLiveRange, and of the operand-buffer reuse its
heap simulator does.

Time is XLA's "flattened" schedule (`HloLiveRange::FlattenSchedule`): the entry computation's
instructions in schedule order, with each sequentially called computation (while condition then
body, conditional branches, call, async-wrapped computation) spliced in just before the
instruction that calls it. Fusion bodies and reducers are not flattened: their values live in
registers or thread-local scratch and take no device buffer.

Values (XLA's HloValues) are created where an instruction defines storage; forwarding
instructions (get-tuple-element, bitcast, tuple elements, while/call/conditional results, ...)
pass their operand's values on. Values that must share storage are merged into one buffer:
the while loop carry (init, body parameter, body result, while result), conditional results,
in-place outputs (dynamic-update-slice, scatter, in-place fusions, custom-call
`output_to_operand_aliasing`, all-reduce-start) and donated parameters (`input_output_alias`).
A value then also joins the buffer of an operand that dies at its instruction when XLA's
`CanShareOperandBufferWithUser` would allow it (same shape and layout, elementwise use).

A value is live from its definition (parameters: the start of their computation) to its last
use or position (a computation's root lives to the end of that computation; values used by an
async `*-done` live to it). Entry parameters and constants are live for the whole run, and
outputs to its end. A buffer is live from its first value's start to its last value's end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from hloscope.hlo.model import Computation, Instruction, Module, Role, Shape
from hloscope.passes.reuse import ReuseRules

POINTER_BYTES = 8
"""A tuple is a table of pointers, 8 bytes each (`ShapeUtil::ByteSizeOf(shape, 8)`)."""

Tree: TypeAlias = int | tuple[int, tuple["Tree", ...]]
"""An instruction's values: a value id for an array, or (tuple-table value id, element trees)."""

# Instructions whose result is their first operand's values (they define nothing).
_FORWARD_OPS = frozenset({"bitcast", "domain", "optimization-barrier", "add-dependency",
                          "all-reduce-done"})
# Instructions whose result may have to share an operand's storage (in-place updates).
_IN_PLACE_OPS = frozenset({"dynamic-update-slice", "set-dimension-size", "scatter",
                           "all-reduce-start", "collective-permute", "fusion", "custom-call",
                           "async-start"})
# Instructions that only read their operand's top-level value (`MayUseOperandValue`).
_TOP_LEVEL_USE_OPS = frozenset({"get-tuple-element", "copy"})
Pair: TypeAlias = tuple[tuple[int, ...], int, tuple[int, ...]]
"""An in-place pair: (output index, operand number, operand index)."""
_ALIASING_RE = re.compile(r"\{([\d,\s]*)\}\s*:\s*\(\s*(\d+)\s*,\s*\{([\d,\s]*)\}")


class BufferKind(StrEnum):
    PARAMETER = "parameter"
    OUTPUT = "output"
    CONSTANT = "constant"
    TEMP = "temp"


@dataclass(frozen=True, slots=True, kw_only=True)
class Value:
    """Storage one instruction defines at one shape index."""

    id: int
    instruction: Instruction
    computation: str
    index: tuple[int, ...]
    shape: Shape
    size: int
    start: int
    end: int
    phi: bool = False
    """A loop or conditional result (XLA's phi): it holds whatever the loop body or branch
    produced, not data of its own making."""

    @property
    def label(self) -> str:
        """`name` or `name{1}` as XLA prints values."""
        if not self.index:
            return self.instruction.name
        return f"{self.instruction.name}{{{','.join(map(str, self.index))}}}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Buffer:
    """Values that occupy the same storage, and the flattened times it is live."""

    id: int
    size: int
    start: int
    end: int
    """Last flattened time it is live (inclusive); `Liveness.end_time` for whole-run buffers."""
    kind: BufferKind
    values: tuple[int, ...]
    """Value ids, in order of definition."""
    donated: bool = False
    """A parameter buffer the output reuses (`input_output_alias`)."""
    segments: tuple[tuple[int, int], ...] = ()
    """Inclusive time spans it holds memory: the union of its values' spans. A buffer is free
    between one value's last use and the next value's definition (a donated parameter before
    the output is written, a loop carry between the old value's last use and the new one's
    definition): XLA's heap places other values there."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Liveness:
    module: Module
    sequence: tuple[Instruction, ...]
    """The flattened schedule: instruction at each time."""
    computation_at: tuple[str, ...]
    """Computation of the instruction at each time."""
    entry_step_at: tuple[int, ...]
    """Entry schedule step each time belongs to (a nested computation counts at its caller)."""
    end_time: int
    """One past the last time: whole-run buffers are live to here (XLA's schedule end)."""
    values: Sequence[Value]
    """Every value by id (built on access: a large module has hundreds of thousands)."""
    buffers: tuple[Buffer, ...]
    buffer_of_value: tuple[int, ...]
    parameter_trees: tuple[Tree, ...]
    """Entry parameter values by parameter number."""
    output_tree: Tree | None
    """Values of the entry root."""
    notes: tuple[str, ...] = ()
    spans: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Flattened [start, end) of every flattened computation."""


def byte_size(shape: Shape) -> int:
    """Bytes XLA allocates for one value of `shape` (CPU/GPU `ShapeSizeBytes`): arrays are
    elements x element size (+4 bytes per dimension of metadata when dynamic; padded to the
    first tile of a tiled TPU layout, a model of the TPU size function), a tuple is its pointer
    table, an opaque value one pointer, a token nothing."""
    if shape.element_type == "tuple":
        return POINTER_BYTES * len(shape.tuple_shapes)
    if shape.element_type == "opaque":
        return POINTER_BYTES
    if not shape.is_array:
        return 0
    if shape.layout is not None and shape.layout.tiles and shape.layout.tiles[0]:
        size = _tiled_bytes(shape, shape.layout.tiles[0])
    else:
        size = shape.byte_size(pointer_size=POINTER_BYTES)
    if any(shape.dynamic):
        size += 4 * shape.rank
    return size


def _tiled_bytes(shape: Shape, tile: tuple[int, ...]) -> int:
    """Bytes of an array in a tiled layout (TPU `T(8,128)`): the physical (major-to-minor)
    dims, with leading 1s when the tile has more dims, padded to the first tile's multiples
    (`*` = -1 pads nothing). Later tiles only reorder elements within the first."""
    assert shape.layout is not None
    dims = [shape.dims[d] for d in reversed(shape.layout.minor_to_major)] or [1]
    dims = [1] * max(0, len(tile) - len(dims)) + dims
    count = 1
    for i, d in enumerate(dims):
        k = i - (len(dims) - len(tile))
        t = tile[k] if k >= 0 else 1
        count *= -(-d // t) * t if t > 0 else d
    return (count * shape.element_bits + 7) // 8


def device_bytes(shape: Shape) -> int:
    """`byte_size`, or 0 for a value outside device memory (a layout memory space other than
    0: host memory, or an on-chip space), which the device totals leave out."""
    if shape.layout is not None and shape.layout.memory_space != 0:
        return 0
    return byte_size(shape)


def tree_values(tree: Tree) -> Iterator[int]:
    """Every value id in a tree, tuple tables included."""
    if isinstance(tree, int):
        yield tree
        return
    stack: list[Tree] = [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, int):
            yield t
        else:
            yield t[0]
            stack.extend(t[1])


def tree_leaves(tree: Tree, prefix: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], int]]:
    """(shape index, value id) of the array leaves of a tree."""
    if isinstance(tree, int):
        yield prefix, tree
        return
    for i, child in enumerate(tree[1]):
        yield from tree_leaves(child, (*prefix, i))


def tree_at(tree: Tree, index: tuple[int, ...]) -> Tree | None:
    for i in index:
        if isinstance(tree, int) or i >= len(tree[1]):
            return None
        tree = tree[1][i]
    return tree


def _top(tree: Tree) -> int:
    return tree if isinstance(tree, int) else tree[0]


def _parse_index(text: str) -> tuple[int, ...]:
    inner = text.strip()
    return tuple(int(p) for p in inner.split(",")) if inner else ()


def parse_aliasing(text: str | None) -> tuple[Pair, ...]:
    """`output_to_operand_aliasing={{0}: (1, {})}` -> ((output index, operand, operand index),)."""
    if not text:
        return ()
    return tuple(
        (_parse_index(m.group(1)), int(m.group(2)), _parse_index(m.group(3)))
        for m in _ALIASING_RE.finditer(text)
    )


class _UnionFind:
    """Buffers: union-find over value ids, with each root's live span, size and kind flags."""

    PARAM, CONST, OUT, DONATED = 1, 2, 4, 8

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.lo: list[int] = []
        self.hi: list[int] = []
        self.size: list[int] = []
        self.flags: list[int] = []

    def add(self, start: int, end: int, size: int, flags: int) -> None:
        self.parent.append(len(self.parent))
        self.lo.append(start)
        self.hi.append(end)
        self.size.append(size)
        self.flags.append(flags)

    def find(self, v: int) -> int:
        parent = self.parent
        root = v
        while parent[root] != root:
            root = parent[root]
        while parent[v] != root:
            parent[v], v = root, parent[v]
        return root

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.lo[ra] = min(self.lo[ra], self.lo[rb])
        self.hi[ra] = max(self.hi[ra], self.hi[rb])
        self.size[ra] = max(self.size[ra], self.size[rb])
        self.flags[ra] |= self.flags[rb]
        return ra


class _Builder:
    """Walks the flattened schedule once, building values, uses and must-alias merges."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.seq: list[Instruction] = []
        self.comp_at: list[str] = []
        self.v_instr: list[Instruction] = []
        self.v_comp: list[str] = []
        self.v_index: list[tuple[int, ...]] = []
        self.v_shape: list[Shape] = []
        self.v_start: list[int] = []
        self.v_end: list[int] = []
        self.uf = _UnionFind()
        self.spans: dict[str, tuple[int, int]] = {}
        self.trees: dict[str, dict[str, Tree]] = {}
        self.share_candidates: list[tuple[int, str, Instruction, Tree]] = []
        self.async_values: dict[str, tuple[int, int]] = {}
        self.async_start_of: dict[str, str] = {}
        self.notes: list[str] = []
        self.phis: set[int] = set()
        self.v_size: list[int] = []
        self._sizes: dict[int, int] = {}
        self._fusion_pairs: dict[str, tuple[Pair, ...]] = {}
        self._users: dict[str, dict[str, list[Instruction]]] = {}

    # -- values -------------------------------------------------------------------------

    def new_value(self, instr: Instruction, comp: str, index: tuple[int, ...], shape: Shape,
                  t: int, flags: int = 0) -> int:
        vid = len(self.v_instr)
        self.v_instr.append(instr)
        self.v_comp.append(comp)
        self.v_index.append(index)
        self.v_shape.append(shape)
        self.v_start.append(t)
        self.v_end.append(t)
        # The parser shares one Shape object per distinct shape text: size each once.
        size = self._sizes.get(id(shape))
        if size is None:
            size = self._sizes[id(shape)] = device_bytes(shape)
            if shape.layout is not None and (shape.layout.tiles or shape.layout.memory_space):
                self.notes.append(
                    "tiled layouts (TPU): array sizes are padded to their first tile, a model "
                    "of XLA's TPU shape size; values in memory spaces other than 0 (on-chip, "
                    "host) are left out of the device totals"
                )
        self.v_size.append(size)
        self.uf.add(t, t, size, flags)
        return vid

    def new_tree(self, instr: Instruction, comp: str, shape: Shape, t: int,
                 index: tuple[int, ...] = (), flags: int = 0) -> Tree:
        if shape.is_tuple:
            table = self.new_value(instr, comp, index, shape, t, flags)
            return (table, tuple(
                self.new_tree(instr, comp, s, t, (*index, i), flags)
                for i, s in enumerate(shape.tuple_shapes)
            ))
        return self.new_value(instr, comp, index, shape, t, flags)

    def retable(self, tree: Tree, instr: Instruction, comp: str, shape: Shape, t: int,
                index: tuple[int, ...] = ()) -> Tree:
        """`tree`'s arrays under new tuple tables defined by `instr` (async-done style)."""
        if not shape.is_tuple or isinstance(tree, int):
            return tree
        table = self.new_value(instr, comp, index, shape, t)
        return (table, tuple(
            self.retable(c, instr, comp, s, t, (*index, i))
            for i, (c, s) in enumerate(zip(tree[1], shape.tuple_shapes, strict=False))
        ))

    def extend(self, tree: Tree | None, t: int) -> None:
        if tree is None:
            return
        end = self.v_end
        for v in tree_values(tree):
            if end[v] < t:
                end[v] = t

    def merge(self, a: Tree, b: Tree) -> None:
        """Union the values of two trees index by index (loop carry, conditional results)."""
        if isinstance(a, int) or isinstance(b, int):
            self.uf.union(_top(a), _top(b))
            return
        self.uf.union(a[0], b[0])
        for ca, cb in zip(a[1], b[1], strict=False):
            self.merge(ca, cb)

    # -- the walk -----------------------------------------------------------------------

    def visit(self, comp: Computation, params: list[Tree] | None) -> Tree | None:
        """Flatten `comp` into the schedule; returns its root's tree. Parameters forward
        `params` (the caller's operands) or define new values when there is no caller."""
        if comp.name in self.spans or comp.name in self.trees:
            self.notes.append(
                f"computation {comp.name} is called from more than one place; XLA flattens "
                "it once (at its first caller) and so does this model"
            )
            return None
        trees: dict[str, Tree] = {}
        self.trees[comp.name] = trees
        start = len(self.seq)
        for instr in comp.instructions:
            self.step(comp, instr, trees, params, start)
        end = len(self.seq)
        self.spans[comp.name] = (start, end)
        root = trees.get(comp.root)
        self.extend(root, end)
        return root

    def step(self, comp: Computation, instr: Instruction, trees: dict[str, Tree],
             params: list[Tree] | None, comp_start: int) -> None:
        callee_root = self.flatten_callees(instr, trees)
        t = len(self.seq)
        self.seq.append(instr)
        self.comp_at.append(comp.name)
        tree = self.define(comp, instr, trees, params, t, comp_start, callee_root)
        trees[instr.name] = tree
        self.use(instr, t, trees)

    def flatten_callees(self, instr: Instruction, trees: dict[str, Tree]) -> Tree | None:
        op = instr.opcode
        if not instr.called:
            return None
        if op == "while" and len(instr.called) >= 2:
            init = trees.get(instr.operands[0]) if instr.operands else None
            cond, body = (self.module.by_name[c] for c in self._while_parts(instr))
            self.visit(cond, self.phi(cond, init))
            body_params = self.phi(body, init)
            self.extend(init, len(self.seq))  # XLA ends the init's use at the body's start
            return self.visit(body, body_params)
        if op == "conditional":
            roots: list[Tree] = []
            for i, name in enumerate(instr.called):
                arg = trees.get(instr.operands[i + 1]) if i + 1 < len(instr.operands) else None
                root = self.visit(self.module.by_name[name], [arg] if arg is not None else None)
                if root is not None:
                    roots.append(root)
            for other in roots[1:]:
                self.merge(roots[0], other)
            return roots[0] if roots else None
        if op in ("call", "async-start") and instr.called:
            args = [trees[o] for o in instr.operands if o in trees]
            first = len(self.v_instr)
            root = self.visit(self.module.by_name[instr.called[0]], args)
            if op == "async-start":
                self.async_values[instr.name] = (first, len(self.v_instr))
            return root
        return None

    def phi(self, comp: Computation, init: Tree | None) -> list[Tree] | None:
        """A loop computation's parameter: new values (XLA's phis) sharing the carry's buffers,
        so the old carry can die inside the body before the new one is written."""
        if init is None or not comp.parameters or comp.name in self.trees:
            return None
        param = comp.by_name[comp.parameters[0]]
        first = len(self.v_instr)
        tree = self.new_tree(param, comp.name, param.shape, len(self.seq))
        self.phis.update(range(first, len(self.v_instr)))
        self.merge(tree, init)
        return [tree]

    def _while_parts(self, instr: Instruction) -> tuple[str, str]:
        cond = instr.attr("condition")
        body = instr.attr("body")
        if cond and body:
            return cond.lstrip("%"), body.lstrip("%")
        return instr.called[0], instr.called[1]

    # -- definitions ----------------------------------------------------------------------

    def define(self, comp: Computation, instr: Instruction, trees: dict[str, Tree],
               params: list[Tree] | None, t: int, comp_start: int,
               callee_root: Tree | None) -> Tree:
        op = instr.opcode
        ops = [trees.get(o) for o in instr.operands]
        if op == "parameter":
            return self.define_parameter(comp, instr, params, comp_start)
        if op in ("while", "call", "conditional") and callee_root is not None:
            tree = self.define_control(comp.name, instr, ops, callee_root, t)
        elif op in _FORWARD_OPS and ops and ops[0] is not None:
            tree = ops[0]
        elif op == "get-tuple-element" and ops and ops[0] is not None:
            tree = self.define_gte(comp, instr, ops[0], t)
        else:
            special = self.define_special(comp, instr, ops, t, callee_root)
            if special is None:
                flags = _UnionFind.CONST if op == "constant" else 0
                tree = self.new_tree(instr, comp.name, instr.shape, t, flags=flags)
                self.after_define(comp, instr, tree, ops, t)
                return tree
            tree = special
        self.extend(tree, t)  # forwarded values are at a position here
        return tree

    def define_parameter(self, comp: Computation, instr: Instruction,
                         params: list[Tree] | None, comp_start: int) -> Tree:
        n = instr.parameter_number or 0
        if params is not None and n < len(params):
            return params[n]
        flags = _UnionFind.PARAM if comp.is_entry else 0
        return self.new_tree(instr, comp.name, instr.shape, comp_start, flags=flags)

    def define_control(self, comp: str, instr: Instruction, ops: list[Tree | None],
                       callee_root: Tree, t: int) -> Tree:
        """while / conditional results are new (phi) values in the carry's / branch results'
        buffers; a call's result is its callee's root."""
        if instr.opcode == "call":
            return callee_root
        first = len(self.v_instr)
        tree = self.new_tree(instr, comp, instr.shape, t)
        self.phis.update(range(first, len(self.v_instr)))
        self.merge(tree, callee_root)
        if instr.opcode == "while" and ops and ops[0] is not None:
            self.merge(tree, ops[0])
        return tree

    def define_gte(self, comp: Computation, instr: Instruction, operand: Tree, t: int) -> Tree:
        child = tree_at(operand, (int(instr.attr("index", "0") or 0),))
        if child is None:
            return self.new_tree(instr, comp.name, instr.shape, t)
        return child

    def define_special(self, comp: Computation, instr: Instruction, ops: list[Tree | None],
                       t: int, callee_root: Tree | None) -> Tree | None:
        """Trees of instructions that define only some of their indices; None for the rest."""
        handler = _SPECIAL.get(instr.opcode)
        if handler is None:
            return None
        return handler(self, comp.name, instr, ops, t, callee_root)

    def after_define(self, comp: Computation, instr: Instruction, tree: Tree,
                     ops: list[Tree | None], t: int) -> None:
        """Must-alias merges of in-place outputs; otherwise a candidate for operand reuse."""
        pairs = self.in_place_pairs(instr)
        for out_index, operand, op_index in pairs:
            src = ops[operand] if operand < len(ops) else None
            a = tree_at(tree, out_index)
            b = tree_at(src, op_index) if src is not None else None
            if a is not None and b is not None:
                self.uf.union(_top(a), _top(b))
        if not pairs and instr.opcode != "constant":
            self.share_candidates.append((t, comp.name, instr, tree))

    def in_place_pairs(self, instr: Instruction) -> tuple[Pair, ...]:
        """(output index, operand number, operand index) pairs XLA makes share storage
        (`AliasInfo::GetInPlaceInputOutputPairs`)."""
        op = instr.opcode
        if op not in _IN_PLACE_OPS:
            return ()
        declared = parse_aliasing(instr.attr("output_to_operand_aliasing"))
        if op in ("dynamic-update-slice", "set-dimension-size"):
            return (((), 0, ()),)
        if op in ("scatter", "all-reduce-start"):
            n = (len(instr.operands) - 1) // 2 if op == "scatter" else len(instr.operands)
            if n <= 1:
                return (((), 0, ()),)
            return tuple(((i,), i, ()) for i in range(n))
        if op == "collective-permute" and len(instr.operands) == 4:
            return (((), 1, ()),)
        if op == "fusion" and instr.called:
            return self.fusion_pairs(instr.called[0]) + declared
        return declared

    def fusion_pairs(self, name: str) -> tuple[Pair, ...]:
        if name not in self._fusion_pairs:
            self._fusion_pairs[name] = _fusion_in_place_pairs(self.module, name)
        return self._fusion_pairs[name]

    # -- uses -------------------------------------------------------------------------------

    def use(self, instr: Instruction, t: int, trees: dict[str, Tree]) -> None:
        op = instr.opcode
        if op in ("tuple", "domain", "while") or (op == "call" and instr.called):
            return  # pass-through: the values' positions, not uses, keep them live
        for name in instr.operands:
            tree = trees.get(name)
            if tree is None:
                continue
            if op in _TOP_LEVEL_USE_OPS:
                self.extend(_top(tree), t)
            else:
                self.extend(tree, t)
        if op == "async-done":
            self.end_async(instr, t)
        elif op in ("async-start", "async-update") and instr.operands:
            start = instr.name if op == "async-start" else self.async_start_of.get(
                instr.operands[0], "")
            self.async_start_of[instr.name] = start

    def end_async(self, done: Instruction, t: int) -> None:
        """Values of an async computation stay live until its `async-done`."""
        start = self.async_start_of.get(done.operands[0], "") if done.operands else ""
        first, last = self.async_values.get(start, (0, 0))
        for v in range(first, last):
            self.extend(v, t)


# -- instructions that define only part of their result ---------------------------------------

def _tuple_of(b: _Builder, comp: str, instr: Instruction, t: int,
              children: list[Tree]) -> Tree:
    table = b.new_value(instr, comp, (), instr.shape, t)
    return (table, tuple(children))


def _sub_shape(shape: Shape, i: int) -> Shape:
    return shape.tuple_shapes[i] if shape.is_tuple and i < len(shape.tuple_shapes) else shape


def _new_at(b: _Builder, comp: str, instr: Instruction, t: int, i: int) -> Tree:
    return b.new_tree(instr, comp, _sub_shape(instr.shape, i), t, (i,))


def _operands_at(b: _Builder, comp: str, instr: Instruction, ops: list[Tree | None],
                 t: int, i: int) -> Tree:
    """Element `i` holding the operands themselves (async starts alias their operands)."""
    sub = _sub_shape(instr.shape, i)
    present = [o for o in ops if o is not None]
    if sub.is_tuple and len(present) == len(ops):
        return (b.new_value(instr, comp, (i,), sub, t), tuple(present))
    if present and not sub.is_tuple:
        return present[0]
    return b.new_tree(instr, comp, sub, t, (i,))


def _h_tuple(b: _Builder, comp: str, instr: Instruction, ops: list[Tree | None], t: int,
             _root: Tree | None) -> Tree:
    children = [o if o is not None else _new_at(b, comp, instr, t, i) for i, o in enumerate(ops)]
    return _tuple_of(b, comp, instr, t, children)


def _h_copy(b: _Builder, comp: str, instr: Instruction, ops: list[Tree | None], t: int,
            _root: Tree | None) -> Tree | None:
    # A tuple copy is shallow: a new table over the operand's elements.
    if instr.shape.is_tuple and ops and ops[0] is not None and not isinstance(ops[0], int):
        return _tuple_of(b, comp, instr, t, list(ops[0][1]))
    return None


def _h_async_start(b: _Builder, comp: str, instr: Instruction, ops: list[Tree | None], t: int,
                   root: Tree | None) -> Tree:
    n = len(instr.shape.tuple_shapes)
    children: list[Tree] = [_operands_at(b, comp, instr, ops, t, 0)]
    children.append(root if root is not None and n > 1 else _new_at(b, comp, instr, t, 1))
    children += [_new_at(b, comp, instr, t, i) for i in range(2, n)]
    return _tuple_of(b, comp, instr, t, children)


def _h_retable_operand(b: _Builder, comp: str, instr: Instruction, ops: list[Tree | None],
                       t: int, _root: Tree | None) -> Tree | None:
    if not ops or ops[0] is None:
        return None
    return b.retable(ops[0], instr, comp, instr.shape, t)


def _h_done_of_one(b: _Builder, comp: str, instr: Instruction, ops: list[Tree | None], t: int,
                   _root: Tree | None) -> Tree | None:
    """async-done, all-gather-done, collective-permute-done: the start's element {1}."""
    src = tree_at(ops[0], (1,)) if ops and ops[0] is not None else None
    if src is None:
        return None
    return b.retable(src, instr, comp, instr.shape, t)


def _h_copy_done(b: _Builder, comp: str, instr: Instruction, ops: list[Tree | None], t: int,
                 _root: Tree | None) -> Tree | None:
    return tree_at(ops[0], (0,)) if ops and ops[0] is not None else None


def _h_copy_start(b: _Builder, comp: str, instr: Instruction, ops: list[Tree | None], t: int,
                  _root: Tree | None) -> Tree | None:
    if not ops or ops[0] is None or not instr.shape.is_tuple:
        return None
    n = len(instr.shape.tuple_shapes)
    children = [_new_at(b, comp, instr, t, 0), ops[0]]
    children += [_new_at(b, comp, instr, t, i) for i in range(2, n)]
    return _tuple_of(b, comp, instr, t, children)


def _h_operand_first(b: _Builder, comp: str, instr: Instruction, ops: list[Tree | None], t: int,
                     _root: Tree | None) -> Tree | None:
    """all-gather-start, collective-permute-start, send: {0} aliases the operand(s)."""
    if not instr.shape.is_tuple or not ops:
        return None
    n = len(instr.shape.tuple_shapes)
    children = [_operands_at(b, comp, instr, ops[:1] if instr.opcode != "all-gather-start"
                             else ops, t, 0)]
    children += [_new_at(b, comp, instr, t, i) for i in range(1, n)]
    return _tuple_of(b, comp, instr, t, children)


def _h_recv_done(b: _Builder, comp: str, instr: Instruction, ops: list[Tree | None], t: int,
                 _root: Tree | None) -> Tree | None:
    src = tree_at(ops[0], (0,)) if ops and ops[0] is not None else None
    if src is None or not instr.shape.is_tuple:
        return None
    return _tuple_of(b, comp, instr, t, [src, _new_at(b, comp, instr, t, 1)])


_SPECIAL = {
    "tuple": _h_tuple,
    "copy": _h_copy,
    "async-start": _h_async_start,
    "async-update": _h_retable_operand,
    "async-done": _h_done_of_one,
    "all-gather-done": _h_done_of_one,
    "collective-permute-done": _h_done_of_one,
    "copy-start": _h_copy_start,
    "copy-done": _h_copy_done,
    "all-gather-start": _h_operand_first,
    "collective-permute-start": _h_operand_first,
    "send": _h_operand_first,
    "recv-done": _h_recv_done,
}


# -- in-place fusions --------------------------------------------------------------------------

def _follow(comp: Computation, instr: Instruction,
            index: tuple[int, ...]) -> tuple[Instruction, tuple[int, ...]]:
    """Follow tuple / get-tuple-element / bitcast indirections back to a source."""
    while instr.opcode == "tuple" and index and index[0] < len(instr.operands):
        instr, index = comp.by_name[instr.operands[index[0]]], index[1:]
    while instr.opcode == "get-tuple-element" and instr.operands:
        index = (int(instr.attr("index", "0") or 0), *index)
        instr = comp.by_name[instr.operands[0]]
    while not index and instr.opcode == "bitcast" and instr.operands:
        instr = comp.by_name[instr.operands[0]]
    return instr, index


def _fusion_in_place_pairs(module: Module, name: str) -> tuple[Pair, ...]:
    """Fusion outputs whose root is a dynamic-update-slice / scatter writing into a fused
    parameter: XLA's `GetFusionInstructionInPlaceInputOutputPairs`."""
    comp = module.by_name.get(name)
    if comp is None:
        return ()
    pairs: list[Pair] = []
    for out_index, _ in comp.root_instruction.shape.leaves():
        src, src_index = _follow(comp, comp.root_instruction, out_index)
        if src.opcode not in ("dynamic-update-slice", "scatter") or not src.operands:
            continue
        operand = 0
        if src.opcode == "scatter" and src_index:
            operand = src_index[0]
        target, target_index = _follow(comp, comp.by_name[src.operands[operand]], ())
        if target.opcode == "parameter" and target.parameter_number is not None:
            pairs.append((out_index, target.parameter_number, target_index))
    return tuple(pairs)




# -- finishing: entry aliases, whole-run buffers, operand reuse -------------------------------

def build(module: Module) -> Liveness:
    """Values, buffers and live ranges of `module` over its flattened schedule."""
    b = _Builder(module)
    b.visit(module.entry_computation, None)
    entry = module.entry_computation
    entry_trees = b.trees.get(entry.name, {})
    root = entry_trees.get(entry.root)
    params = tuple(entry_trees[p] for p in entry.parameters if p in entry_trees)
    _alias_donations(b, root, params)
    _embedded_constants(b)
    end_time = len(b.seq)
    _mark_outputs(b, root)
    _recompute_spans(b, end_time)
    _share_operand_buffers(b)
    return _assemble(b, root, params, end_time)


def _alias_donations(b: _Builder, root: Tree | None, params: tuple[Tree, ...]) -> None:
    for alias in b.module.input_output_alias:
        if root is None or alias.parameter_number >= len(params):
            continue
        out = tree_at(root, alias.output_index)
        src = tree_at(params[alias.parameter_number], alias.parameter_index)
        if out is not None and src is not None:
            r = b.uf.union(_top(out), _top(src))
            b.uf.flags[r] |= _UnionFind.DONATED


def _embedded_constants(b: _Builder) -> None:
    """Constants of computations run inside an instruction (reducers, comparators, ...) get a
    buffer of their own for the whole run, as XLA's buffer assignment gives them; constants
    inside fusion bodies are compiled into the kernel."""
    for comp in b.module.computations:
        if comp.name in b.spans or comp.role in (Role.FUSION, Role.UNUSED):
            continue
        for instr in comp.instructions:
            if instr.opcode == "constant":
                b.new_tree(instr, comp.name, instr.shape, 0, flags=_UnionFind.CONST)


def _mark_outputs(b: _Builder, root: Tree | None) -> None:
    if root is None:
        return
    for v in tree_values(root):
        b.uf.flags[v] |= _UnionFind.OUT


def _recompute_spans(b: _Builder, end_time: int) -> None:
    """Each buffer's span from its values; flags gathered on the root. Parameters and
    constants live for the whole run, outputs to its end."""
    uf = b.uf
    n = len(b.v_instr)
    roots = [uf.find(v) for v in range(n)]
    flags = [0] * n
    for v, r in enumerate(roots):
        flags[r] |= uf.flags[v]
    for r in set(roots):
        uf.lo[r], uf.hi[r], uf.size[r] = end_time, -1, 0
    for v, r in enumerate(roots):
        uf.lo[r] = min(uf.lo[r], b.v_start[v])
        uf.hi[r] = max(uf.hi[r], b.v_end[v])
        uf.size[r] = max(uf.size[r], b.v_size[v])
    whole = _UnionFind.PARAM | _UnionFind.CONST
    for r in set(roots):
        uf.flags[r] = flags[r]
        if flags[r] & whole and not flags[r] & _UnionFind.DONATED:
            uf.lo[r], uf.hi[r] = 0, end_time
        elif flags[r] & _UnionFind.OUT:
            uf.hi[r] = end_time


def _share_operand_buffers(b: _Builder) -> None:
    """Give a result the buffer of an operand that dies at its instruction, where XLA's heap
    simulator would (`CanShareOperandBufferWithUser`). Parameters, constants and buffers
    already live before the instruction take no part: they are not in XLA's heap."""
    rules = ReuseRules(b.module)
    uf = b.uf
    pinned = _UnionFind.PARAM | _UnionFind.CONST | _UnionFind.OUT
    taken: set[int] = set()
    taken_at = -1
    for t, comp_name, instr, tree in b.share_candidates:
        if t != taken_at:
            taken, taken_at = set(), t
        comp = b.module.by_name[comp_name]
        trees = b.trees[comp_name]
        for out_index, v in tree_leaves(tree):
            rv = uf.find(v)
            if (b.v_instr[v] is not instr or uf.size[rv] == 0 or uf.lo[rv] < t
                    or uf.flags[rv] & _UnionFind.DONATED):
                continue
            donor = _dying_operand(b, rules, comp, instr, trees, v, out_index, t, pinned, taken)
            if donor is not None:
                taken.add(uf.union(donor, rv))


def _dying_operand(b: _Builder, rules: ReuseRules, comp: Computation, instr: Instruction,
                   trees: dict[str, Tree], v: int, out_index: tuple[int, ...], t: int,
                   pinned: int, taken: set[int]) -> int | None:
    uf = b.uf
    shape = b.v_shape[v]
    for k, name in enumerate(instr.operands):
        tree = trees.get(name)
        if not isinstance(tree, int):
            continue
        ru = uf.find(tree)
        if (ru in taken or uf.hi[ru] != t or uf.flags[ru] & pinned
                or b.v_shape[tree] != shape or b.v_instr[tree].opcode == "constant"):
            continue
        if rules.can_share(comp, instr, k, out_index):
            return ru
    return None


def _assemble(b: _Builder, root: Tree | None, params: tuple[Tree, ...],
              end_time: int) -> Liveness:
    uf = b.uf
    n = len(b.v_instr)
    members: dict[int, list[int]] = {}
    for v in range(n):
        members.setdefault(uf.find(v), []).append(v)
    values = _Values(b)
    buffers: list[Buffer] = []
    buffer_of = [0] * n
    for r, vs in members.items():
        vs.sort(key=lambda v: (b.v_start[v], v))
        for v in vs:
            buffer_of[v] = len(buffers)
        donated = bool(uf.flags[r] & _UnionFind.DONATED)
        whole = uf.lo[r] == 0 and uf.hi[r] == end_time and not donated and (
            uf.flags[r] & (_UnionFind.PARAM | _UnionFind.CONST))
        segments = ((0, end_time),) if whole else _segments(b, vs)
        buffers.append(Buffer(
            id=len(buffers), size=uf.size[r], start=uf.lo[r], end=uf.hi[r],
            kind=_kind(uf.flags[r]), values=tuple(vs), donated=donated, segments=segments,
        ))
    entry_name = b.module.entry
    entry_step_at = [0] * len(b.seq)
    step = sum(1 for c in b.comp_at if c == entry_name)
    for t in range(len(b.seq) - 1, -1, -1):
        if b.comp_at[t] == entry_name:
            step -= 1
        entry_step_at[t] = max(step, 0)
    return Liveness(
        module=b.module, sequence=tuple(b.seq), computation_at=tuple(b.comp_at),
        entry_step_at=tuple(entry_step_at), end_time=end_time, values=values,
        buffers=tuple(buffers), buffer_of_value=tuple(buffer_of), parameter_trees=params,
        output_tree=root, notes=tuple(dict.fromkeys(b.notes)), spans=dict(b.spans),
    )


class _Values(Sequence[Value]):
    """The builder's value columns seen as `Value` records, made on access."""

    def __init__(self, b: _Builder) -> None:
        self._b = b

    def __len__(self) -> int:
        return len(self._b.v_instr)

    def __getitem__(self, v: int) -> Value:  # type: ignore[override]
        b = self._b
        if v < 0:
            v += len(b.v_instr)
        return Value(id=v, instruction=b.v_instr[v], computation=b.v_comp[v],
                     index=b.v_index[v], shape=b.v_shape[v], size=b.v_size[v],
                     start=b.v_start[v], end=b.v_end[v], phi=v in b.phis)

    def __iter__(self) -> Iterator[Value]:
        return (self[v] for v in range(len(self)))


def _segments(b: _Builder, vs: list[int]) -> tuple[tuple[int, int], ...]:
    """Union of the values' [start, end] spans (values sorted by start)."""
    if len(vs) == 1:
        return ((b.v_start[vs[0]], b.v_end[vs[0]]),)
    spans: list[list[int]] = []
    for v in vs:
        lo, hi = b.v_start[v], b.v_end[v]
        if spans and lo <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], hi)
        else:
            spans.append([lo, hi])
    return tuple((lo, hi) for lo, hi in spans)


def _kind(flags: int) -> BufferKind:
    if flags & _UnionFind.PARAM:
        return BufferKind.PARAMETER
    if flags & _UnionFind.CONST:
        return BufferKind.CONSTANT
    if flags & _UnionFind.OUT:
        return BufferKind.OUTPUT
    return BufferKind.TEMP
