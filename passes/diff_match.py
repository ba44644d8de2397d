"""Structural matching of two HLO modules: which instruction of A is which instruction of B.

Names change between compiles (counters, `.clone` suffixes, fusion names), so instruction
names are never used. Instructions are paired in stages, each by dict buckets (no all-pairs
comparison), most certain first. After each stage the new pairs spread through the graph
(`neighbourhood`, to a fixpoint): unmatched users of a pair whose operands are the same
pairs, or that take the pair at the same operand position; operands of a pair in the same
position. A pair's called computations pair up (`calls`: parameters by number, roots), and a
fused computation's parameters count as users of the fusion's operands, so matching flows
into and across fusions (what a kernel split or merge needs).

Strict phase (neighbours must have the same op_name and Python line):
1. `structure`: the same upstream subgraph (a hash over opcodes, shapes, attributes, op_names
   and edges), once on each side.
2. `key`: the same op_name + Python line + opcode + shape (+ a constant's literal, a tuple
   index...), once on each side.
3. `renamed shape`: the same op_name + line + opcode (a dtype or sharding change alters
   shapes), once on each side.
4. `fusion body`: fusions whose fused computations have the same structure.
5. `line`: collectives with the same opcode and Python line, once on each side (XLA's
   combined all-reduce carries the op_name of every gradient it sums).

Loose phase: neighbours by shape and operand position alone; then fusion bodies by opcodes
and edges only; then (`order`) what is left with the same key in equal numbers on both
sides, in program order; then repeated identical subgraphs, in order.

Entry parameters are keyed by what jax called them (`params['layers'][0]['w1']`), else their
number. Instructions still unmatched are reported on each side.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from hloscope.hlo.model import Computation, Instruction, Module, Role, Shape
from hloscope.hlo.shapes import format_shape

STAGES = ("structure", "key", "neighbourhood", "renamed shape", "fusion body", "order", "line",
          "calls")

IGNORED_ATTRIBUTES = frozenset({"channel_id", "metadata", "control-predecessors", "origin"})
"""Attributes that name or number things per compile (never a difference)."""

_SINGLE_CALLER_OPS = frozenset({"fusion", "call", "while", "async-start"})
"""Callers whose called computations' parameters take the caller's operands."""

Ref = tuple[str, str]
"""(computation, instruction name)."""


def shape_text(shape: Shape) -> str:
    """`f32[8,128]`, tuples as `(f32[8], s32[])`: the HLO spelling without layouts."""
    return format_shape(shape, layout=False)


class Graph:
    """One module flattened to integer-indexed nodes with operand and user lists."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.ins: list[Instruction] = []
        self.comp: list[Computation] = []
        self.ids: dict[Ref, int] = {}
        self.first: dict[str, int] = {}
        """Computation name -> id of its first instruction."""
        for comp in module.computations:
            self.first[comp.name] = len(self.ins)
            for ins in comp.instructions:
                self.ids[(comp.name, ins.name)] = len(self.ins)
                self.ins.append(ins)
                self.comp.append(comp)
        n = len(self.ins)
        self.n = n
        self._shape_cache: dict[int, str] = {}
        self._src_cache: dict[int, str] = {}
        self.operands: list[tuple[int, ...]] = [()] * n
        self.users: list[list[int]] = [[] for _ in range(n)]
        self.virtual: list[tuple[int, ...]] = [()] * n
        """Parameters of a singly-called computation: the caller's operand at its number."""
        self.ctx: list[str] = [""] * n
        self.shape: list[str] = [""] * n
        self.src: list[str] = [""] * n
        self.global_key: list[Hashable | None] = [None] * n
        """The `key` stage's key (None: matched only through the graph, e.g. inner params)."""
        self.name_key: list[Hashable | None] = [None] * n
        """The `renamed shape` stage's key (no shape)."""
        self._build_edges()
        self._link_called()
        self._keys()
        self.hash, self.loose = self._hashes()

    # -- building ---------------------------------------------------------------------------

    def _build_edges(self) -> None:
        ids = self.ids
        for i, ins in enumerate(self.ins):
            cname = self.comp[i].name
            ops = tuple(ids[(cname, o)] for o in ins.operands if (cname, o) in ids)
            self.operands[i] = ops
            seen: set[int] = set()
            for o in ops:
                if o not in seen:
                    seen.add(o)
                    self.users[o].append(i)

    def _link_called(self) -> None:
        """Parameter k of a computation called from one place by a fusion/call/while/async
        takes that caller's operand k (operand 0 for while parts) as a virtual operand."""
        callers: dict[str, list[int]] = {}
        for i, ins in enumerate(self.ins):
            for c in ins.called:
                callers.setdefault(c, []).append(i)
        for cname, who in callers.items():
            if len(who) != 1 or cname not in self.module.by_name:
                continue
            caller = who[0]
            if self.ins[caller].opcode not in _SINGLE_CALLER_OPS:
                continue
            ops = self.operands[caller]
            comp = self.module.by_name[cname]
            for pname in comp.parameters:
                p = self.ids.get((cname, pname))
                if p is None:
                    continue
                k = self.ins[p].parameter_number or 0
                if self.ins[caller].opcode == "while":
                    k = 0
                if k < len(ops):
                    self.virtual[p] = (ops[k],)
                    self.users[ops[k]].append(p)

    def shape_of(self, shape: Shape) -> str:
        key = id(shape)
        got = self._shape_cache.get(key)
        if got is None:
            got = shape_text(shape)
            self._shape_cache[key] = got
        return got

    def source_line(self, ins: Instruction) -> str:
        """Innermost Python `file:line`, '' when XLA kept none (memoized per stack frame)."""
        md = ins.metadata
        if md is None:
            return ""
        fid = md.stack_frame_id
        if fid:
            got = self._src_cache.get(fid)
            if got is None:
                got = ""
                frame = self.module.stack_frames.get(fid)
                loc = self.module.file_locations.get(frame.file_location_id) if frame else None
                if loc is not None:
                    got = f"{self.module.file_names.get(loc.file_name_id, '')}:{loc.line}"
                self._src_cache[fid] = got
            return got
        return f"{md.source_file}:{md.source_line}" if md.source_file else ""

    def _keys(self) -> None:
        entry = self.module.entry
        for i, ins in enumerate(self.ins):
            comp = self.comp[i]
            ctx = "entry" if comp.name == entry else comp.role.value
            self.ctx[i] = ctx
            shape = self.shape_of(ins.shape)
            self.shape[i] = shape
            src = self.source_line(ins)
            self.src[i] = src
            op = ins.opcode
            if op == "parameter":
                if ctx != "entry":
                    continue  # matched through its caller
                label = ins.op_name or f"#{ins.parameter_number}"
                # Shape left out: a sharding or dtype change alters a parameter's shape.
                self.global_key[i] = (ctx, op, label)
                self.name_key[i] = (ctx, op, label)
                continue
            extra = _extra(ins)
            self.global_key[i] = (ctx, op, shape, ins.op_name, src, extra)
            if ins.op_name or src:
                self.name_key[i] = (ctx, op, ins.op_name, src, extra)

    def _hashes(self) -> tuple[list[int], list[int]]:
        """Per node, a hash of its whole upstream subgraph without instruction names: exact
        (shapes, attributes, op_names: the same ops on the same values) and loose (opcodes
        and edges only)."""
        exact = [0] * self.n
        loose = [0] * self.n
        comp_exact: dict[str, int] = {}
        comp_loose: dict[str, int] = {}
        state = [0] * self.n  # 0 new, 1 on the stack, 2 done
        for cname in _callees_first(self.module):
            comp = self.module.by_name[cname]
            start = self.first[cname]
            for i in range(start, start + len(comp.instructions)):
                if state[i] == 2:
                    continue
                stack = [i]
                while stack:
                    j = stack[-1]
                    if state[j] == 0:
                        state[j] = 1
                        pending = [o for o in self.operands[j] if state[o] == 0]
                        if pending:
                            stack.extend(pending)
                            continue
                    stack.pop()
                    if state[j] == 2:
                        continue
                    state[j] = 2
                    ins = self.ins[j]
                    called_e = tuple(comp_exact.get(c, 0) for c in ins.called)
                    called_l = tuple(comp_loose.get(c, 0) for c in ins.called)
                    ops = self.operands[j]
                    ident = self._ident(j)
                    exact[j] = hash((ins.opcode, self.shape[j], ident, _extra(ins),
                                     ins.op_name, tuple(exact[o] for o in ops), called_e))
                    loose[j] = hash((ins.opcode, len(ops), ident[0] if ins.opcode == "parameter"
                                     else None, tuple(loose[o] for o in ops), called_l))
            root = self.ids.get((cname, comp.root))
            comp_exact[cname] = exact[root] if root is not None else 0
            comp_loose[cname] = loose[root] if root is not None else 0
        self.comp_exact = comp_exact
        self.comp_loose = comp_loose
        return exact, loose

    def _ident(self, i: int) -> tuple[Hashable, ...]:
        ins = self.ins[i]
        if ins.opcode != "parameter":
            return (attributes_of(ins),)
        if self.ctx[i] == "entry":
            return (ins.op_name or f"#{ins.parameter_number}",)
        return (ins.parameter_number,)


def _extra(ins: Instruction) -> Hashable:
    """What tells instructions of one opcode and shape apart besides their operands."""
    op = ins.opcode
    if op == "constant":
        return ins.literal
    if op == "get-tuple-element":
        return ins.attr("index")
    if op == "custom-call":
        return ins.attr("custom_call_target")
    if op == "fusion":
        return ins.fusion_kind
    return None


def attributes_of(ins: Instruction) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in ins.attributes if k not in IGNORED_ATTRIBUTES)


def _callees_first(module: Module) -> list[str]:
    """Computation names, every callee before its callers (cycles broken)."""
    order: list[str] = []
    state: dict[str, int] = {}
    calls = {c.name: [x for ins in c.instructions for x in ins.called] for c in module.computations}
    for root in module.computations:
        if root.name in state:
            continue
        stack: list[tuple[str, int]] = [(root.name, 0)]
        state[root.name] = 1
        while stack:
            name, k = stack[-1]
            callees = calls.get(name, [])
            if k < len(callees):
                stack[-1] = (name, k + 1)
                c = callees[k]
                if c not in state and c in module.by_name:
                    state[c] = 1
                    stack.append((c, 0))
                continue
            stack.pop()
            state[name] = 2
            order.append(name)
    return order


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class InstructionChange:
    """A matched pair that differs in something other than names and metadata."""

    a: Ref
    b: Ref
    opcode: str
    what: tuple[str, ...]
    """Fields that differ: shape, layout, sharding, groups, attributes, operands, body,
    literal, fusion_kind, backend_config, frontend_attributes."""
    shape_a: str
    shape_b: str
    op_name: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"a": list(self.a), "b": list(self.b), "opcode": self.opcode,
                "what": list(self.what), "shape_a": self.shape_a, "shape_b": self.shape_b,
                "op_name": self.op_name, "source": self.source}


@dataclass(frozen=True, slots=True, kw_only=True)
class Matching:
    """Which instruction of A is which of B."""

    a_to_b: Mapping[Ref, Ref]
    b_to_a: Mapping[Ref, Ref]
    by_stage: Mapping[str, int]
    """Pairs found by each stage."""
    unmatched_a: tuple[Ref, ...]
    """In A's text order."""
    unmatched_b: tuple[Ref, ...]
    changed: tuple[InstructionChange, ...]
    computations: Mapping[str, str]
    """A computation -> the B computation holding most partners of its instructions."""
    schedule_changed: tuple[str, ...]
    """A computations (scheduled, not fused) whose matched instructions run in another order."""
    module_changes: tuple[str, ...]
    """Module-level differences (partitions, replicas, aliasing, entry layout)."""
    instructions_a: int
    instructions_b: int

    @property
    def identical(self) -> bool:
        return not (self.unmatched_a or self.unmatched_b or self.changed
                    or self.schedule_changed or self.module_changes)

    def changes_by_what(self) -> dict[str, int]:
        """Changed pairs counted by what differs (a pair counts once for each field)."""
        out: dict[str, int] = {}
        for c in self.changed:
            for w in c.what:
                out[w] = out.get(w, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "instructions": {"a": self.instructions_a, "b": self.instructions_b},
            "matched": len(self.a_to_b),
            "by_stage": dict(self.by_stage),
            "unmatched_a": len(self.unmatched_a),
            "unmatched_b": len(self.unmatched_b),
            "changed": len(self.changed),
            "schedule_changed": list(self.schedule_changed),
            "module_changes": list(self.module_changes),
        }


# -- the matcher ----------------------------------------------------------------------------


class _Matcher:
    def __init__(self, a: Graph, b: Graph) -> None:
        self.a = a
        self.b = b
        self.ma = [-1] * a.n
        self.mb = [-1] * b.n
        self.stage_of = [0] * a.n
        self.work: deque[tuple[int, int]] = deque()
        self.stage = 0
        self.strict = True
        """Propagate only to instructions with the same op_name and Python line; the loose
        phase (after every keyed stage) also takes shapes and positions alone."""

    def pair(self, x: int, y: int) -> None:
        if self.ma[x] >= 0 or self.mb[y] >= 0:
            return
        self.ma[x] = y
        self.mb[y] = x
        self.stage_of[x] = self.stage
        self.work.append((x, y))

    # -- global stages by unique keys -----------------------------------------------------

    def unique(self, keys_a: list[Hashable | None], keys_b: list[Hashable | None],
               *, equal_counts: bool = False) -> None:
        """Pair nodes whose key occurs once on each side (or, with `equal_counts`, k times
        on each side, in program order)."""
        buckets: dict[Hashable, tuple[list[int], list[int]]] = {}
        ma, mb = self.ma, self.mb
        for x, k in enumerate(keys_a):
            if k is not None and ma[x] < 0:
                buckets.setdefault(k, ([], []))[0].append(x)
        for y, k in enumerate(keys_b):
            if k is not None and mb[y] < 0:
                got = buckets.get(k)
                if got is not None:
                    got[1].append(y)
        for xs, ys in buckets.values():
            if len(xs) == len(ys) and (len(xs) == 1 or equal_counts):
                for x, y in zip(xs, ys, strict=True):
                    self.pair(x, y)

    # -- neighbourhood ----------------------------------------------------------------------

    def propagate(self) -> None:
        saved = self.stage
        self.stage = STAGES.index("neighbourhood")
        a, b, ma, mb = self.a, self.b, self.ma, self.mb
        while self.work:
            x, y = self.work.popleft()
            self._pair_called(x, y)
            ua = [u for u in a.users[x] if ma[u] < 0]
            ub = [u for u in b.users[y] if mb[u] < 0]
            if ua and ub:
                self._match_group(x, y, ua, ub)
            oa, ob = a.operands[x] or a.virtual[x], b.operands[y] or b.virtual[y]
            if len(oa) == len(ob):
                for p, q in zip(oa, ob, strict=True):
                    if not (ma[p] < 0 and mb[q] < 0 and a.ins[p].opcode == b.ins[q].opcode
                            and a.ctx[p] == b.ctx[q]):
                        continue
                    named = a.ins[p].op_name == b.ins[q].op_name and a.src[p] == b.src[q]
                    if named or (not self.strict and a.shape[p] == b.shape[q]):
                        self.pair(p, q)
        self.stage = saved

    def reseed(self) -> None:
        """Queue every pair again (the loose phase revisits what the strict one skipped)."""
        self.work.extend((x, y) for x, y in enumerate(self.ma) if y >= 0)

    def _sig(self, g: Graph, u: int, side_a: bool) -> Hashable:
        ops = g.operands[u] or g.virtual[u]
        if side_a:
            pids = tuple(o if self.ma[o] >= 0 else -1 for o in ops)
        else:
            pids = tuple(self.mb[o] for o in ops)
        ins = g.ins[u]
        return (g.ctx[u], ins.opcode, ins.parameter_number, pids)

    def _levels(self) -> tuple[Callable[[Graph, int, int, bool], Hashable], ...]:
        """Keys for a matched pair's users, strict to loose: with every operand's pair (the
        signature), then by the position the pair takes among the user's operands (the other
        operands may be new, or gone). The strict phase keeps the keys with op_name + line."""

        def pos(g: Graph, u: int, v: int) -> int:
            ops = g.operands[u] or g.virtual[u]
            return ops.index(v) if v in ops else -1

        sig = self._sig
        named = (
            lambda g, u, v, s: (sig(g, u, s), g.shape[u], g.ins[u].op_name, g.src[u],
                                _extra(g.ins[u])),
            lambda g, u, v, s: (sig(g, u, s), g.ins[u].op_name, g.src[u]),
            lambda g, u, v, s: (g.ctx[u], g.ins[u].opcode, pos(g, u, v), g.ins[u].op_name,
                                g.src[u]),
        )
        if self.strict:
            return named
        return (
            *named[:2],
            lambda g, u, v, s: (sig(g, u, s), g.shape[u]),
            lambda g, u, v, s: sig(g, u, s),
            named[2],
            lambda g, u, v, s: (g.ctx[u], g.ins[u].opcode, pos(g, u, v), g.shape[u]),
        )

    def _match_group(self, x: int, y: int, ua: list[int], ub: list[int]) -> None:
        """Pair users of the matched pair (x, y) whose key is alone on both sides."""
        left_a, left_b = ua, ub
        for level in self._levels():
            buckets: dict[Hashable, tuple[list[int], list[int]]] = {}
            for u in left_a:
                buckets.setdefault(level(self.a, u, x, True), ([], []))[0].append(u)
            for u in left_b:
                got = buckets.get(level(self.b, u, y, False))
                if got is not None:
                    got[1].append(u)
            for xs, ys in buckets.values():
                if len(xs) == 1 and len(ys) == 1:
                    self.pair(xs[0], ys[0])
            left_a = [u for u in left_a if self.ma[u] < 0]
            left_b = [u for u in left_b if self.mb[u] < 0]
            if not left_a or not left_b:
                return

    def _pair_called(self, x: int, y: int) -> None:
        """A matched pair's called computations pair up: parameters by number, roots."""
        ia, ib = self.a.ins[x], self.b.ins[y]
        if not ia.called or len(ia.called) != len(ib.called):
            return
        saved = self.stage
        self.stage = STAGES.index("calls")
        for ca, cb in zip(ia.called, ib.called, strict=True):
            comp_a = self.a.module.by_name.get(ca)
            comp_b = self.b.module.by_name.get(cb)
            if comp_a is None or comp_b is None:
                continue
            params_b = {self.b.ins[self.b.ids[(cb, p)]].parameter_number: self.b.ids[(cb, p)]
                        for p in comp_b.parameters if (cb, p) in self.b.ids}
            for p in comp_a.parameters:
                px = self.a.ids.get((ca, p))
                if px is None:
                    continue
                py = params_b.get(self.a.ins[px].parameter_number)
                if py is not None and self.a.shape[px] == self.b.shape[py]:
                    self.pair(px, py)
            ra, rb = self.a.ids.get((ca, comp_a.root)), self.b.ids.get((cb, comp_b.root))
            if (ra is not None and rb is not None
                    and self.a.ins[ra].opcode == self.b.ins[rb].opcode):
                self.pair(ra, rb)
        self.stage = saved

    # -- the whole run ----------------------------------------------------------------------

    def run(self) -> None:
        a, b = self.a, self.b
        structure_a: list[Hashable | None] = list(zip(a.ctx, a.hash, strict=True))
        structure_b: list[Hashable | None] = list(zip(b.ctx, b.hash, strict=True))
        # Strict phase: anchors by keys, spread to neighbours with the same name and line.
        for stage, keys_a, keys_b in (
            ("structure", structure_a, structure_b),
            ("key", a.global_key, b.global_key),
            ("renamed shape", a.name_key, b.name_key),
            ("fusion body", _body_keys(a, a.comp_exact), _body_keys(b, b.comp_exact)),
            ("line", _line_keys(a), _line_keys(b)),
        ):
            self.stage = STAGES.index(stage)
            self.unique(keys_a, keys_b)
            self.propagate()
        # Loose phase: neighbours by shape and position, then what is left in equal numbers.
        self.strict = False
        self.reseed()
        self.propagate()
        for stage, keys_a, keys_b, counts in (
            ("fusion body", _body_keys(a, a.comp_loose), _body_keys(b, b.comp_loose), False),
            ("order", a.global_key, b.global_key, True),
            # Subgraphs repeated on a side (a layer's copies) once their users are known.
            ("structure", structure_a, structure_b, True),
        ):
            self.stage = STAGES.index(stage)
            self.unique(keys_a, keys_b, equal_counts=counts)
            self.propagate()


COMBINED = frozenset(
    """all-reduce all-reduce-start all-gather all-gather-start reduce-scatter all-to-all
    collective-permute collective-permute-start async-start""".split()
)
"""Collectives XLA's combiners merge: their op_name joins those of every op they carry."""


def _line_keys(g: Graph) -> list[Hashable | None]:
    """(context, opcode, Python line) of collectives (the combined gradient all-reduce, whose
    op_name lists every gradient it carries, changes op_name with any gradient)."""
    return [(g.ctx[i], g.ins[i].opcode, g.src[i])
            if g.src[i] and g.ins[i].opcode in COMBINED else None for i in range(g.n)]


def _body_keys(g: Graph, fps: Mapping[str, int]) -> list[Hashable | None]:
    out: list[Hashable | None] = [None] * g.n
    for i, ins in enumerate(g.ins):
        if ins.called and ins.opcode in ("fusion", "call", "async-start", "custom-call"):
            out[i] = (g.ctx[i], ins.opcode, tuple(fps.get(c, 0) for c in ins.called))
    return out


# -- differences of matched pairs -----------------------------------------------------------


def _backend(ins: Instruction) -> str:
    cfg = ins.backend_config
    if isinstance(cfg, dict):
        return json.dumps(cfg, sort_keys=True)
    return ins.backend_config_text or ""


def _groups(ins: Instruction) -> Hashable:
    rg = ins.replica_groups
    return rg.groups if rg is not None else None


def _sharding_text(ins: Instruction) -> str | None:
    if ins.sharding is None:
        return None
    from hloscope.hlo.sharding import format_sharding

    return format_sharding(ins.sharding)


def _sharding_differs(ia: Instruction, ib: Instruction) -> bool:
    if (ia.sharding is None) != (ib.sharding is None):
        return True
    return ia.sharding != ib.sharding and _sharding_text(ia) != _sharding_text(ib)


def _plainly_equal(m: _Matcher, x: int, y: int) -> bool:
    """The common case, fast: every field the same as written (channel ids and backend
    configs written otherwise go to the full comparison)."""
    a, b = m.a, m.b
    ia, ib = a.ins[x], b.ins[y]
    ma = m.ma
    return (ia.opcode == ib.opcode and (ia.shape is ib.shape or ia.shape == ib.shape)
            and ia.attributes == ib.attributes and ia.sharding == ib.sharding
            and ia.replica_groups == ib.replica_groups
            and ia.source_target_pairs == ib.source_target_pairs
            and ia.literal == ib.literal and ia.fusion_kind == ib.fusion_kind
            and ia.backend_config_text == ib.backend_config_text
            and ia.frontend_attributes == ib.frontend_attributes
            and (ia.parameter_number == ib.parameter_number or a.ctx[x] == "entry")
            and len(a.operands[x]) == len(b.operands[y])
            and all(ma[p] == q for p, q in zip(a.operands[x], b.operands[y], strict=True))
            and all(a.comp_exact.get(c, 0) == b.comp_exact.get(d, 1)
                    for c, d in zip(ia.called, ib.called, strict=False))
            and len(ia.called) == len(ib.called))


def _differences(m: _Matcher, x: int, y: int) -> tuple[str, ...]:
    """What differs between a matched pair (names, ids and metadata never do)."""
    if _plainly_equal(m, x, y):
        return ()
    a, b = m.a, m.b
    ia, ib = a.ins[x], b.ins[y]
    ops_a, ops_b = a.operands[x], b.operands[y]
    checks: tuple[tuple[str, Callable[[], bool]], ...] = (
        ("opcode", lambda: ia.opcode != ib.opcode),
        ("shape", lambda: a.shape[x] != b.shape[y]),
        ("layout", lambda: a.shape[x] == b.shape[y] and ia.shape != ib.shape),
        ("sharding", lambda: _sharding_differs(ia, ib)),
        ("groups", lambda: _groups(ia) != _groups(ib)
         or ia.source_target_pairs != ib.source_target_pairs),
        ("attributes", lambda: attributes_of(ia) != attributes_of(ib)),
        ("literal", lambda: ia.literal != ib.literal),
        ("fusion_kind", lambda: ia.fusion_kind != ib.fusion_kind),
        ("operands", lambda: len(ops_a) != len(ops_b)
         or any(m.ma[p] != q for p, q in zip(ops_a, ops_b, strict=False))),
        ("body", lambda: tuple(a.comp_exact.get(c, 0) for c in ia.called)
         != tuple(b.comp_exact.get(c, 0) for c in ib.called)),
        ("backend_config", lambda: _backend(ia) != _backend(ib)),
        ("frontend_attributes", lambda: ia.frontend_attributes != ib.frontend_attributes),
        # Entry parameters are matched by what jax called them; their numbers may shift.
        ("parameter_number", lambda: ia.parameter_number != ib.parameter_number
         and a.ctx[x] != "entry"),
    )
    return tuple(name for name, differs in checks if differs())


def _computation_pairs(m: _Matcher) -> dict[str, str]:
    votes: dict[str, dict[str, int]] = {}
    for x, y in enumerate(m.ma):
        if y >= 0:
            ca, cb = m.a.comp[x].name, m.b.comp[y].name
            row = votes.setdefault(ca, {})
            row[cb] = row.get(cb, 0) + 1
    return {ca: max(row, key=lambda c: row[c]) for ca, row in votes.items()}


def _schedule_changes(m: _Matcher, comps: Mapping[str, str]) -> tuple[str, ...]:
    if not (m.a.module.is_scheduled and m.b.module.is_scheduled):
        return ()
    out: list[str] = []
    for ca, cb in comps.items():
        comp = m.a.module.by_name[ca]
        if comp.role is Role.FUSION:
            continue
        last = -1
        for i in range(m.a.first[ca], m.a.first[ca] + len(comp.instructions)):
            y = m.ma[i]
            if y < 0 or m.b.comp[y].name != cb:
                continue
            if y < last:
                out.append(ca)
                break
            last = y
    return tuple(out)


def _module_changes(a: Module, b: Module) -> tuple[str, ...]:
    out: list[str] = []
    if a.num_partitions != b.num_partitions:
        out.append(f"partitions {a.num_partitions} -> {b.num_partitions}")
    if a.replica_count != b.replica_count:
        out.append(f"replicas {a.replica_count} -> {b.replica_count}")
    alias_a = sorted((x.output_index, x.parameter_number, x.parameter_index, x.kind)
                     for x in a.input_output_alias)
    alias_b = sorted((x.output_index, x.parameter_number, x.parameter_index, x.kind)
                     for x in b.input_output_alias)
    if alias_a != alias_b:
        out.append(f"input/output aliasing ({len(alias_a)} -> {len(alias_b)} aliases)")
    return tuple(out)


def match(a: Module, b: Module) -> Matching:
    """Match the instructions of `a` and `b` (see the module docstring)."""
    return match_graphs(Graph(a), Graph(b))


def match_graphs(ga: Graph, gb: Graph) -> Matching:
    m = _Matcher(ga, gb)
    m.run()
    a_to_b: dict[Ref, Ref] = {}
    changed: list[InstructionChange] = []
    counts = dict.fromkeys(STAGES, 0)
    for x, y in enumerate(m.ma):
        if y < 0:
            continue
        ra = (ga.comp[x].name, ga.ins[x].name)
        rb = (gb.comp[y].name, gb.ins[y].name)
        a_to_b[ra] = rb
        counts[STAGES[m.stage_of[x]]] += 1
        what = _differences(m, x, y)
        if what:
            changed.append(InstructionChange(
                a=ra, b=rb, opcode=ga.ins[x].opcode, what=what, shape_a=ga.shape[x],
                shape_b=gb.shape[y], op_name=ga.ins[x].op_name or gb.ins[y].op_name,
                source=ga.src[x] or gb.src[y]))
    comps = _computation_pairs(m)
    return Matching(
        a_to_b=a_to_b,
        b_to_a={v: k for k, v in a_to_b.items()},
        by_stage={k: v for k, v in counts.items() if v},
        unmatched_a=tuple((ga.comp[x].name, ga.ins[x].name) for x, y in enumerate(m.ma) if y < 0),
        unmatched_b=tuple((gb.comp[y].name, gb.ins[y].name) for y, x in enumerate(m.mb) if x < 0),
        changed=tuple(changed),
        computations=comps,
        schedule_changed=_schedule_changes(m, comps),
        module_changes=_module_changes(ga.module, gb.module),
        instructions_a=ga.n,
        instructions_b=gb.n,
    )
