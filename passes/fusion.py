"""Kernels: what each fusion holds, where it came from in Python, and what moves between them.

`run(module, cost=None) -> FusionReport`. A kernel is a fusion instruction or a
compute instruction XLA left unfused, in a computation that runs as a program step (the entry,
while bodies and conditions, conditional branches, called computations). Control flow
(while/conditional/call) is not a kernel: its bodies' kernels are. An async start/done pair is
one kernel (the start, costed with its wrapped computation); the done adds no kernel.

Costs are XLA's (from `passes/cost.py`, derived); `count` is how often the kernel runs per step.
Which StableHLO ops each kernel holds is a separate report (`passes/stablehlo_links.py`): it
needs the StableHLO parsed, which costs seconds on a large program, and only faces that list
StableHLO ops want it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hloscope.hlo.model import Computation, Instruction, Module, Shape
from hloscope.hlo.shapes import format_shape as hlo_format_shape
from hloscope.hlo.source import SourceLoc, scope_parts, source_of
from hloscope.passes.cost_rules import (
    ELEMENTWISE_FLOPS,
    ELEMENTWISE_TRANSCENDENTAL,
    leaf_bytes,
    shape_size,
)

if TYPE_CHECKING:
    from hloscope.passes.cost import CostReport

COLLECTIVES = frozenset(
    """all-gather all-gather-start all-reduce all-reduce-start all-to-all collective-broadcast
    collective-permute collective-permute-start ragged-all-to-all reduce-scatter send
    recv""".split()
)
DONE_OPS = frozenset(
    """all-gather-done all-reduce-done async-done async-update collective-permute-done copy-done
    send-done recv-done""".split()
)
NOT_KERNELS = frozenset(
    """parameter constant get-tuple-element tuple bitcast after-all add-dependency domain
    opt-barrier while conditional call partition-id replica-id""".split()
) | DONE_OPS
"""Instructions that emit no kernel of their own (or whose work is counted elsewhere)."""

TRANSPARENT = frozenset("get-tuple-element bitcast tuple opt-barrier".split())
"""Forwarding instructions seen through when tracing values between kernels."""

DATA_MOVEMENT = frozenset(
    """copy copy-start transpose broadcast reshape dynamic-reshape slice dynamic-slice
    dynamic-update-slice concatenate pad gather scatter reverse iota bitcast parameter constant
    tuple get-tuple-element""".split()
)
ELEMENTWISE = ELEMENTWISE_FLOPS | ELEMENTWISE_TRANSCENDENTAL
REDUCTIONS = frozenset("reduce reduce-window select-and-scatter reduce-precision".split()) - {
    "reduce-precision"
}
MATMULS = frozenset("dot ragged-dot scaled-dot".split())

CATEGORIES = ("matmul", "convolution", "elementwise", "reduction", "data movement",
              "collective", "other")

SourceFn = Callable[[Module, Instruction], "SourceLoc | None"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Port:
    """One input or output of a kernel."""

    name: str
    """Input: the producing instruction. Output: the kernel name, with `{i}` for tuple leaves."""
    shape: str
    """`f32[8,128]`; tuples as `(f32[8], s32[])`."""
    bytes: int
    """Bytes of the whole value (every leaf of a tuple)."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "shape": self.shape, "bytes": self.bytes}


@dataclass(frozen=True, slots=True, kw_only=True)
class Kernel:
    name: str
    kind: str
    """`kLoop`, `kInput`, `kOutput`, `kCustom` for fusions; `unfused` for a lone instruction;
    `async` for an async-start."""
    backend_kind: str
    """The backend's own kind from backend_config: `__ynn_fusion` (XLA:CPU YNNPACK),
    `__triton_gemm`, `__triton_nested_gemm_fusion`, `__cudnn$fusion`...; "" when none."""
    computation: str
    opcode: str
    """The kernel instruction's opcode (`fusion`, `dot`, `all-reduce-start`, ...)."""
    opcodes: tuple[str, ...]
    """Distinct opcodes of what it computes, in order of first appearance (no parameters)."""
    fused: tuple[str, ...]
    """Names of the instructions inside (the fused or wrapped computation; itself if unfused)."""
    root_opcode: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    flops: float
    transcendentals: float
    bytes_accessed: float
    """XLA's cost of the kernel instruction (bytes at the fusion boundary)."""
    count: int
    """Executions per step (trip counts of enclosing loops)."""
    sources: tuple[str, ...]
    """`file:line` of every instruction inside (innermost Python frame), first seen first."""
    scopes: tuple[str, ...]
    """Distinct op_name scopes (`jit(f)/layer1`) of the instructions inside, first seen first.
    Names XLA gives ops it creates (`broadcast.22`, no scope) are left out; an op_name a
    combiner joined (`jit(f)/(a/dot:b/dot)`) gives the scope of each op it joins."""
    dtype: str
    """Element type that sets its peak: a matmul's or convolution's operand type, else the
    result's."""
    category: str
    """matmul, convolution, elementwise, reduction, data movement, collective or other."""
    primary_source: str = ""
    """The line charged with this kernel's bytes and time: the line of its costliest
    instruction by flops, else of its root."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "backend_kind": self.backend_kind,
            "computation": self.computation, "opcode": self.opcode,
            "opcodes": list(self.opcodes), "fused": list(self.fused),
            "root_opcode": self.root_opcode,
            "inputs": [p.to_json() for p in self.inputs],
            "outputs": [p.to_json() for p in self.outputs],
            "flops": self.flops, "transcendentals": self.transcendentals,
            "bytes_accessed": self.bytes_accessed, "count": self.count,
            "source": self.primary_source, "sources": list(self.sources),
            "scopes": list(self.scopes), "dtype": self.dtype, "category": self.category,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MissedFusion:
    """An elementwise instruction left unfused next to kernels: its result goes through
    memory although a fusion could have kept it in registers."""

    name: str
    opcode: str
    computation: str
    bytes_accessed: float
    producers: tuple[str, ...]
    """Kernels it reads from."""
    consumers: tuple[str, ...]
    """Kernels reading it."""
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "opcode": self.opcode, "computation": self.computation,
                "bytes_accessed": self.bytes_accessed, "producers": list(self.producers),
                "consumers": list(self.consumers), "source": self.source}


@dataclass(frozen=True, slots=True, kw_only=True)
class LineCost:
    """Totals charged to one Python line, per step (counts applied)."""

    source: str
    function: str = ""
    """The Python function holding the line (innermost frame)."""
    flops: float = 0.0
    """Flops of every instruction made by this line (fused or not), exact."""
    transcendentals: float = 0.0
    bytes_accessed: float = 0.0
    """Bytes of the kernels whose primary line this is."""
    kernels: tuple[str, ...] = ()
    """Kernels with an instruction from this line."""

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "function": self.function, "flops": self.flops,
                "transcendentals": self.transcendentals, "bytes_accessed": self.bytes_accessed,
                "kernels": list(self.kernels)}


@dataclass(frozen=True, slots=True, kw_only=True)
class FusionReport:
    kernels: tuple[Kernel, ...]
    """In program order: computations callers first, instructions in schedule order."""
    bytes_between_kernels: float
    """Bytes written by a kernel and read back by another (the write once, plus each read),
    per step."""
    missed_fusions: tuple[MissedFusion, ...]
    by_source: Mapping[str, LineCost]
    """`file:line` -> totals; `?` collects instructions without a source line."""
    by_category: Mapping[str, int] = field(default_factory=dict)
    """Kernel count per category."""

    @property
    def kernel_count(self) -> int:
        return len(self.kernels)

    @property
    def executed_kernel_count(self) -> int:
        return sum(k.count for k in self.kernels)

    def largest(self, n: int = 10, *, by: str = "bytes_accessed") -> tuple[Kernel, ...]:
        """Top kernels by `bytes_accessed`, `flops` or `transcendentals` per step."""
        return tuple(sorted(self.kernels, key=lambda k: -getattr(k, by) * k.count)[:n])

    def kernel(self, name: str) -> Kernel:
        for k in self.kernels:
            if k.name == name:
                return k
        raise KeyError(name)

    def to_json(self, *, top: int | None = None) -> dict[str, Any]:
        kernels = self.kernels if top is None else self.largest(top)
        return {
            "provenance": "derived: kernels of the optimized HLO, XLA's cost per kernel",
            "kernel_count": self.kernel_count,
            "executed_kernel_count": self.executed_kernel_count,
            "bytes_between_kernels": self.bytes_between_kernels,
            "by_category": dict(self.by_category),
            "kernels": [k.to_json() for k in kernels],
            "missed_fusions": [m.to_json() for m in self.missed_fusions],
            "by_source": {k: v.to_json() for k, v in self.by_source.items()},
        }


# -- helpers -----------------------------------------------------------------------------------


_FORMATTED: dict[int, tuple[Shape, str]] = {}


def format_shape(shape: Shape) -> str:
    """`f32[8,<=16]` / `(f32[8], s32[])`, without layouts. Cached by identity like
    `cost_rules.shape_size`."""
    hit = _FORMATTED.get(id(shape))
    if hit is not None and hit[0] is shape:
        return hit[1]
    text = hlo_format_shape(shape, layout=False)
    if len(_FORMATTED) > 1 << 17:
        _FORMATTED.clear()
    _FORMATTED[id(shape)] = (shape, text)
    return text


def value_bytes(shape: Shape) -> int:
    """Bytes of every leaf of a value (not XLA's pointer-table size for tuples)."""
    n: int = leaf_bytes(shape)
    return n


def _first_array(shape: Shape) -> Shape | None:
    for _, leaf in shape.leaves():
        if leaf.is_array:
            return leaf
    return None


_RESULT_INDEX = {"async-start": 1, "all-gather-start": 1, "collective-permute-start": 1,
                 "copy-start": 0}


def result_shape(ins: Instruction) -> Shape:
    """What a kernel produces: for a start whose shape also carries its operands and
    context (async-start, all-gather-start, ...), the result element."""
    i = _RESULT_INDEX.get(ins.opcode)
    if i is not None and ins.shape.is_tuple and len(ins.shape.tuple_shapes) > i:
        return ins.shape.tuple_shapes[i]
    return ins.shape


def backend_kind(ins: Instruction) -> str:
    cfg = ins.backend_config
    if not isinstance(cfg, dict):
        return ""
    for key in ("fusion_backend_config", "fusion_config"):
        sub = cfg.get(key)
        if isinstance(sub, dict) and isinstance(sub.get("kind"), str):
            return str(sub["kind"])
    return ""


def kernel_computations(module: Module) -> list[str]:
    """Computations that run as program steps, callers first (entry, while parts, branches,
    calls), following only control-flow edges."""
    order: list[str] = []
    seen = {module.entry}
    stack = [module.entry]
    while stack:
        name = stack.pop()
        order.append(name)
        for ins in module.by_name[name].instructions:
            if ins.opcode in ("while", "conditional", "call"):
                for c in ins.called:
                    if c not in seen and c in module.by_name:
                        seen.add(c)
                        stack.append(c)
    return order


def _inner(module: Module, ins: Instruction) -> list[tuple[Computation, Instruction]]:
    """What a kernel computes: the fused/wrapped computations' instructions (nested fusions
    included, parameters excluded), else the instruction itself."""
    if ins.opcode not in ("fusion", "async-start") or not ins.called:
        return []
    out: list[tuple[Computation, Instruction]] = []
    stack = [ins.called[0]]
    seen: set[str] = set()
    while stack:
        cname = stack.pop()
        if cname in seen or cname not in module.by_name:
            continue
        seen.add(cname)
        comp = module.by_name[cname]
        for inner in comp.instructions:
            if inner.opcode == "parameter":
                continue
            out.append((comp, inner))
            if inner.opcode in ("fusion", "async-start") and inner.called:
                stack.append(inner.called[0])
    return out


def members(module: Module, kernel: Kernel) -> list[tuple[Computation, Instruction]]:
    """(computation, instruction) of what a kernel computes: the instructions of its fused or
    wrapped computations (parameters excluded), else the kernel instruction itself. Empty
    when the module holds no such kernel."""
    comp = module.by_name.get(kernel.computation)
    ins = comp.by_name.get(kernel.name) if comp is not None else None
    if comp is None or ins is None:
        return []
    return _inner(module, ins) or [(comp, ins)]


def categorize(opcode: str, opcodes: Iterable[str], custom_targets: Iterable[str] = ()) -> str:
    """The kernel's category from its own opcode and what it computes (`opcodes`)."""
    ops = set(opcodes)
    if not ops or opcode not in ("fusion", "async-start"):
        ops.add(opcode)
    targets = " ".join(custom_targets).lower()
    if ops & COLLECTIVES:
        return "collective"
    if "convolution" in ops or "conv" in targets:
        return "convolution"
    if ops & MATMULS or "gemm" in targets or "matmul" in targets:
        return "matmul"
    if ops & REDUCTIONS:
        return "reduction"
    if ops & ELEMENTWISE:
        return "elementwise"
    if ops <= DATA_MOVEMENT:
        return "data movement"
    return "other"


def _dtype(comp: Computation, ins: Instruction, inner: list[tuple[Computation, Instruction]]
           ) -> str:
    for c, i in inner or [(comp, ins)]:
        if i.opcode in MATMULS or i.opcode == "convolution":
            return c.by_name[i.operands[0]].shape.element_type
    leaf = _first_array(result_shape(ins))
    return leaf.element_type if leaf is not None else ins.shape.element_type


def memo_source_of() -> SourceFn:
    """`hloscope.hlo.source.source_of`, remembered per metadata location: it walks the whole
    stack-frame chain on every call, and a 100k-instruction program has a few dozen distinct
    locations (2 s of the kernel pass before). Relies on source_of reading only the
    metadata's location fields."""
    memo: dict[tuple[int, str, int, int], SourceLoc | None] = {}

    def where(module: Module, ins: Instruction) -> SourceLoc | None:
        md = ins.metadata
        if md is None:
            return None
        key = (md.stack_frame_id, md.source_file, md.source_line, md.source_column)
        if key in memo:
            return memo[key]
        found = memo[key] = source_of(module, ins)
        return found

    return where


def _where(src: SourceLoc | None) -> str:
    return f"{src.file}:{src.line}" if src is not None and src.file else ""


@lru_cache(maxsize=1 << 16)
def scopes_of(op_name: str) -> tuple[str, ...]:
    """The name scopes an op_name names, without the op: `jit(f)/layer1/dot_general` ->
    (`jit(f)/layer1`,), as `hloscope.hlo.source.scope` splits it. None for a bare name: XLA
    names ops it creates after themselves (`broadcast.22`). A combiner's joined name
    `jit(f)/(a/dot_general:b/add)` gives the scope of each op it joins: (`jit(f)/a`,
    `jit(f)/b`)."""
    if "/" not in op_name:
        return ()
    joined = _joined(op_name)
    if joined is not None:
        prefix, parts = joined
        return tuple(dict.fromkeys(s for part in parts for s in scopes_of(prefix + part)))
    path = scope_parts(op_name)
    return ("/".join(path[:-1]),) if len(path) > 1 else ()


def _joined(op_name: str) -> tuple[str, list[str]] | None:
    """`jit(f)/(a/x:b/y)` -> (`jit(f)/`, [`a/x`, `b/y`]): the op_name XLA's combiners give a
    collective they merged (`:` between the ops' own names, in a group after the common
    prefix). None for any other name (`jit(f)/jvp(block0)/dot` is one scope)."""
    if not op_name.endswith(")") or ":" not in op_name:
        return None
    start = _group_start(op_name)
    if start < 0 or (start > 0 and op_name[start - 1] != "/"):
        return None
    parts = _split_top_level(op_name[start + 1 : -1], ":")
    return (op_name[:start], parts) if len(parts) > 1 else None


def _group_start(text: str) -> int:
    """Index of the `(` matching the closing `)` that ends `text`; -1 when unbalanced."""
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split_top_level(text: str, sep: str) -> list[str]:
    """`text` cut at each `sep` outside parentheses."""
    parts: list[str] = []
    depth, begin = 0, 0
    for j, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[begin:j])
            begin = j + 1
    parts.append(text[begin:])
    return parts


# -- the pass ----------------------------------------------------------------------------------


class _Builder:
    def __init__(self, module: Module, cost: CostReport, source_of: SourceFn) -> None:
        self.module = module
        self.cost = cost
        self.source_of = source_of
        self._src_cache: dict[tuple[str, str], SourceLoc | None] = {}
        self.functions: dict[str, str] = {}
        self.lines: dict[str, list[Any]] = {}
        """line -> [flops, transcendentals, bytes, {kernel: None}] (per step)."""

    def loc(self, comp: Computation, ins: Instruction) -> SourceLoc | None:
        """The instruction's SourceLoc (None when it has none)."""
        key = (comp.name, ins.name)
        if key not in self._src_cache:
            src = self.source_of(self.module, ins)
            self._src_cache[key] = src
            if src is not None and src.file:
                self.functions.setdefault(_where(src), src.function)
        return self._src_cache[key]

    def source(self, comp: Computation, ins: Instruction) -> str:
        return _where(self.loc(comp, ins))

    def kernel(self, comp: Computation, ins: Instruction) -> Kernel:
        inner = _inner(self.module, ins)
        members = inner or [(comp, ins)]
        cost = self.cost.cost_of(ins.name, comp.name)
        opcodes = tuple(dict.fromkeys(i.async_wrapped_opcode or i.opcode for _, i in members))
        sources: dict[str, None] = {}
        scopes: dict[str, None] = {}
        best_line, best_flops = "", -1.0
        count = self.cost.counts.get(comp.name, 1)
        for c, i in members:
            line = self.source(c, i)
            own = self.cost.cost_of(i.name, c.name)
            if line:
                sources.setdefault(line)
                if own.flops > best_flops:
                    best_line, best_flops = line, own.flops
            if i.op_name:
                for scope in scopes_of(i.op_name):
                    scopes.setdefault(scope)
            if i.opcode not in ("fusion", "async-start") or i is ins:
                # Flops to the line that made each instruction (a nested kernel's flops are
                # its members'; an unfused start is its own member).
                self._charge(line, ins.name, own.flops * count, own.transcendentals * count)
        root_comp, root = comp, ins
        if inner:
            root_comp = self.module.by_name[ins.called[0]]
            root = root_comp.root_instruction
        if best_flops <= 0:
            best_line = self.source(root_comp, root) or self.source(comp, ins) or best_line
        targets = [i.attr("custom_call_target") or "" for _, i in members
                   if i.opcode == "custom-call"]
        kind = ins.fusion_kind or ("async" if ins.opcode == "async-start" else "unfused")
        self._charge(best_line, ins.name, 0.0, 0.0, cost.bytes_accessed * count)
        return Kernel(
            name=ins.name,
            kind=kind,
            backend_kind=backend_kind(ins),
            computation=comp.name,
            opcode=ins.opcode,
            opcodes=opcodes,
            fused=tuple(i.name for _, i in members),
            root_opcode=root.opcode,
            inputs=tuple(
                Port(name=o, shape=format_shape(comp.by_name[o].shape),
                     bytes=value_bytes(comp.by_name[o].shape))
                for o in ins.operands
            ),
            outputs=tuple(
                Port(name=ins.name + ("{" + ",".join(map(str, idx)) + "}" if idx else ""),
                     shape=format_shape(leaf), bytes=shape_size(leaf))
                for idx, leaf in result_shape(ins).leaves()
            ),
            flops=cost.flops,
            transcendentals=cost.transcendentals,
            bytes_accessed=cost.bytes_accessed,
            count=self.cost.counts.get(comp.name, 1),
            sources=tuple(sources),
            scopes=tuple(scopes),
            dtype=_dtype(comp, ins, inner),
            category=categorize(ins.opcode, opcodes, targets),
            primary_source=best_line,
        )

    def _charge(self, line: str, kernel: str, flops: float, transcendentals: float,
                bytes_accessed: float = 0.0) -> None:
        slot = self.lines.get(line or "?")
        if slot is None:
            slot = self.lines[line or "?"] = [0.0, 0.0, 0.0, {}]
        slot[0] += flops
        slot[1] += transcendentals
        slot[2] += bytes_accessed
        slot[3][kernel] = None

    def line_totals(self) -> dict[str, LineCost]:
        """Flops of every instruction to its own line; kernel bytes to the kernel's primary
        line. Both per step (x counts)."""
        return {
            line: LineCost(source=line, function=self.functions.get(line, ""), flops=v[0],
                           transcendentals=v[1], bytes_accessed=v[2], kernels=tuple(v[3]))
            for line, v in sorted(self.lines.items(), key=lambda kv: -kv[1][0])
        }


def _resolve(comp: Computation, name: str, kernels: set[str]) -> list[str]:
    """Kernels whose output reaches `name` through forwarding instructions."""
    if name in kernels:
        return [name]
    first = comp.by_name.get(name)
    if first is None or (first.opcode not in TRANSPARENT and first.opcode not in DONE_OPS):
        return []
    out: list[str] = []
    stack = [name]
    seen: set[str] = set()
    while stack:
        n = stack.pop()
        if n in seen or n not in comp.by_name:
            continue
        seen.add(n)
        if n in kernels:
            out.append(n)
            continue
        ins = comp.by_name[n]
        if ins.opcode in TRANSPARENT or ins.opcode in DONE_OPS:
            stack.extend(ins.operands)
    return out


def run(module: Module, cost: CostReport | None = None, *,
        source_of: SourceFn | None = None) -> FusionReport:
    """Kernels of `module` (see the module docstring). `cost` is computed when not given."""
    if cost is None:
        from hloscope.passes import cost as cost_pass

        cost = cost_pass.run(module)
    builder = _Builder(module, cost, source_of or memo_source_of())
    kernels: list[Kernel] = []
    between = 0.0
    missed: list[MissedFusion] = []
    for cname in kernel_computations(module):
        comp = module.by_name[cname]
        names = {i.name for i in comp.instructions if i.opcode not in NOT_KERNELS}
        users, moved = _kernel_edges(comp, names)
        between += moved * cost.counts.get(cname, 1)
        kernels.extend(builder.kernel(comp, i) for i in comp.instructions if i.name in names)
        missed.extend(_missed(comp, names, users, cost, builder))
    by_category: dict[str, int] = {}
    for k in kernels:
        by_category[k.category] = by_category.get(k.category, 0) + 1
    return FusionReport(
        kernels=tuple(kernels),
        bytes_between_kernels=between,
        missed_fusions=tuple(missed),
        by_source=builder.line_totals(),
        by_category=by_category,
    )


def _kernel_edges(comp: Computation, names: set[str]) -> tuple[dict[str, list[str]], float]:
    """Kernel -> kernels reading it, and the bytes they move through memory per run of the
    computation (each producer's value written once, read once per consumer)."""
    users: dict[str, list[str]] = {}
    produced: set[str] = set()
    moved = 0.0
    for ins in comp.instructions:
        if ins.name not in names:
            continue
        for o in ins.operands:
            for producer in _resolve(comp, o, names):
                users.setdefault(producer, []).append(ins.name)
                moved += value_bytes(comp.by_name[o].shape)
                if producer not in produced:
                    produced.add(producer)
                    moved += value_bytes(result_shape(comp.by_name[producer]))
    return users, moved


def _missed(comp: Computation, names: set[str], users: Mapping[str, list[str]],
            cost: CostReport, builder: _Builder) -> list[MissedFusion]:
    out: list[MissedFusion] = []
    for ins in comp.instructions:
        if ins.name not in names or ins.opcode not in ELEMENTWISE:
            continue
        producers = tuple(dict.fromkeys(
            p for o in ins.operands for p in _resolve(comp, o, names) if p != ins.name))
        consumers = tuple(dict.fromkeys(users.get(ins.name, ())))
        if producers or consumers:
            out.append(MissedFusion(
                name=ins.name, opcode=ins.opcode, computation=comp.name,
                bytes_accessed=cost.cost_of(ins.name, comp.name).bytes_accessed,
                producers=producers, consumers=consumers, source=builder.source(comp, ins),
            ))
    return out
