"""What `hloscope.diff` returns: the DiffReport, its rows and the two sides it compares
(built by `passes/diff.py`). Frozen values; `to_json()` is the `--json` document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hloscope.passes.diff_match import Matching, Ref, shape_text

if TYPE_CHECKING:
    from hloscope.hlo.model import Module
    from hloscope.passes.cost import CostReport
    from hloscope.passes.fusion import FusionReport
    from hloscope.passes.memory import MemoryReport
    from hloscope.passes.roofline import RooflineReport
    from hloscope.passes.sharding import ShardingReport

SCHEMA = "hloscope.diff/1"
REL_TOLERANCE = 1e-9
"""Relative difference below which two figures count as equal (float sums in another order)."""
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
    versions: Mapping[str, str] = field(default_factory=dict)
    """jax / jaxlib versions that compiled it, when recorded."""
    missing: Mapping[str, str] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        return {"label": self.label, "name": self.name, "hardware": self.hardware,
                "mesh": self.mesh, "devices": self.devices, "platform": self.platform,
                "versions": dict(self.versions),
                "instructions": self.module.instruction_count if self.module else None}


# -- report values --------------------------------------------------------------------------


def source_order(source: str) -> tuple[str, int]:
    """Sort key of a `file:line`: by file, then by line number (`:9` before `:10`)."""
    path, _, line = source.rpartition(":")
    return (path, int(line)) if path and line.isdigit() else (source, -1)


def delta_of(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def relative_of(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or a == 0:
        return None
    return (b - a) / abs(a)


def same(a: float | None, b: float | None) -> bool:
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
        return delta_of(self.a, self.b)

    @property
    def rel(self) -> float | None:
        return relative_of(self.a, self.b)

    @property
    def changed(self) -> bool:
        return not same(self.a, self.b)

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

    @property
    def time_delta(self) -> float | None:
        """Δ estimated seconds per step; a side without the collective counts 0 (None when
        neither side has an estimate)."""
        if self.time_a is None and self.time_b is None:
            return None
        return (self.time_b or 0.0) - (self.time_a or 0.0)

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
        return delta_of(self.time_a, self.time_b)

    @property
    def flops_delta(self) -> float:
        return self.flops_b - self.flops_a

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
        return delta_of(self.time_a, self.time_b)

    @property
    def flops_delta(self) -> float:
        return self.flops_b - self.flops_a

    @property
    def bytes_delta(self) -> float:
        return self.bytes_b - self.bytes_a

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
    name_a: str | None = None
    """The entry parameter instruction on each side (where the HLO text defines it)."""
    name_b: str | None = None

    @property
    def bytes_delta(self) -> int | None:
        """None unless both sides have the parameter."""
        return None if self.bytes_a is None or self.bytes_b is None else self.bytes_b - self.bytes_a

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "label": self.label, "shape_a": self.shape_a,
                "shape_b": self.shape_b, "sharding_a": self.sharding_a,
                "sharding_b": self.sharding_b, "axes_a": self.layout_a,
                "axes_b": self.layout_b, "global_shape_a": self.global_a,
                "global_shape_b": self.global_b, "bytes_a": self.bytes_a,
                "bytes_b": self.bytes_b, "name_a": self.name_a, "name_b": self.name_b}


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

    def split_delta(self) -> dict[str, int]:
        """Δ bytes at the peak of each kind that changed (A's kinds first, then B's)."""
        kinds = dict.fromkeys((*self.split_a, *self.split_b))
        return {k: self.split_b.get(k, 0) - self.split_a.get(k, 0) for k in kinds
                if self.split_b.get(k, 0) != self.split_a.get(k, 0)}

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

    def collective_groups(self) -> tuple[tuple[str, str, str, int, float], ...]:
        """(status, kind, axes, how many, Δ bytes per device per step) for each kind of
        change, the largest |Δ bytes| first: "27 all-gathers over data removed"."""
        acc: dict[tuple[str, str, str], list[float]] = {}
        for c in self.collectives:
            row = acc.setdefault((c.status, c.kind, c.axes), [0, 0.0])
            row[0] += 1
            row[1] += c.total_delta
        return tuple(sorted(((s, k, ax, int(n), d) for (s, k, ax), (n, d) in acc.items()),
                            key=lambda g: (-abs(g[4]), g[0], g[1], g[2])))

    def kernels_with(self, status: str) -> tuple[KernelChange, ...]:
        return tuple(k for k in self.kernels if k.status == status)

    def status_counts(self, section: str) -> dict[str, int]:
        """Changes of each status in `collectives`, `kernels` or `parameters`, in the order
        the section first lists them."""
        sections: dict[str, tuple[CollectiveChange | KernelChange | ParameterChange, ...]] = {
            "collectives": self.collectives, "kernels": self.kernels,
            "parameters": self.parameters,
        }
        out: dict[str, int] = {}
        for r in sections[section]:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def unmatched_opcodes(self, side: str) -> dict[str, int] | None:
        """Instructions only on side `a` or `b`, counted by opcode (first seen first); None
        without a matching or that side's module."""
        s, m = (self.a if side == "a" else self.b), self.matching
        if m is None or s.module is None:
            return None
        out: dict[str, int] = {}
        for comp, name in m.unmatched_a if side == "a" else m.unmatched_b:
            op = s.module.by_name[comp].by_name[name].opcode
            out[op] = out.get(op, 0) + 1
        return out

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


