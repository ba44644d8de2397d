"""Why a collective exists: the instruction its operand comes from, the ones that read its
result, the shardings on each side, and one sentence saying what resharding it performs.

The partitioned program keeps shardings only where jax pinned them (entry parameters and
results, sharding constraints the partitioner left as copies); elsewhere the sentence says
what the collective does to the per-device shape (e.g. `gathers dim 0: 64 → 256 rows`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hloscope.hlo.model import Computation, Instruction, Module, Role, Sharding, ShardingKind

if TYPE_CHECKING:
    from hloscope.passes.sharding_mesh import AxisSpan, MeshView

# Ops that pass a value through without computing on it (walked over to find the real
# producer / consumer).
TRANSPARENT = frozenset(
    {
        "bitcast",
        "copy",
        "reshape",
        "get-tuple-element",
        "transpose",
        "convert",
        "bitcast-convert",
        "copy-start",
        "copy-done",
        "optimization-barrier",
        "tuple",
        "all-gather-done",
        "all-reduce-done",
        "collective-permute-done",
        "async-done",
        "async-update",
        "send-done",
        "recv-done",
        "dynamic-slice",
        "slice",
        "pad",
    }
)
# Inside a fusion, the op that names what the fusion does (first match wins).
_HEROES = (
    "dot",
    "convolution",
    "scatter",
    "gather",
    "sort",
    "reduce-window",
    "reduce",
    "all-gather",
    "all-reduce",
    "custom-call",
)
_MAX_WALK = 64


class Graph:
    """Users and callers of a module, built once per analysis."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self._users: dict[str, Mapping[str, tuple[Instruction, ...]]] = {}
        self.callers: dict[str, list[tuple[Computation, Instruction]]] = {}
        for comp in module.computations:
            for ins in comp.instructions:
                for callee in ins.called:
                    self.callers.setdefault(callee, []).append((comp, ins))

    def users(self, comp: Computation, name: str) -> tuple[Instruction, ...]:
        got = self._users.get(comp.name)
        if got is None:
            acc: dict[str, list[Instruction]] = {}
            for ins in comp.instructions:
                for op in dict.fromkeys(ins.operands):
                    acc.setdefault(op, []).append(ins)
            got = {k: tuple(v) for k, v in acc.items()}
            self._users[comp.name] = got
        return got.get(name, ())

    def caller(self, comp: Computation) -> tuple[Computation, Instruction] | None:
        """The (computation, instruction) that calls a fusion / async body (first caller)."""
        found = self.callers.get(comp.name)
        return found[0] if found else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """An instruction at one side of a collective."""

    name: str
    opcode: str
    what: str
    """`dot (fusion.3)`, `parameter 2 (params['w1'])`, `while (loop-carried)`..."""
    sharding: Sharding | None = None
    op_name: str = ""
    instruction: Instruction | None = None


def describe_op(module: Module, ins: Instruction) -> str:
    """Short words for an instruction: the hero op of a fusion, the target of a custom-call."""
    if ins.opcode == "parameter":
        label = ins.op_name or ""
        return f"parameter {ins.parameter_number}" + (f" ({label})" if label else "")
    if ins.opcode == "fusion" and ins.called:
        body = module.by_name.get(ins.called[0])
        if body is not None:
            ops = {i.opcode for i in body.instructions}
            hero = next((h for h in _HEROES if h in ops), None) or _root_op(body)
            if hero == "custom-call":
                hero = _target(body.root_instruction) or hero
            return f"{hero} ({ins.name})"
    if ins.opcode == "custom-call":
        return f"{_target(ins) or 'custom-call'} ({ins.name})"
    return f"{ins.opcode} ({ins.name})" if ins.opcode not in ins.name else ins.name


def _root_op(body: Computation) -> str:
    """The op a fusion computes: its root, or for a multi-output root the first output that
    does more than move data."""
    root = body.root_instruction
    if root.opcode != "tuple":
        return root.opcode
    for name in root.operands:
        op = body.by_name.get(name)
        if op is not None and op.opcode not in TRANSPARENT and op.opcode != "parameter":
            return op.opcode
    return "tuple"


def _target(ins: Instruction) -> str:
    return (ins.attr("custom_call_target") or "").strip('"')


def producer(graph: Graph, comp: Computation, ins: Instruction) -> Endpoint | None:
    """The instruction operand 0 of `ins` really comes from, walking through pass-through ops
    and out of fusion / async bodies. Keeps the first sharding seen while every step so far
    kept the dimensions as they are (copies, converts, layout changes), so the sharding
    describes the collective's operand dimension for dimension."""
    if not ins.operands:
        return None
    sharding: Sharding | None = None
    same_dims = True
    first = comp.by_name.get(ins.operands[0])
    if first is None:
        return None
    cur_comp, cur = comp, first
    for _ in range(_MAX_WALK):
        if sharding is None and same_dims and cur.sharding is not None:
            sharding = cur.sharding
        nxt = _step_up(graph, cur_comp, cur)
        if nxt is None:
            break
        same_dims = same_dims and _keeps_dims(graph.module, cur)
        cur_comp, cur = nxt
    what = describe_op(graph.module, cur)
    if cur.opcode == "parameter" and cur_comp.role is Role.WHILE_BODY:
        what = f"loop-carried value ({cur.name} of {cur_comp.name})"
    return Endpoint(
        name=cur.name,
        opcode=cur.opcode,
        what=what,
        sharding=sharding,
        op_name=cur.op_name,
        instruction=cur,
    )


def _step_up(
    graph: Graph, comp: Computation, cur: Instruction
) -> tuple[Computation, Instruction] | None:
    """One step towards the real producer, or None when `cur` is it."""
    if cur.opcode == "parameter":
        if comp.role not in (Role.FUSION, Role.ASYNC, Role.CALLED):
            return None
        up = graph.caller(comp)
        if up is None or cur.parameter_number is None:
            return None
        caller_comp, call = up
        if cur.parameter_number >= len(call.operands):
            return None
        src = caller_comp.by_name.get(call.operands[cur.parameter_number])
        return (caller_comp, src) if src is not None else None
    moves = (cur.opcode in TRANSPARENT and cur.opcode != "tuple") or _passes_through(
        graph.module, cur
    )
    if moves and cur.operands:
        src = comp.by_name.get(cur.operands[0])
        return (comp, src) if src is not None else None
    return None


_SAME_DIMS = frozenset(
    {
        "copy",
        "convert",
        "copy-start",
        "copy-done",
        "optimization-barrier",
        "bitcast-convert",
        "parameter",
    }
)


def _keeps_dims(module: Module, ins: Instruction) -> bool:
    """Whether `ins` maps its operand 0 to its result dimension for dimension."""
    if ins.opcode in _SAME_DIMS:
        return True
    if ins.opcode == "fusion" and ins.called:
        body = module.by_name.get(ins.called[0])
        return body is not None and all(i.opcode in _SAME_DIMS for i in body.instructions)
    return False


def consumers(
    graph: Graph, comp: Computation, ins: Instruction, limit: int = 3
) -> tuple[Endpoint, ...]:
    """The first non-pass-through instructions that read `ins`'s result (through -done ops,
    bitcasts, tuples and out of fusion bodies)."""
    out: list[Endpoint] = []
    seen: set[tuple[str, str]] = set()
    stack: list[tuple[Computation, Instruction]] = [(comp, ins)]
    steps = 0
    while stack and len(out) < limit and steps < _MAX_WALK * 4:
        steps += 1
        c, cur = stack.pop()
        users = graph.users(c, cur.name)
        if not users and cur.is_root:
            end = _leave(graph, c, stack)
            if end is not None and end.name not in {e.name for e in out}:
                out.append(end)
            continue
        for u in users:
            key = (c.name, u.name)
            if key in seen:
                continue
            seen.add(key)
            if u.opcode in TRANSPARENT or _passes_through(graph.module, u):
                stack.append((c, u))
            else:
                out.append(
                    Endpoint(
                        name=u.name,
                        opcode=u.opcode,
                        what=describe_op(graph.module, u),
                        sharding=u.sharding,
                        op_name=u.op_name,
                        instruction=u,
                    )
                )
    return tuple(out[:limit])


def _leave(
    graph: Graph, comp: Computation, stack: list[tuple[Computation, Instruction]]
) -> Endpoint | None:
    """A value reached the root of `comp`: continue in the caller, or say where it goes."""
    if comp.is_entry:
        return Endpoint(name="ROOT", opcode="output", what="the program's output")
    up = graph.caller(comp)
    if up is None:
        return None
    if comp.role is Role.WHILE_BODY:
        loop = up[1]
        return Endpoint(
            name=loop.name,
            opcode="while",
            what=f"the next iteration of {loop.name} (loop carry)",
            op_name=loop.op_name,
            instruction=loop,
        )
    stack.append(up)
    return None


# Fusions made only of these move data without computing (copy_bitcast_fusion...).
_MOVES = TRANSPARENT | {"parameter", "broadcast", "concatenate", "pad"}


def _passes_through(module: Module, ins: Instruction) -> bool:
    """TPU `AsyncCollectiveDone` fusions and fusions that only copy / slice / bitcast."""
    if ins.opcode != "fusion" or not ins.called:
        return False
    body = module.by_name.get(ins.called[0])
    if body is None:
        return False
    if _target(body.root_instruction) == "AsyncCollectiveDone":
        return True
    return all(i.opcode in _MOVES for i in body.instructions)


# --- shardings in mesh-axis words --------------------------------------------------------


def dims_label(sharding: Sharding, rank: int, mesh: MeshView) -> tuple[str, ...] | None:
    """Per dimension, the mesh axes that split it (`data`, `(data, model)`, `replicated`);
    None when the sharding does not fit `rank` or names devices outside the mesh."""
    return _dims_label(sharding, rank, mesh)


@lru_cache(maxsize=4096)
def _dims_label(sharding: Sharding, rank: int, mesh: MeshView) -> tuple[str, ...] | None:
    import numpy as np

    from hloscope.hlo.shards import GeometryError, tile_assignment_array

    if sharding.kind in (ShardingKind.REPLICATED, ShardingKind.UNREDUCED):
        return ("replicated",) * rank
    if sharding.kind is not ShardingKind.TILED or sharding.tile_assignment is None:
        return None
    ta = sharding.tile_assignment
    if len(ta.dims) != rank + len(sharding.last_tile_dims) or not mesh.axis_sizes:
        return None
    try:
        arr = tile_assignment_array(ta)
    except GeometryError:
        return None
    flat = arr.reshape(-1)
    if flat.size != mesh.size or flat.max() >= mesh.size:
        return None
    pos = np.stack(np.unravel_index(np.arange(flat.size), ta.dims), axis=1)[:, :rank]
    tile_of = np.empty((mesh.size, rank), dtype=np.int64)
    tile_of[flat] = pos
    grid = tile_of.reshape((*mesh.axis_sizes, rank))
    return tuple(_dim_label(grid[..., d], mesh, ta.dims[d]) for d in range(rank))


def _dim_label(tiles: Any, mesh: MeshView, ways: int) -> str:
    """The axes along which the tile index of one dimension changes (major first: the axis
    that moves it most); `~` when they do not multiply to the dimension's split (a sub-axis
    split, named by its whole axes)."""
    import numpy as np

    axes = []
    for a, name in enumerate(mesh.axis_names):
        diff = np.abs(np.diff(tiles, axis=a))
        if diff.size and diff.max() > 0:
            axes.append((int(diff.max()), name))
    axes.sort(reverse=True)
    names = [n for _, n in axes]
    if not names:
        return "replicated"
    label = names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"
    product = 1
    for n in names:
        product *= mesh.axis_sizes[mesh.axis_names.index(n)]
    return label if product == ways else "~" + label


def format_dims(labels: tuple[str, ...]) -> str:
    return "[" + ", ".join(labels) + "]"


def _without(label: str, axes: tuple[str, ...]) -> str:
    names = [n.strip() for n in label.strip("~()").split(",")] if label != "replicated" else []
    keep = [n for n in names if n not in axes]
    if not keep:
        return "replicated"
    return keep[0] if len(keep) == 1 else "(" + ", ".join(keep) + ")"


def _with(label: str, axes: tuple[str, ...]) -> str:
    names = [n.strip() for n in label.strip("~()").split(",")] if label != "replicated" else []
    names += [a for a in axes if a not in names]
    return names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"


def resharding(
    kind: str, dim: int | None, before: tuple[str, ...] | None, span: AxisSpan
) -> tuple[str, ...] | None:
    """The operand's per-dimension sharding after the collective, when it can be said."""
    if before is None:
        return None
    if kind == "all-gather" and dim is not None and dim < len(before):
        return (*before[:dim], _without(before[dim], span.axes), *before[dim + 1 :])
    if kind == "reduce-scatter" and dim is not None and dim < len(before):
        return (*before[:dim], _with(before[dim], span.axes), *before[dim + 1 :])
    if kind in ("all-reduce", "collective-permute", "collective-broadcast"):
        return before
    return None


def sentence(
    *,
    kind: str,
    span: AxisSpan,
    change: str,
    before: tuple[str, ...] | None,
    after: tuple[str, ...] | None,
    producer: Endpoint | None,
    consumer: Endpoint | None,
    consumer_source: str,
    origin: str,
    producer_source: str = "",
) -> str:
    """`all-gather over `model`: operand sharded [data, model] → [data, replicated] needed by
    dot (fusion.3) at model.py:42`."""
    over = f" over `{span.label}`" if span.axes else ""
    text = f"{kind}{over}: "
    if before is not None and after is not None and kind in ("all-gather", "reduce-scatter"):
        text += f"operand sharded {format_dims(before)} → {format_dims(after)}"
    elif before is not None and kind == "all-reduce" and span.axes:
        text += f"{change} (operand sharded {format_dims(before)}, partial over the group)"
    else:
        text += change
    if producer is not None:
        text += f" from {producer.what}"
        if producer_source and producer.opcode != "parameter":
            text += f" at {producer_source}"
    if consumer is not None:
        text += f", needed by {consumer.what}"
        if consumer_source:
            text += f" at {consumer_source}"
    if origin:
        text += f"; inserted for {origin}"
    return text


def origin_of(op_name: str) -> str:
    """`jit(f)/jvp(block0)/mlp/dot_general` -> `dot_general in jvp(block0)/mlp`: the op jax
    traced that the partitioner (GSPMD or Shardy) made this collective for."""
    parts = _first_path(op_name)
    if parts and parts[0].startswith("jit("):
        parts = parts[1:]
    if not parts:
        return ""
    leaf = parts[-1]
    scope = "/".join(parts[:-1])
    return f"`{leaf}` in {scope}" if scope else f"`{leaf}`"


def _first_path(name: str) -> list[str]:
    """Path parts of an op_name; a merged group `(a/b:c/d)` (XLA joins the names of
    instructions it combined with `:`) contributes its first name."""
    out: list[str] = []
    for part in _top_split(name, "/"):
        if part.startswith("(") and part.endswith(")"):
            out.extend(_first_path(_top_split(part[1:-1], ":")[0]))
        elif part:
            out.append(part)
    return out


def _top_split(text: str, sep: str) -> list[str]:
    """Split at `sep` outside parentheses (`jvp(f/g)/h` -> ['jvp(f/g)', 'h'])."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def to_json_endpoint(e: Endpoint | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"name": e.name, "opcode": e.opcode, "what": e.what, "op_name": e.op_name}
