"""Every collective of the partitioned program: its groups and the mesh axes they span, the
bytes each device sends and receives, an estimated time on the chosen hardware's links, how
many times it runs per step, where it comes from in the Python source, and why it exists.

Counting: an async pair (`all-gather-start`/`-done`, `async-start` wrapping a collective,
TPU's `AsyncCollectiveStart`/`AsyncCollectiveDone` fusions, `send`/`recv` of one channel) is
one collective. `count` is executions per step: while bodies times their known trip count.

Bytes are per participating device per execution (see `sharding_cost` for the algorithm per
kind); `total_bytes` multiplies by `count`. Times are estimates (labelled so) over the
hardware entry's links: `inter` (across hosts or slices) when a group spans more than one,
`intra` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hloscope.hlo.model import Computation, Instruction, Module, Role
from hloscope.passes import sharding_cost, sharding_why
from hloscope.passes.sharding_mesh import (
    AxisSpan,
    MeshView,
    mesh_for,
    span_of_groups,
    span_of_pairs,
)
from hloscope.passes.sharding_values import ShardedValue, sharded_values

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from hloscope.hardware import Hardware, Link
    from hloscope.records import MeshInfo, ShardingInfo, TargetInfo

    IntArray = npt.NDArray[np.int64]
else:
    IntArray = Any

KINDS = (
    "all-reduce",
    "all-gather",
    "reduce-scatter",
    "all-to-all",
    "ragged-all-to-all",
    "collective-permute",
    "collective-broadcast",
    "send",
    "recv",
)
_KIND_SET = frozenset(KINDS)
_REDUCERS = {
    "add": "sums",
    "maximum": "takes the max of",
    "minimum": "takes the min of",
    "multiply": "multiplies",
    "and": "ANDs",
    "or": "ORs",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Collective:
    """One collective of the partitioned program."""

    name: str
    """The instruction the schedule runs (the kernel): the collective itself, its `-start`,
    the `async-start`, or TPU's async-collective fusion."""
    instruction: str
    """The collective instruction (inside the wrapper when there is one)."""
    computation: str
    """Computation holding `name`."""
    kind: str
    """`all-gather`, `all-reduce`, ... (no `-start`)."""
    opcode: str
    is_async: bool
    axes: tuple[str, ...]
    """Mesh axes the groups (or permute pairs) span, mesh order."""
    axes_label: str
    """`model`, `data+model`, a sub-axis `data:(1)4`; `~` marks a group that is not a clean
    product of axis pieces; `-` for none."""
    group_size: int
    """Devices per group (permutes: devices in each connected ring / chain)."""
    num_groups: int
    groups: tuple[tuple[int, ...], ...] = field(repr=False)
    """Logical device ids of each group; empty for permutes and send/recv."""
    pairs: tuple[tuple[int, int], ...] = field(repr=False)
    """(source, target) logical ids for permutes and send/recv."""
    mode: str
    """How ids are read: `global ids`, `cross-partition`, `cross-replica`."""
    in_bytes: int
    """Operand bytes on one device (all operands)."""
    out_bytes: int
    """Result bytes on one device."""
    bytes_per_device: float
    """Bytes each participating device sends per execution (the algorithm's model)."""
    sent_bytes: float
    received_bytes: float
    count: int
    """Executions per step (× trip counts of enclosing loops)."""
    total_bytes: float
    """`bytes_per_device × count`: sent per device per step."""
    algorithm: str
    formula: str
    """The time model, symbolic."""
    exact: bool = True
    """False when bytes are modelled from data-dependent sizes (ragged-all-to-all)."""
    estimate: str | None = None
    """The formula with this hardware's numbers."""
    estimated_s: float | None = None
    """Estimated seconds for one execution (None without hardware or links)."""
    total_s: float | None = None
    """`estimated_s × count`."""
    link: str | None = None
    link_scope: str | None = None
    source: str = ""
    """`file:line` of the Python line that made it, the full path as jax recorded it (the
    convention of every report; faces shorten it to the file's name)."""
    source_file: str = ""
    source_line: int = 0
    op_name: str = ""
    why: str = ""
    operand_from: sharding_why.Endpoint | None = field(default=None, repr=False)
    serves: tuple[sharding_why.Endpoint, ...] = field(default=(), repr=False)
    sharding_before: str | None = None
    sharding_after: str | None = None
    dimension: int | None = None
    channel_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "instruction": self.instruction,
            "computation": self.computation,
            "kind": self.kind,
            "opcode": self.opcode,
            "async": self.is_async,
            "axes": list(self.axes),
            "axes_label": self.axes_label,
            "group_size": self.group_size,
            "num_groups": self.num_groups,
            "mode": self.mode,
            "in_bytes": self.in_bytes,
            "out_bytes": self.out_bytes,
            "bytes_per_device": self.bytes_per_device,
            "sent_bytes": self.sent_bytes,
            "received_bytes": self.received_bytes,
            "count": self.count,
            "total_bytes": self.total_bytes,
            "algorithm": self.algorithm,
            "formula": self.formula,
            "exact": self.exact,
            "estimate": self.estimate,
            "estimated_s": self.estimated_s,
            "total_s": self.total_s,
            "link": self.link,
            "link_scope": self.link_scope,
            "source": self.source,
            "source_file": self.source_file,
            "source_line": self.source_line,
            "op_name": self.op_name,
            "why": self.why,
            "operand_from": sharding_why.to_json_endpoint(self.operand_from),
            "serves": [sharding_why.to_json_endpoint(e) for e in self.serves],
            "sharding_before": self.sharding_before,
            "sharding_after": self.sharding_after,
            "dimension": self.dimension,
            "channel_id": self.channel_id,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AxisTotals:
    """Collectives over one mesh-axis label, per device per step."""

    axes_label: str
    count: int
    sent_bytes: float
    estimated_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "axes": self.axes_label,
            "count": self.count,
            "sent_bytes": self.sent_bytes,
            "estimated_s": self.estimated_s,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardingReport:
    mesh: MeshView
    num_devices: int
    collectives: tuple[Collective, ...]
    by_axis: Mapping[str, AxisTotals]
    by_kind: Mapping[str, int]
    """Collectives of each kind (instructions, not executions)."""
    hardware: str | None
    total_bytes: float
    """Σ total_bytes: sent per device per step (a device in every group)."""
    total_s: float | None
    values: tuple[ShardedValue, ...] = ()
    """The entry's parameters and outputs with their shardings."""
    notes: tuple[str, ...] = ()
    estimate: bool = True
    """Times are estimates over hardware specs, not measurements."""

    def to_json(self) -> dict[str, Any]:
        return {
            "mesh": self.mesh.to_json(),
            "values": [v.to_json() for v in self.values],
            "num_devices": self.num_devices,
            "hardware": self.hardware,
            "estimate": self.estimate,
            "total_bytes": self.total_bytes,
            "total_s": self.total_s,
            "by_kind": dict(self.by_kind),
            "by_axis": {k: v.to_json() for k, v in self.by_axis.items()},
            "collectives": [c.to_json() for c in self.collectives],
            "notes": list(self.notes),
        }


# --- finding collectives -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Found:
    comp: Computation
    """Computation of the scheduled instruction."""
    anchor: Instruction
    """The scheduled instruction (counted, read by users)."""
    inner_comp: Computation
    inner: Instruction
    """The collective instruction (shapes, groups, metadata)."""
    kind: str


def _kind_of(opcode: str) -> str | None:
    base = opcode[: -len("-start")] if opcode.endswith("-start") else opcode
    return base if base in _KIND_SET else None


def find_collectives(module: Module) -> list[_Found]:
    """Every collective once, with the instruction the schedule runs."""
    found: list[_Found] = []
    sends = {i.attr("channel_id") for _, i in module.instructions() if i.opcode == "send"}
    callers: dict[str, tuple[Computation, Instruction]] = {}
    for comp in module.computations:
        for ins in comp.instructions:
            for callee in ins.called:
                callers.setdefault(callee, (comp, ins))
    # TPU async collective chains: the start fusion's collective is the one; its clones in
    # the continuation / done fusions (same channel) are the same transfer.
    started = {
        (_kind_of(i.opcode), i.attr("channel_id"))
        for c in module.computations
        if c.role is Role.FUSION and _is_start_body(c)
        for i in c.instructions
        if _kind_of(i.opcode)
    }
    for comp in module.computations:
        if comp.role is Role.ASYNC or _is_done_body(comp):
            continue  # reached through their async-start / start fusion
        chained = comp.role is Role.FUSION and not _is_start_body(comp)
        for ins in comp.instructions:
            if chained and (_kind_of(ins.opcode), ins.attr("channel_id")) in started:
                continue
            f = _classify(module, comp, ins, sends, callers)
            if f is not None:
                found.append(f)
    return found


def count_by_kind(module: Module) -> dict[str, int]:
    """Collectives by kind as `run` counts them (`ShardingReport.by_kind`), in `KINDS` order,
    from the finding step alone: milliseconds, no hardware (the `dump` summary's figure)."""
    counts: dict[str, int] = {}
    for f in find_collectives(module):
        counts[f.kind] = counts.get(f.kind, 0) + 1
    return {kind: counts[kind] for kind in KINDS if kind in counts}


def _classify(
    module: Module,
    comp: Computation,
    ins: Instruction,
    sends: set[str | None],
    callers: Mapping[str, tuple[Computation, Instruction]],
) -> _Found | None:
    kind = _kind_of(ins.opcode)
    if kind is not None:
        if kind == "recv" and ins.attr("channel_id") in sends:
            return None  # the send of the same channel is the transfer
        if comp.role is Role.FUSION and _is_start_body(comp) and comp.name in callers:
            up = callers[comp.name]
            return _Found(up[0], up[1], comp, ins, kind)
        return _Found(comp, ins, comp, ins, kind)
    if ins.opcode == "async-start" and ins.called:
        body = module.by_name.get(ins.called[0])
        if body is not None:
            root = body.root_instruction
            inner_kind = _kind_of(root.opcode)
            if inner_kind is not None:
                return _Found(comp, ins, body, root, inner_kind)
    return None


def _target(ins: Instruction) -> str:
    return (ins.attr("custom_call_target") or "").strip('"')


def _is_start_body(comp: Computation) -> bool:
    return _target(comp.root_instruction) == "AsyncCollectiveStart"


def _is_done_body(comp: Computation) -> bool:
    return comp.role is Role.FUSION and _target(comp.root_instruction) == "AsyncCollectiveDone"


# --- groups ---------------------------------------------------------------------------------


def _mode(ins: Instruction) -> str:
    if (ins.attr("use_global_device_ids") or "").strip() == "true":
        return "global ids"
    if ins.attr("channel_id") is not None:
        return "cross-partition"
    return "cross-replica"


def _groups_array(module: Module, ins: Instruction, mode: str, n: int) -> IntArray:
    """[G, S] logical device ids of each group (`n`: devices of the program)."""
    import numpy as np

    partitions = max(1, module.num_partitions)
    replicas = max(1, module.replica_count)
    rg = ins.replica_groups
    groups = rg.groups if rg is not None else ()
    if mode == "global ids":
        if not groups:
            return np.arange(n, dtype=np.int64).reshape(1, n)
        return _rect(groups)
    if mode == "cross-partition":
        # Groups of partition ids, applied within each replica.
        base = _rect(groups) if groups else np.arange(partitions, dtype=np.int64).reshape(1, -1)
        return np.concatenate([base + r * partitions for r in range(replicas)], axis=0)
    # cross-replica: groups of replica ids, applied within each partition.
    base = _rect(groups) if groups else np.arange(replicas, dtype=np.int64).reshape(1, -1)
    return np.concatenate([base * partitions + p for p in range(partitions)], axis=0)


def _rect(groups: tuple[tuple[int, ...], ...]) -> IntArray:
    import numpy as np

    size = max(len(g) for g in groups)
    if all(len(g) == size for g in groups):
        return np.asarray(groups, dtype=np.int64).reshape(len(groups), size)
    # Ragged groups: pad with the group's first id (adds no new axes or devices).
    return np.asarray([tuple(g) + (g[0],) * (size - len(g)) for g in groups], dtype=np.int64)


def _pairs_of(ins: Instruction) -> tuple[tuple[int, int], ...]:
    if ins.source_target_pairs is not None:
        return ins.source_target_pairs
    for k, v in ins.frontend_attributes:
        if k == "_xla_send_recv_source_target_pairs":
            import re

            nums = [int(x) for x in re.findall(r"-?\d+", v)]
            return tuple((nums[i], nums[i + 1]) for i in range(0, len(nums) - 1, 2))
    return ()


def _ring_size(pairs: tuple[tuple[int, int], ...]) -> int:
    """Devices in the largest connected chain / ring of permute pairs."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for s, t in pairs:
        parent[root(s)] = root(t)
    sizes: dict[int, int] = {}
    for x in list(parent):
        r = root(x)
        sizes[r] = sizes.get(r, 0) + 1
    return max(sizes.values(), default=1)


# --- bytes ----------------------------------------------------------------------------------


def _array_bytes(shape: Any) -> int:
    return sum(leaf.byte_size() for _, leaf in shape.leaves() if leaf.is_array)


def _sizes(comp: Computation, ins: Instruction, kind: str) -> tuple[int, int]:
    """(operand bytes, result bytes) on one device."""
    operands = [comp.by_name[o] for o in ins.operands if o in comp.by_name]
    if kind == "ragged-all-to-all":
        # operands: input, output, input_offsets, send_sizes, output_offsets, recv_sizes
        in_b = _array_bytes(operands[0].shape) if operands else 0
        out_b = _array_bytes(ins.shape)
        return in_b, out_b
    if kind in ("send", "recv"):
        # send(data, token); recv's result is (data, context, token).
        if kind == "send" and operands:
            b = _array_bytes(operands[0].shape)
        elif ins.shape.is_tuple and ins.shape.tuple_shapes:
            b = _array_bytes(ins.shape.tuple_shapes[0])
        else:
            b = _array_bytes(ins.shape)
        return b, b
    in_b = sum(_array_bytes(o.shape) for o in operands)
    if not ins.opcode.endswith("-start"):
        return in_b, _array_bytes(ins.shape)
    leaves = [leaf for _, leaf in ins.shape.leaves() if leaf.is_array]
    k = len(operands)
    if kind == "all-gather" and len(leaves) >= 2 * k:
        return in_b, sum(leaf.byte_size() for leaf in leaves[k : 2 * k])
    if kind == "all-reduce":
        return in_b, in_b
    return in_b, in_b  # collective-permute-start: (in, out, flags)


# --- the pass -------------------------------------------------------------------------------


class _Context:
    def __init__(
        self,
        module: Module,
        mesh: MeshView,
        n: int,
        hardware: Hardware | None,
        target: TargetInfo | None,
        counts: Mapping[str, int],
    ) -> None:
        self.module = module
        self.mesh = mesh
        self.hardware = hardware
        self.counts = counts
        self.graph = sharding_why.Graph(module)
        self.n = n
        self.domain = _domains(mesh, target, self.n)
        self.notes: list[str] = []


def _domains(mesh: MeshView, target: TargetInfo | None, n: int) -> IntArray | None:
    """Which `intra` link domain each logical device is in: its slice on TPU (ICI spans the
    hosts of a slice), its host elsewhere (NVLink stays in the host). None: all in one."""
    import numpy as np

    if target is None:
        return None
    by_id = {d.id: d for d in target.devices}
    ids = [mesh.global_id(p) for p in range(n)]
    if target.platform == "tpu" or target.num_slices > 1:
        if by_id and len({d.slice_index for d in by_id.values()}) > 1:
            return np.asarray([by_id[i].slice_index if i in by_id else -1 for i in ids])
        if target.num_slices > 1 and n % target.num_slices == 0:
            return np.asarray(ids, dtype=np.int64) // (n // target.num_slices)
        return None
    if by_id and len({d.process_index for d in by_id.values()}) > 1:
        return np.asarray([by_id[i].process_index if i in by_id else -1 for i in ids])
    per_host = 1
    for c in target.chips_per_host:
        per_host *= c
    if target.chips_per_host and per_host < n:
        return np.asarray(ids, dtype=np.int64) // per_host
    return None


def _crosses(ctx: _Context, ids: IntArray) -> bool:
    """Whether any group (rows of `ids`) spans more than one host / slice."""
    if ctx.domain is None or ids.size == 0:
        return False
    d = ctx.domain[ids]
    return bool((d.max(axis=-1) != d.min(axis=-1)).any())


def _pick_link(ctx: _Context, inter: bool) -> Link | None:
    hw = ctx.hardware
    if hw is None:
        return None
    link = hw.link("inter" if inter else "intra")
    return link if link is not None else hw.link("intra" if inter else "inter")


def _collective(ctx: _Context, f: _Found) -> Collective:
    import numpy as np

    ins, module, mesh = f.inner, ctx.module, ctx.mesh
    mode = _mode(ins)
    pairs: tuple[tuple[int, int], ...] = ()
    groups: tuple[tuple[int, ...], ...] = ()
    if f.kind in ("send", "recv") and (ins.attr("is_host_transfer") or "") == "true":
        return _host_transfer(ctx, f)
    if f.kind in ("collective-permute", "send", "recv"):
        pairs = _pairs_of(ins)
        arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        span = span_of_pairs(mesh, arr)
        size, num = _ring_size(pairs) if pairs else 1, len(pairs)
        moving = arr[arr[:, 0] != arr[:, 1]]
        crosses = _crosses(ctx, moving)
    else:
        arr = _groups_array(module, ins, mode, ctx.n)
        rg = ins.replica_groups
        if rg is not None and rg.groups and (mode == "global ids" or module.replica_count <= 1):
            groups = rg.groups
        else:
            groups = tuple(tuple(int(x) for x in row) for row in arr.tolist())
        span = span_of_groups(mesh, arr)
        size, num = int(arr.shape[1]), int(arr.shape[0])
        crosses = _crosses(ctx, arr)
    in_b, out_b = _sizes(f.inner_comp, ins, f.kind)
    t = sharding_cost.traffic(f.kind, size, in_b, out_b)
    if f.kind == "collective-permute" and pairs and all(s == d for s, d in pairs):
        t = sharding_cost.traffic("all-gather", 1, 0, 0)  # every pair is local: nothing moves
    count = int(ctx.counts.get(f.comp.name, 1))
    est_s = est_text = None
    link = _pick_link(ctx, crosses)
    if link is not None:
        est_s, est_text = sharding_cost.estimate(t, link, len(span.axes))
    return _finish(
        ctx,
        f,
        span=span,
        size=size,
        num=num,
        groups=groups,
        pairs=pairs,
        mode=mode,
        in_b=in_b,
        out_b=out_b,
        t=t,
        count=count,
        est_s=est_s,
        est_text=est_text,
        link=link,
    )


def _host_transfer(ctx: _Context, f: _Found) -> Collective:
    """A send/recv to the host (`is_host_transfer=true`): no device link moves it."""
    in_b, out_b = _sizes(f.inner_comp, f.inner, f.kind)
    t = sharding_cost.Traffic(
        algorithm="host transfer",
        sent_bytes=float(in_b),
        received_bytes=float(out_b),
        wire_bytes=0.0,
        steps=0,
        formula="host transfer (PCIe / host link, not modelled)",
    )
    span = AxisSpan(axes=(), label="host")
    return _finish(
        ctx,
        f,
        span=span,
        size=1,
        num=0,
        groups=(),
        pairs=(),
        mode="host transfer",
        in_b=in_b,
        out_b=out_b,
        t=t,
        count=int(ctx.counts.get(f.comp.name, 1)),
        est_s=None,
        est_text=None,
        link=None,
    )


def _finish(
    ctx: _Context,
    f: _Found,
    *,
    span: AxisSpan,
    size: int,
    num: int,
    groups: tuple[tuple[int, ...], ...],
    pairs: tuple[tuple[int, int], ...],
    mode: str,
    in_b: int,
    out_b: int,
    t: sharding_cost.Traffic,
    count: int,
    est_s: float | None,
    est_text: str | None,
    link: Link | None,
) -> Collective:
    ins = f.inner
    src_file, src_line, src_text = _source(ctx.module, ins, f.anchor)
    why = _why(ctx, f, span, size, pairs)
    channel = ins.attr("channel_id")
    return Collective(
        name=f.anchor.name,
        instruction=ins.name,
        computation=f.comp.name,
        kind=f.kind,
        opcode=f.anchor.opcode if f.anchor is not ins else ins.opcode,
        is_async=f.anchor is not ins or ins.opcode.endswith("-start"),
        axes=span.axes,
        axes_label=span.label,
        group_size=size,
        num_groups=num,
        groups=groups,
        pairs=pairs,
        mode=mode,
        in_bytes=in_b,
        out_bytes=out_b,
        bytes_per_device=t.sent_bytes,
        sent_bytes=t.sent_bytes,
        received_bytes=t.received_bytes,
        count=count,
        total_bytes=t.sent_bytes * count,
        algorithm=t.algorithm,
        formula=t.formula,
        exact=t.exact,
        estimate=est_text,
        estimated_s=est_s,
        total_s=est_s * count if est_s is not None else None,
        link=link.name if link else None,
        link_scope=link.scope if link else None,
        source=src_text,
        source_file=src_file,
        source_line=src_line,
        op_name=ins.op_name or f.anchor.op_name,
        why=why.text,
        operand_from=why.producer,
        serves=why.consumers,
        sharding_before=why.before,
        sharding_after=why.after,
        dimension=_dimension(ins),
        channel_id=int(channel) if channel and channel.strip().isdigit() else None,
    )


def _dimension(ins: Instruction) -> int | None:
    raw = ins.attr("dimensions")
    if raw is None:
        return None
    nums = raw.strip("{} ").split(",")
    return int(nums[0]) if nums and nums[0].strip().isdigit() else None


def _source(module: Module, ins: Instruction, anchor: Instruction) -> tuple[str, int, str]:
    """(file, line, `file:line`) with the full path; ("", 0, "") without a location."""
    from hloscope.hlo.source import source_of

    loc = source_of(module, ins) or source_of(module, anchor)
    if loc is None:
        return "", 0, ""
    return loc.file, loc.line, f"{loc.file}:{loc.line}"


def _short(source: str) -> str:
    """`/path/model.py:42` -> `model.py:42`: the `why` sentence is prose, read in tables."""
    return source.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class _Why:
    text: str
    producer: sharding_why.Endpoint | None
    consumers: tuple[sharding_why.Endpoint, ...]
    before: str | None
    after: str | None


def _why(
    ctx: _Context, f: _Found, span: AxisSpan, size: int, pairs: tuple[tuple[int, int], ...]
) -> _Why:
    g = ctx.graph
    prod = sharding_why.producer(g, f.inner_comp, f.inner)
    cons = sharding_why.consumers(g, f.comp, f.anchor)
    dim = _dimension(f.inner)
    operand = f.inner_comp.by_name.get(f.inner.operands[0]) if f.inner.operands else None
    rank = operand.shape.rank if operand is not None and operand.shape.is_array else 0
    before = None
    if (
        prod is not None
        and prod.sharding is not None
        and prod.instruction is not None
        and prod.instruction.shape.is_array
        and prod.instruction.shape.rank == rank
    ):
        before = sharding_why.dims_label(prod.sharding, rank, ctx.mesh)
    after = sharding_why.resharding(f.kind, dim, before, span)
    first = cons[0] if cons else None
    cons_src = prod_src = ""
    if first is not None and first.instruction is not None:
        cons_src = _short(_source(ctx.module, first.instruction, first.instruction)[2])
    if prod is not None and prod.instruction is not None:
        prod_src = _short(_source(ctx.module, prod.instruction, prod.instruction)[2])
    text = sharding_why.sentence(
        kind=f.kind,
        span=span,
        change=_change(ctx, f, size, dim, pairs),
        before=before,
        after=after,
        producer=prod,
        consumer=first,
        consumer_source=cons_src,
        origin=sharding_why.origin_of(f.inner.op_name or f.anchor.op_name),
        producer_source=prod_src,
    )
    return _Why(
        text=text,
        producer=prod,
        consumers=cons,
        before=sharding_why.format_dims(before) if before else None,
        after=sharding_why.format_dims(after) if after else None,
    )


def _change(
    ctx: _Context, f: _Found, size: int, dim: int | None, pairs: tuple[tuple[int, int], ...]
) -> str:
    """What the collective does to the data, in words (when no sharding is known)."""
    ins, kind = f.inner, f.kind
    if size <= 1 and kind not in ("collective-permute", "send", "recv"):
        why = " (cross-replica, one replica)" if _mode(ins) == "cross-replica" else ""
        return f"groups of one device{why}: no data moves"
    if kind in ("all-gather", "reduce-scatter"):
        step = _dim_step(f, dim)
        if step:
            if kind == "all-gather":
                return f"gathers {step}"
            return f"{_reducer(ctx.module, ins)} partial results and scatters {step}"
    if kind == "all-reduce":
        return f"{_reducer(ctx.module, ins)} partial results of {size} devices"
    if kind == "collective-permute":
        return _permute_pattern(ctx.mesh, pairs)
    fixed = {
        "ragged-all-to-all": f"exchanges ragged slices of its input among {size} devices "
        "(sizes known only at run time)",
        "all-to-all": f"re-splits dim {dim}: each device keeps 1/{size} and trades the rest"
        if dim is not None
        else f"exchanges {len(ins.operands)} buffers among {size} devices",
        "collective-broadcast": f"copies one device's value to the {size} devices of its group",
    }
    return fixed.get(kind, f"{kind} of {len(pairs)} device pair(s)")


def _dim_step(f: _Found, dim: int | None) -> str:
    """`dim 1 (32 → 128 per device)` for a gather / scatter along `dim`, "" if unknown."""
    ins = f.inner
    operand = f.inner_comp.by_name.get(ins.operands[0]) if ins.operands else None
    in_dims = operand.shape.dims if operand is not None else ()
    out_shape = ins.shape
    if ins.opcode.endswith("-start") and out_shape.is_tuple and len(out_shape.tuple_shapes) > 1:
        out_shape = out_shape.tuple_shapes[1]
    out_dims = out_shape.dims if out_shape.is_array else ()
    if dim is None or dim >= len(in_dims) or dim >= len(out_dims):
        return ""
    return f"dim {dim} ({in_dims[dim]} → {out_dims[dim]} per device)"


def _reducer(module: Module, ins: Instruction) -> str:
    if ins.called:
        body = module.by_name.get(ins.called[0])
        if body is not None:
            return _REDUCERS.get(body.root_instruction.opcode, "combines")
    return "combines"


def _permute_pattern(mesh: MeshView, pairs: tuple[tuple[int, int], ...]) -> str:
    import numpy as np

    if not pairs:
        return "moves no data (no pairs)"
    arr = np.asarray(pairs, dtype=np.int64)
    moving = arr[arr[:, 0] != arr[:, 1]]
    if moving.size == 0:
        return "every device keeps its own data (self pairs only)"
    if mesh.axis_sizes:
        src, dst = mesh.coords_of(moving[:, 0]), mesh.coords_of(moving[:, 1])
        diff = (dst - src) % np.asarray(mesh.axis_sizes, dtype=np.int64)
        moved = [a for a in range(len(mesh.axis_sizes)) if (diff[:, a] != 0).any()]
        if len(moved) == 1:
            a = moved[0]
            shifts = set(diff[:, a].tolist())
            if len(shifts) == 1:
                k = shifts.pop()
                size = mesh.axis_sizes[a]
                step = f"+{k}" if k <= size // 2 else f"-{size - k}"
                ring = " (a ring)" if len(moving) % size == 0 else ""
                return (
                    f"sends each device's block to its neighbour {step} along "
                    f"`{mesh.axis_names[a]}`{ring}"
                )
    return f"moves blocks between {len(moving)} device pairs"


def run(
    module: Module,
    *,
    mesh: MeshInfo | None = None,
    hardware: Hardware | None = None,
    target: TargetInfo | None = None,
    counts: Mapping[str, int] | None = None,
    in_shardings: Sequence[ShardingInfo] = (),
    out_shardings: Sequence[ShardingInfo] = (),
) -> ShardingReport:
    """Inventory the collectives of a partitioned `module`.

    `mesh`: the capture's mesh (else one is inferred from the module and said so);
    `hardware`: for time estimates; `target`: to tell links within a host / slice from links
    across them; `counts`: executions per step of each computation (`CostReport.counts`),
    computed here when not given; `in_shardings` / `out_shardings`: the capture's, for
    global shapes and padding of the entry's values."""
    from hloscope.hlo.calls import execution_counts, unknown_trip_counts

    if counts is None:
        counts = execution_counts(module)
    found = find_collectives(module)
    n = _device_count(module, found)
    view = mesh_for(module, mesh, n)
    ctx = _Context(module, view, n, hardware, target, counts)
    colls = tuple(_collective(ctx, f) for f in found)
    values, value_notes = sharded_values(module, view, ctx.n, in_shardings, out_shardings)
    notes = list(ctx.notes) + value_notes
    unknown = unknown_trip_counts(module)
    if unknown and any(ctx.counts.get(c.computation, 1) for c in colls):
        notes.append(
            f"{len(unknown)} while loop(s) without a known trip count "
            f"({', '.join(unknown[:3])}): collectives inside count once per loop"
        )
    if view.inferred and view.axis_sizes:
        notes.append(f"mesh axes inferred ({view.source}): {view.describe()}")
    if hardware is not None and not hardware.links:
        notes.append(f"hardware {hardware.name} lists no links: no collective times")
    if mesh is not None and view.inferred:
        notes.append(
            f"the capture's mesh ({mesh.describe()}) does not cover the program's "
            f"{ctx.n} devices; axes inferred instead"
        )
    return ShardingReport(
        mesh=view,
        num_devices=ctx.n,
        collectives=colls,
        by_axis=_by_axis(colls),
        by_kind=_by_kind(colls),
        hardware=hardware.name if hardware is not None else None,
        total_bytes=sum(c.total_bytes for c in colls),
        total_s=sum(c.total_s for c in colls if c.total_s is not None)
        if hardware is not None and hardware.links
        else None,
        values=values,
        notes=tuple(notes),
    )


def _device_count(module: Module, found: list[_Found]) -> int:
    """Devices of the program: the header's partitions × replicas, or more when groups name
    higher ids (test modules often leave the header counts out)."""
    n = max(1, module.num_partitions) * max(1, module.replica_count)
    for f in found:
        rg = f.inner.replica_groups
        if rg is not None and rg.groups:
            n = max(n, 1 + max(max(g) for g in rg.groups if g))
        for s, t in _pairs_of(f.inner):
            n = max(n, s + 1, t + 1)
    return n


def _by_axis(colls: tuple[Collective, ...]) -> Mapping[str, AxisTotals]:
    acc: dict[str, list[Collective]] = {}
    for c in colls:
        acc.setdefault(c.axes_label, []).append(c)
    out = {}
    for label, cs in sorted(acc.items()):
        times = [c.total_s for c in cs if c.total_s is not None]
        out[label] = AxisTotals(
            axes_label=label,
            count=sum(c.count for c in cs),
            sent_bytes=sum(c.total_bytes for c in cs),
            estimated_s=sum(times) if times else None,
        )
    return out


def _by_kind(colls: tuple[Collective, ...]) -> Mapping[str, int]:
    out: dict[str, int] = {}
    for c in colls:
        out[c.kind] = out.get(c.kind, 0) + 1
    return out
