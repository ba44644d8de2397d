"""What changed between two programs, and what it costs: `run(a, b) -> DiffReport`.

Each side is a `DiffSide`: the module and whichever reports could be computed for it (a side
without optimized HLO has none; a report that failed is named with its reason). Instructions
are matched structurally (`passes/diff_match.py`), then the reports are compared through that
matching:

- totals side by side: FLOPs and bytes per device per step, the estimated step time on each
  side's hardware (estimate), the memory peak, kernels, collectives and their bytes per mesh
  axis;
- kernels added, removed, split, merged or regrouped (what XLA fused differently), and kernels
  whose cost changed;
- collectives added, removed, resized or moved to other axes, with their source lines;
- per Python line, FLOPs, bytes and estimated time on each side;
- entry parameters whose per-device shape or sharding changed;
- the memory peak on each side and the buffers that make up the change.

Kernel correspondence: a kernel's members are its instruction and what it fuses; two kernels
are linked when a member of one is matched to a member of the other (constants, broadcasts,
iotas and other cheap instructions XLA copies into many fusions do not link). Each connected
group of linked kernels is one change: 1 -> 1 same (or changed), 1 -> n split, n -> 1 merged,
n -> m regrouped, 0 -> 1 added, 1 -> 0 removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hloscope.passes.diff_match import InstructionChange, Matching, Ref, match, shape_text

if TYPE_CHECKING:
    from hloscope.hlo.model import Module
    from hloscope.passes.cost import CostReport
    from hloscope.passes.fusion import FusionReport, Kernel
    from hloscope.passes.memory import MemoryReport
    from hloscope.passes.roofline import RooflineReport
    from hloscope.passes.sharding import Collective, ShardingReport

SCHEMA = "hloscope.diff/1"
REL_TOLERANCE = 1e-9
"""Relative difference below which two figures count as equal (float sums in another order)."""
NO_LINK = frozenset(
    """constant broadcast iota bitcast reshape get-tuple-element tuple parameter copy
    convert""".split()
)
"""Cheap instructions XLA duplicates into several fusions: they do not link kernels."""
LIST_LIMIT = 200
"""Unmatched and changed instructions listed in the JSON (the counts are always complete)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffSide:
    """One program and its reports. A report is None when it could not be computed; `missing`
    then says why (report name -> one line)."""

    label: str
    """How the user named it (`sample:transformer`, a path)."""
    name: str = ""
    module: Module | None = None
    cost: CostReport | None = None
    fusion: FusionReport | None = None
    roofline: RooflineReport | None = None
    sharding: ShardingReport | None = None
    memory: MemoryReport | None = None
    hardware: str | None = None
    mesh: str | None = None
    devices: int = 1
    platform: str = ""
    stablehlo: str | None = None
    """StableHLO text, compared (locations stripped) when a side has no optimized HLO."""
    missing: Mapping[str, str] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        return {"label": self.label, "name": self.name, "hardware": self.hardware,
                "mesh": self.mesh, "devices": self.devices, "platform": self.platform,
                "instructions": self.module.instruction_count if self.module else None}


# -- report values --------------------------------------------------------------------------


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or a == 0:
        return None
    return (b - a) / abs(a)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= REL_TOLERANCE * max(abs(a), abs(b))


@dataclass(frozen=True, slots=True, kw_only=True)
class TotalRow:
    key: str
    label: str
    unit: str
    """`FLOP`, `B` (bytes), `s` (seconds, estimates) or `` (a count)."""
    a: float | None
    b: float | None
    estimate: bool = False

    @property
    def delta(self) -> float | None:
        return _delta(self.a, self.b)

    @property
    def rel(self) -> float | None:
        return _rel(self.a, self.b)

    @property
    def changed(self) -> bool:
        return not _same(self.a, self.b)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "unit": self.unit, "a": self.a,
                "b": self.b, "delta": self.delta, "relative": self.rel,
                "estimate": self.estimate}


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectiveChange:
    status: str
    """`added`, `removed`, `resized` (bytes or count per step), `moved` (other axes/groups)."""
    kind: str
    axes_a: str | None
    axes_b: str | None
    name_a: str | None
    name_b: str | None
    bytes_a: float | None
    """Bytes each device sends per execution."""
    bytes_b: float | None
    count_a: int | None
    count_b: int | None
    total_bytes_a: float | None
    """Per device per step (x count)."""
    total_bytes_b: float | None
    time_a: float | None
    """Estimated seconds per step (estimate)."""
    time_b: float | None
    source: str
    op_name: str

    @property
    def axes(self) -> str:
        return self.axes_b if self.axes_b is not None else (self.axes_a or "-")

    @property
    def total_delta(self) -> float:
        return (self.total_bytes_b or 0.0) - (self.total_bytes_a or 0.0)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "kind": self.kind, "axes_a": self.axes_a,
                "axes_b": self.axes_b, "name_a": self.name_a, "name_b": self.name_b,
                "bytes_per_device_a": self.bytes_a, "bytes_per_device_b": self.bytes_b,
                "count_a": self.count_a, "count_b": self.count_b,
                "total_bytes_a": self.total_bytes_a, "total_bytes_b": self.total_bytes_b,
                "estimated_s_a": self.time_a, "estimated_s_b": self.time_b,
                "source": self.source, "op_name": self.op_name}


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelChange:
    status: str
    """`added`, `removed`, `split`, `merged`, `regrouped` or `changed` (same grouping, other
    cost, shape or body)."""
    a: tuple[str, ...]
    """Kernel names on side A (empty when added)."""
    b: tuple[str, ...]
    category: str
    what: str
    """Kind, opcodes and name scope of the kernels involved."""
    source: str
    flops_a: float
    flops_b: float
    bytes_a: float
    bytes_b: float
    time_a: float | None
    """Estimated seconds per step of the A kernels (estimate)."""
    time_b: float | None
    changes: tuple[str, ...] = ()
    """For `changed`: what differs in the kernel instruction (shape, body, operands...)."""

    @property
    def time_delta(self) -> float | None:
        return _delta(self.time_a, self.time_b)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "a": list(self.a), "b": list(self.b),
                "changes": list(self.changes),
                "category": self.category, "what": self.what, "source": self.source,
                "flops_a": self.flops_a, "flops_b": self.flops_b, "bytes_a": self.bytes_a,
                "bytes_b": self.bytes_b, "estimated_s_a": self.time_a,
                "estimated_s_b": self.time_b, "estimated_s_delta": self.time_delta}


@dataclass(frozen=True, slots=True, kw_only=True)
class LineDelta:
    source: str
    function: str
    flops_a: float
    flops_b: float
    bytes_a: float
    bytes_b: float
    time_a: float | None
    time_b: float | None

    @property
    def time_delta(self) -> float | None:
        return _delta(self.time_a, self.time_b)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "function": self.function, "flops_a": self.flops_a,
                "flops_b": self.flops_b, "bytes_a": self.bytes_a, "bytes_b": self.bytes_b,
                "estimated_s_a": self.time_a, "estimated_s_b": self.time_b,
                "estimated_s_delta": self.time_delta}


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterChange:
    status: str
    """`changed`, `added` or `removed`."""
    label: str
    """What jax called it (`params['w1']`), else the parameter's name."""
    shape_a: str | None
    """Per-device shape."""
    shape_b: str | None
    sharding_a: str | None
    sharding_b: str | None
    layout_a: str | None = None
    """Mesh axes per dimension (`data, model`), when the sharding pass ran."""
    layout_b: str | None = None
    global_a: str | None = None
    global_b: str | None = None
    bytes_a: int | None = None
    bytes_b: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "label": self.label, "shape_a": self.shape_a,
                "shape_b": self.shape_b, "sharding_a": self.sharding_a,
                "sharding_b": self.sharding_b, "axes_a": self.layout_a,
                "axes_b": self.layout_b, "global_shape_a": self.global_a,
                "global_shape_b": self.global_b, "bytes_a": self.bytes_a,
                "bytes_b": self.bytes_b}


@dataclass(frozen=True, slots=True, kw_only=True)
class BufferDelta:
    """A value live at the peak on either side, with its bytes there."""

    name_a: str | None
    name_b: str | None
    kind: str
    shape_a: str | None
    shape_b: str | None
    bytes_a: int
    """0 when not live at A's peak."""
    bytes_b: int
    source: str | None

    @property
    def delta(self) -> int:
        return self.bytes_b - self.bytes_a

    def to_json(self) -> dict[str, Any]:
        return {"name_a": self.name_a, "name_b": self.name_b, "kind": self.kind,
                "shape_a": self.shape_a, "shape_b": self.shape_b, "bytes_a": self.bytes_a,
                "bytes_b": self.bytes_b, "delta": self.delta, "source": self.source}


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryDelta:
    peak_a: int
    peak_b: int
    split_a: Mapping[str, int]
    """Bytes at the peak by kind (parameter, output, constant, temp)."""
    split_b: Mapping[str, int]
    buffers: tuple[BufferDelta, ...]
    """Values live at either peak, by |change| (largest first)."""

    @property
    def delta(self) -> int:
        return self.peak_b - self.peak_a

    def to_json(self, *, top: int = 20) -> dict[str, Any]:
        return {"peak_a": self.peak_a, "peak_b": self.peak_b, "delta": self.delta,
                "by_kind_a": dict(self.split_a), "by_kind_b": dict(self.split_b),
                "buffers": [x.to_json() for x in self.buffers[:top]]}


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffReport:
    """Two programs compared. Sections are empty tuples / None when a side lacks the report
    (`unavailable` says which and why)."""

    identical: bool
    a: DiffSide = field(repr=False)
    b: DiffSide = field(repr=False)
    totals: tuple[TotalRow, ...]
    collectives: tuple[CollectiveChange, ...]
    kernels: tuple[KernelChange, ...]
    lines: tuple[LineDelta, ...]
    """Python lines whose cost changed, by |Δ estimated time| (else |Δ bytes|, |Δ flops|)."""
    parameters: tuple[ParameterChange, ...]
    memory: MemoryDelta | None
    matching: Matching | None
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """Section -> why it could not be compared."""
    notes: tuple[str, ...] = ()

    def collectives_with(self, status: str) -> tuple[CollectiveChange, ...]:
        return tuple(c for c in self.collectives if c.status == status)

    def kernels_with(self, status: str) -> tuple[KernelChange, ...]:
        return tuple(k for k in self.kernels if k.status == status)

    def total(self, key: str) -> TotalRow:
        for row in self.totals:
            if row.key == key:
                return row
        raise KeyError(key)

    def totals_rows(self) -> list[tuple[str, float | None, float | None, float | None,
                                        float | None, str]]:
        """(label, a, b, delta, relative delta, unit) per total, for tables."""
        return [(r.label, r.a, r.b, r.delta, r.rel, r.unit) for r in self.totals]

    def to_json(self) -> dict[str, Any]:
        side_totals = {
            side: {r.key: (r.a if side == "a" else r.b) for r in self.totals}
            for side in ("a", "b")
        }
        m = self.matching
        kernels = {s: [k.to_json() for k in self.kernels_with(s)]
                   for s in ("added", "removed", "split", "merged", "regrouped", "changed")}
        colls = {s: [c.to_json() for c in self.collectives_with(s)]
                 for s in ("added", "removed", "resized", "moved")}
        return {
            "schema": SCHEMA,
            "identical": self.identical,
            "a": self.a.info(),
            "b": self.b.info(),
            "totals": {**side_totals, "rows": [r.to_json() for r in self.totals]},
            "collectives": colls,
            "kernels": kernels,
            "source_lines": [ln.to_json() for ln in self.lines],
            "parameters": [p.to_json() for p in self.parameters],
            "memory": self.memory.to_json() if self.memory is not None else None,
            "matching": m.to_json() if m is not None else None,
            "instructions": _instructions_json(self),
            "unavailable": dict(self.unavailable),
            "notes": list(self.notes),
        }


def _instructions_json(r: DiffReport) -> dict[str, Any]:
    m = r.matching
    if m is None:
        return {"unmatched_a": [], "unmatched_b": [], "changed": []}

    def describe(module: Module | None, ref: Ref) -> dict[str, Any]:
        out: dict[str, Any] = {"computation": ref[0], "name": ref[1]}
        comp = module.by_name.get(ref[0]) if module is not None else None
        if comp is not None and ref[1] in comp.by_name:
            ins = comp.by_name[ref[1]]
            out.update(opcode=ins.opcode, shape=shape_text(ins.shape), op_name=ins.op_name)
        return out

    return {
        "unmatched_a": [describe(r.a.module, x) for x in m.unmatched_a[:LIST_LIMIT]],
        "unmatched_b": [describe(r.b.module, x) for x in m.unmatched_b[:LIST_LIMIT]],
        "changed": [c.to_json() for c in m.changed[:LIST_LIMIT]],
    }


# -- the pass -------------------------------------------------------------------------------


def run(a: DiffSide, b: DiffSide, *, matching: Matching | None = None) -> DiffReport:
    """Compare two sides (see the module docstring). `matching` may be given when already
    computed for the same two modules."""
    unavailable: dict[str, str] = {}
    notes: list[str] = []
    if a.module is None or b.module is None:
        return _without_hlo(a, b)
    m = matching if matching is not None else match(a.module, b.module)
    collectives = _section("collectives", unavailable, a, b, ("sharding",),
                           lambda: _collectives(a, b, m))
    kernels = _section("kernels", unavailable, a, b, ("fusion",), lambda: _kernels(a, b, m))
    lines = _section("source_lines", unavailable, a, b, ("fusion",), lambda: _lines(a, b))
    parameters = _parameters(a, b, m)
    memory = _section("memory", unavailable, a, b, ("memory",), lambda: (_memory(a, b, m),))
    totals = _totals(a, b)
    if a.hardware and b.hardware and a.hardware != b.hardware:
        notes.append(f"estimated times use {a.hardware} for A and {b.hardware} for B")
    if m.by_stage.get("order"):
        notes.append(f"{m.by_stage['order']} instruction(s) matched by program order alone "
                     "(same op_name, line, opcode and shape, in equal numbers)")
    identical = m.identical and not any(r.changed for r in totals)
    return DiffReport(
        identical=identical, a=a, b=b, totals=totals, collectives=collectives,
        kernels=kernels, lines=lines, parameters=parameters,
        memory=memory[0] if memory else None, matching=m, unavailable=unavailable,
        notes=tuple(notes),
    )


def _section(name: str, unavailable: dict[str, str], a: DiffSide, b: DiffSide,
             needs: tuple[str, ...], build: Callable[[], tuple[Any, ...]]) -> tuple[Any, ...]:
    for side, tag in ((a, "A"), (b, "B")):
        for report in needs:
            if getattr(side, report) is None:
                why = side.missing.get(report, f"no {report} report")
                unavailable[name] = f"{tag}: {why}"
                return ()
    return build()


def _without_hlo(a: DiffSide, b: DiffSide) -> DiffReport:
    """No structural comparison without optimized HLO on both sides: say so, and compare the
    StableHLO texts (locations stripped) when both have one."""
    unavailable: dict[str, str] = {}
    for side, tag in ((a, "A"), (b, "B")):
        if side.module is None:
            unavailable["instructions"] = (
                f"{tag}: {side.missing.get('module', 'no optimized HLO')}")
    notes: list[str] = []
    identical = False
    if a.stablehlo is not None and b.stablehlo is not None:
        identical = strip_locations(a.stablehlo) == strip_locations(b.stablehlo)
        notes.append("StableHLO texts are " + ("equal" if identical else "different")
                     + " (locations ignored); reports need optimized HLO on both sides")
    for key in ("collectives", "kernels", "source_lines", "memory"):
        unavailable[key] = unavailable["instructions"]
    return DiffReport(identical=identical, a=a, b=b, totals=_totals(a, b), collectives=(),
                      kernels=(), lines=(), parameters=(), memory=None, matching=None,
                      unavailable=unavailable, notes=tuple(notes))


def strip_locations(text: str) -> str:
    """StableHLO text without `loc(...)` references and `#loc` definitions."""
    import re

    out = []
    for line in text.splitlines():
        if line.startswith("#loc"):
            continue
        out.append(re.sub(r"\s*loc\((?:[^()]|\([^()]*\))*\)", "", line).rstrip())
    return "\n".join(out)


# -- totals ---------------------------------------------------------------------------------


def _value(side: DiffSide, path: str) -> float | None:
    """`cost.executed.flops` of a side; None when the report is missing. A trailing `#`
    counts a collection (`sharding.collectives#`)."""
    count = path.endswith("#")
    obj: Any = side
    for part in path.rstrip("#").split("."):
        obj = getattr(obj, part)
        if obj is None:
            return None
    return float(len(obj)) if count else float(obj)


def _totals(a: DiffSide, b: DiffSide) -> tuple[TotalRow, ...]:
    hw = a.hardware if a.hardware == b.hardware else f"{a.hardware} / {b.hardware}"
    specs = (
        ("instructions", "instructions", "", "module.instruction_count", False),
        ("flops", "FLOPs/device/step", "FLOP", "cost.executed.flops", False),
        ("bytes_accessed", "bytes accessed/device/step", "B", "cost.executed.bytes_accessed",
         False),
        ("transcendentals", "transcendentals/device/step", "", "cost.executed.transcendentals",
         False),
        ("step_s", f"est. step time ({hw})", "s", "roofline.step_s", True),
        ("peak_bytes", "memory peak/device", "B", "memory.peak_bytes", False),
        ("kernels", "kernels", "", "fusion.kernel_count", False),
        ("collectives", "collectives", "", "sharding.collectives#", False),
        ("collective_bytes", "collective bytes/device/step", "B", "sharding.total_bytes", False),
    )
    rows = [TotalRow(key=k, label=label, unit=unit, a=_value(a, path), b=_value(b, path),
                     estimate=est)
            for k, label, unit, path, est in specs]
    axes: dict[str, None] = {}
    for side in (a, b):
        if side.sharding is not None:
            axes.update(dict.fromkeys(side.sharding.by_axis))
    for axis in axes:
        def sent(s: DiffSide, axis: str = axis) -> float | None:
            if s.sharding is None:
                return None
            t = s.sharding.by_axis.get(axis)
            return t.sent_bytes if t is not None else 0.0

        def count(s: DiffSide, axis: str = axis) -> float | None:
            if s.sharding is None:
                return None
            t = s.sharding.by_axis.get(axis)
            return float(t.count) if t is not None else 0.0

        rows.append(TotalRow(key=f"collectives[{axis}]", label=f"  collectives over {axis}",
                             unit="", a=count(a), b=count(b)))
        rows.append(TotalRow(key=f"collective_bytes[{axis}]", label=f"  bytes over {axis}",
                             unit="B", a=sent(a), b=sent(b)))
    return tuple(rows)


# -- collectives ----------------------------------------------------------------------------


def _collectives(a: DiffSide, b: DiffSide, m: Matching) -> tuple[CollectiveChange, ...]:
    assert a.sharding is not None
    assert b.sharding is not None
    in_b: dict[Ref, Collective] = {(c.computation, c.name): c for c in b.sharding.collectives}
    seen: set[Ref] = set()
    out: list[CollectiveChange] = []
    for ca in a.sharding.collectives:
        ref = m.a_to_b.get((ca.computation, ca.name))
        cb = in_b.get(ref) if ref is not None else None
        if cb is None:
            out.append(_collective_change("removed", ca, None))
            continue
        assert ref is not None
        seen.add(ref)
        if ca.axes != cb.axes or ca.group_size != cb.group_size or ca.kind != cb.kind:
            out.append(_collective_change("moved", ca, cb))
        elif not (_same(ca.bytes_per_device, cb.bytes_per_device) and ca.count == cb.count):
            out.append(_collective_change("resized", ca, cb))
    out.extend(_collective_change("added", None, cb) for ref, cb in in_b.items()
               if ref not in seen)
    out.sort(key=lambda c: (-abs(c.total_delta), c.status, c.source))
    return tuple(out)


def _collective_change(status: str, ca: Collective | None, cb: Collective | None
                       ) -> CollectiveChange:
    some = cb if cb is not None else ca
    assert some is not None
    return CollectiveChange(
        status=status, kind=some.kind,
        axes_a=ca.axes_label if ca else None, axes_b=cb.axes_label if cb else None,
        name_a=ca.name if ca else None, name_b=cb.name if cb else None,
        bytes_a=ca.bytes_per_device if ca else None, bytes_b=cb.bytes_per_device if cb else None,
        count_a=ca.count if ca else None, count_b=cb.count if cb else None,
        total_bytes_a=ca.total_bytes if ca else None,
        total_bytes_b=cb.total_bytes if cb else None,
        time_a=ca.total_s if ca else None, time_b=cb.total_s if cb else None,
        source=f"{some.source_file}:{some.source_line}" if some.source_file else some.source,
        op_name=some.op_name,
    )


# -- kernels --------------------------------------------------------------------------------


def _members(module: Module, comp_name: str, name: str) -> list[Ref]:
    """The kernel instruction and every instruction of the computations it fuses or wraps."""
    out: list[Ref] = [(comp_name, name)]
    ins = module.by_name[comp_name].by_name[name]
    if ins.opcode not in ("fusion", "async-start"):
        return out
    stack = list(ins.called[:1])
    seen: set[str] = set()
    while stack:
        cname = stack.pop()
        comp = module.by_name.get(cname)
        if comp is None or cname in seen:
            continue
        seen.add(cname)
        for inner in comp.instructions:
            if inner.opcode == "parameter":
                continue
            out.append((cname, inner.name))
            if inner.opcode in ("fusion", "async-start") and inner.called:
                stack.append(inner.called[0])
    return out


def _linking(module: Module, refs: list[Ref]) -> list[Ref]:
    """Members that link kernels: not cheap copies XLA duplicates, unless that is all."""
    keep = [r for r in refs if module.by_name[r[0]].by_name[r[1]].opcode not in NO_LINK]
    return keep or refs


class _Kernels:
    """One side's kernels, their linking members and estimated times."""

    def __init__(self, side: DiffSide) -> None:
        assert side.fusion is not None
        assert side.module is not None
        self.side = side
        self.kernels: list[Kernel] = list(side.fusion.kernels)
        self.owner: dict[Ref, int] = {}
        self.links: list[list[Ref]] = []
        for i, k in enumerate(self.kernels):
            members = _linking(side.module, _members(side.module, k.computation, k.name))
            self.links.append(members)
            for r in members:
                self.owner.setdefault(r, i)

    def time(self, i: int) -> float | None:
        r = self.side.roofline
        if r is None:
            return None
        est = r.by_kernel.get(self.kernels[i].name)
        return est.total_s if est is not None else 0.0


def _kernel_groups(ka: _Kernels, kb: _Kernels, m: Matching
                   ) -> list[tuple[list[int], list[int]]]:
    """Connected groups of kernels linked by matched members: (A indices, B indices)."""
    na = len(ka.kernels)
    parent = list(range(na + len(kb.kernels)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, refs in enumerate(ka.links):
        for r in refs:
            partner = m.a_to_b.get(r)
            j = kb.owner.get(partner) if partner is not None else None
            if j is not None:
                ri, rj = find(i), find(na + j)
                if ri != rj:
                    parent[rj] = ri
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for i in range(na):
        groups.setdefault(find(i), ([], []))[0].append(i)
    for j in range(len(kb.kernels)):
        groups.setdefault(find(na + j), ([], []))[1].append(j)
    return list(groups.values())


def _kernels(a: DiffSide, b: DiffSide, m: Matching) -> tuple[KernelChange, ...]:
    ka, kb = _Kernels(a), _Kernels(b)
    changed = {c.a: c for c in m.changed}
    out: list[KernelChange] = []
    for xs, ys in _kernel_groups(ka, kb, m):
        status = _group_status(len(xs), len(ys))
        fields: tuple[str, ...] = ()
        if status == "same":
            k1, k2 = ka.kernels[xs[0]], kb.kernels[ys[0]]
            own = changed.get((k1.computation, k1.name))
            fields = own.what if own is not None else ()
            inner = any(r in changed for r in ka.links[xs[0]][1:])
            if not (fields or inner) and _same(k1.flops, k2.flops) and _same(
                    k1.bytes_accessed, k2.bytes_accessed):
                continue
            status = "changed"
        out.append(_kernel_change(status, ka, xs, kb, ys, fields))
    out.sort(key=lambda k: (-abs(k.time_delta or 0.0), -abs(k.bytes_b - k.bytes_a),
                            -abs(k.flops_b - k.flops_a), k.status))
    return tuple(out)


def _group_status(n_a: int, n_b: int) -> str:
    if n_a == 0:
        return "added"
    if n_b == 0:
        return "removed"
    if n_a == 1 and n_b == 1:
        return "same"
    if n_a == 1:
        return "split"
    if n_b == 1:
        return "merged"
    return "regrouped"


def _sum(values: Iterable[float | None]) -> float | None:
    total = 0.0
    for v in values:
        if v is None:
            return None
        total += v
    return total


def _kernel_change(status: str, ka: _Kernels, xs: list[int], kb: _Kernels, ys: list[int],
                   changes: tuple[str, ...] = ()) -> KernelChange:
    ks_a = [ka.kernels[i] for i in xs]
    ks_b = [kb.kernels[j] for j in ys]
    every = ks_b or ks_a
    first = every[0]
    return KernelChange(
        status=status,
        a=tuple(k.name for k in ks_a),
        b=tuple(k.name for k in ks_b),
        category=first.category,
        what=_describe(ks_a, ks_b),
        source=first.primary_source,
        flops_a=sum(k.flops * k.count for k in ks_a),
        flops_b=sum(k.flops * k.count for k in ks_b),
        bytes_a=sum(k.bytes_accessed * k.count for k in ks_a),
        bytes_b=sum(k.bytes_accessed * k.count for k in ks_b),
        time_a=_sum(ka.time(i) for i in xs) if ka.side.roofline is not None else None,
        time_b=_sum(kb.time(j) for j in ys) if kb.side.roofline is not None else None,
        changes=changes,
    )


def _kernel_words(k: Kernel) -> str:
    ops = [o for o in k.opcodes if o not in ("parameter", "constant")]
    shown = ", ".join(ops[:4]) + (f" +{len(ops) - 4}" if len(ops) > 4 else "")
    kind = k.kind if k.opcode == "fusion" else k.opcode
    return f"{kind}({shown})" if k.opcode == "fusion" else kind


def _scope(k: Kernel) -> str:
    """The kernel's first name scope that is one (`jit(f)/block0/mlp`), without `jit(f)/`.
    XLA names some instructions it creates after themselves (`broadcast.22`): skipped."""
    for s in k.scopes:
        if "/" in s or s.startswith("jit("):
            return s.split(")/", 1)[1] if s.startswith("jit(") and ")/" in s else s
    return ""


def _describe(ks_a: list[Kernel], ks_b: list[Kernel]) -> str:
    scopes: dict[str, None] = {}
    for k in (*ks_a, *ks_b):
        scope = _scope(k)
        if scope:
            scopes[scope] = None
    left = " + ".join(_kernel_words(k) for k in ks_a[:3]) + (" ..." if len(ks_a) > 3 else "")
    right = " + ".join(_kernel_words(k) for k in ks_b[:3]) + (" ..." if len(ks_b) > 3 else "")
    text = f"{left} -> {right}" if ks_a and ks_b and left != right else (left or right)
    scope = next(iter(scopes), "")
    return f"{text} in {scope}" if scope else text


# -- source lines ---------------------------------------------------------------------------


def _line_times(side: DiffSide) -> dict[str, float] | None:
    if side.roofline is None or side.fusion is None:
        return None
    times: dict[str, float] = {}
    for k in side.fusion.kernels:
        est = side.roofline.by_kernel.get(k.name)
        if est is not None:
            line = k.primary_source or "?"
            times[line] = times.get(line, 0.0) + est.total_s
    return times


def _lines(a: DiffSide, b: DiffSide) -> tuple[LineDelta, ...]:
    assert a.fusion is not None
    assert b.fusion is not None
    la, lb = a.fusion.by_source, b.fusion.by_source
    ta, tb = _line_times(a), _line_times(b)
    out: list[LineDelta] = []
    for line in dict.fromkeys((*la, *lb)):
        x, y = la.get(line), lb.get(line)
        d = LineDelta(
            source=line, function=(x or y).function if (x or y) else "",  # type: ignore[union-attr]
            flops_a=x.flops if x else 0.0, flops_b=y.flops if y else 0.0,
            bytes_a=x.bytes_accessed if x else 0.0, bytes_b=y.bytes_accessed if y else 0.0,
            time_a=ta.get(line, 0.0) if ta is not None else None,
            time_b=tb.get(line, 0.0) if tb is not None else None,
        )
        if (_same(d.flops_a, d.flops_b) and _same(d.bytes_a, d.bytes_b)
                and _same(d.time_a, d.time_b)):
            continue
        out.append(d)
    out.sort(key=lambda d: (-abs(d.time_delta or 0.0), -abs(d.bytes_b - d.bytes_a),
                            -abs(d.flops_b - d.flops_a), d.source))
    return tuple(out)


# -- parameters -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Param:
    label: str
    shape: str
    sharding: str | None
    layout: str | None
    global_shape: str | None
    bytes: int


def _params(side: DiffSide) -> dict[str, _Param]:
    """Entry parameter name -> what the diff compares."""
    assert side.module is not None
    entry = side.module.entry_computation
    values = {}
    if side.sharding is not None:
        values = {v.name: v for v in side.sharding.values if v.role == "parameter"}
    from hloscope.hlo.sharding import format_sharding

    out: dict[str, _Param] = {}
    for pname in entry.parameters:
        ins = entry.by_name[pname]
        v = values.get(pname)
        layout = None
        if v is not None and v.dims is not None:
            layout = ", ".join("-" if d == "replicated" else d for d in v.dims)
        out[pname] = _Param(
            label=ins.op_name or pname,
            shape=shape_text(ins.shape),
            sharding=format_sharding(ins.sharding) if ins.sharding is not None else None,
            layout=layout,
            global_shape=v.global_shape if v is not None else None,
            bytes=sum(leaf.byte_size() for _, leaf in ins.shape.leaves()),
        )
    return out


def _parameters(a: DiffSide, b: DiffSide, m: Matching) -> tuple[ParameterChange, ...]:
    assert a.module is not None
    assert b.module is not None
    pa, pb = _params(a), _params(b)
    entry_a, entry_b = a.module.entry, b.module.entry
    out: list[ParameterChange] = []
    seen: set[str] = set()
    for name, x in pa.items():
        ref = m.a_to_b.get((entry_a, name))
        y = pb.get(ref[1]) if ref is not None and ref[0] == entry_b else None
        if y is None:
            out.append(ParameterChange(status="removed", label=x.label, shape_a=x.shape,
                                       shape_b=None, sharding_a=x.sharding, sharding_b=None,
                                       layout_a=x.layout, global_a=x.global_shape,
                                       bytes_a=x.bytes))
            continue
        assert ref is not None
        seen.add(ref[1])
        if (x.shape, x.sharding) != (y.shape, y.sharding):
            out.append(ParameterChange(
                status="changed", label=x.label, shape_a=x.shape, shape_b=y.shape,
                sharding_a=x.sharding, sharding_b=y.sharding, layout_a=x.layout,
                layout_b=y.layout, global_a=x.global_shape, global_b=y.global_shape,
                bytes_a=x.bytes, bytes_b=y.bytes))
    for name, y in pb.items():
        if name not in seen:
            out.append(ParameterChange(status="added", label=y.label, shape_a=None,
                                       shape_b=y.shape, sharding_a=None, sharding_b=y.sharding,
                                       layout_b=y.layout, global_b=y.global_shape,
                                       bytes_b=y.bytes))
    return tuple(out)


# -- memory ---------------------------------------------------------------------------------


def _memory(a: DiffSide, b: DiffSide, m: Matching) -> MemoryDelta:
    assert a.memory is not None
    assert b.memory is not None
    rows: dict[Any, dict[str, Any]] = {}
    for side, report in (("a", a.memory), ("b", b.memory)):
        for buf in report.at_peak:
            ref: Ref = (buf.computation, buf.defined_by)
            leaf = buf.name[len(buf.defined_by):] if buf.name.startswith(buf.defined_by) else ""
            key: Any
            if side == "a":
                key = (ref, leaf)
            else:
                back = m.b_to_a.get(ref)
                key = (back, leaf) if back is not None else ("b", ref, leaf)
            row = rows.setdefault(key, {"kind": buf.kind, "source": buf.source})
            row[f"name_{side}"] = buf.name
            row[f"shape_{side}"] = buf.shape
            row[f"bytes_{side}"] = row.get(f"bytes_{side}", 0) + buf.bytes
    buffers = [
        BufferDelta(name_a=r.get("name_a"), name_b=r.get("name_b"), kind=r["kind"],
                    shape_a=r.get("shape_a"), shape_b=r.get("shape_b"),
                    bytes_a=r.get("bytes_a", 0), bytes_b=r.get("bytes_b", 0), source=r["source"])
        for r in rows.values()
    ]
    buffers = [x for x in buffers if x.delta or x.shape_a != x.shape_b]
    buffers.sort(key=lambda x: (-abs(x.delta), x.name_a or x.name_b or ""))
    return MemoryDelta(peak_a=a.memory.peak_bytes, peak_b=b.memory.peak_bytes,
                       split_a=dict(a.memory.peak_split), split_b=dict(b.memory.peak_split),
                       buffers=tuple(buffers))


__all__ = [
    "SCHEMA",
    "BufferDelta",
    "CollectiveChange",
    "DiffReport",
    "DiffSide",
    "InstructionChange",
    "KernelChange",
    "LineDelta",
    "MemoryDelta",
    "ParameterChange",
    "TotalRow",
    "run",
]
