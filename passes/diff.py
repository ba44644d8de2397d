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

The report's types live in `passes/diff_report.py` (re-exported here), the kernel
correspondence in `passes/diff_kernels.py`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hloscope.passes.diff_kernels import kernel_changes
from hloscope.passes.diff_match import InstructionChange, Matching, Ref, match, shape_text
from hloscope.passes.diff_report import (
    SCHEMA,
    BufferDelta,
    CollectiveChange,
    DiffReport,
    DiffSide,
    KernelChange,
    LineDelta,
    MemoryDelta,
    ParameterChange,
    TotalRow,
    same,
    source_order,
)

if TYPE_CHECKING:
    from hloscope.passes.sharding import Collective

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
    kernels = _section("kernels", unavailable, a, b, ("fusion",),
                       lambda: kernel_changes(a, b, m))
    lines = _section("source_lines", unavailable, a, b, ("fusion",), lambda: _lines(a, b))
    parameters = _parameters(a, b, m)
    memory = _section("memory", unavailable, a, b, ("memory",), lambda: (_memory(a, b, m),))
    totals = _totals(a, b)
    for lib in ("jax", "jaxlib"):
        va, vb = a.versions.get(lib), b.versions.get(lib)
        if va and vb and va != vb:
            notes.append(f"A was compiled by {lib} {va}, B by {lib} {vb}")
    if a.hardware and b.hardware and a.hardware != b.hardware:
        notes.append(f"estimated times use {a.hardware} for A and {b.hardware} for B")
    if m.by_stage.get("order"):
        notes.append(f"{m.by_stage['order']} instruction(s) matched by program order alone "
                     "(same op_name, line, opcode and shape, in equal numbers)")
    identical = m.identical and not any(r.changed for r in totals)
    if identical and lines:
        notes.append(f"the same program; costs moved between {len(lines)} Python line(s): "
                     "source metadata only (the code moved in its file)")
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
    unavailable: dict[str, str] = {"instructions": "; ".join(
        f"{tag}: {side.missing.get('module', 'no optimized HLO')}"
        for side, tag in ((a, "A"), (b, "B")) if side.module is None)}
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
        elif not (same(ca.bytes_per_device, cb.bytes_per_device) and ca.count == cb.count):
            out.append(_collective_change("resized", ca, cb))
    out.extend(_collective_change("added", None, cb) for ref, cb in in_b.items()
               if ref not in seen)
    # Equal changes by status, line, kind, axes, then names (unique on each side): a total
    # order, so the report never depends on the order collectives came in.
    out.sort(key=lambda c: (-abs(c.total_delta), c.status, source_order(c.source), c.kind,
                            c.axes, c.name_a or "", c.name_b or ""))
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
        source=some.source,
        op_name=some.op_name,
    )


# -- source lines ---------------------------------------------------------------------------


def _line_times(side: DiffSide) -> dict[str, float] | None:
    if side.roofline is None or side.fusion is None:
        return None
    parts: dict[str, list[float]] = {}
    for k in side.fusion.kernels:
        est = side.roofline.by_kernel.get(k.name)
        if est is not None:
            parts.setdefault(k.primary_source or "?", []).append(est.total_s)
    # Exactly rounded: the same whatever order the kernels come in.
    return {line: math.fsum(ts) for line, ts in parts.items()}


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
        if (same(d.flops_a, d.flops_b) and same(d.bytes_a, d.bytes_b)
                and same(d.time_a, d.time_b)):
            continue
        out.append(d)
    out.sort(key=lambda d: (-abs(d.time_delta or 0.0), -abs(d.bytes_b - d.bytes_a),
                            -abs(d.flops_b - d.flops_a), source_order(d.source), d.source))
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
                                       bytes_a=x.bytes, name_a=name))
            continue
        assert ref is not None
        seen.add(ref[1])
        if (x.shape, x.sharding) != (y.shape, y.sharding):
            out.append(ParameterChange(
                status="changed", label=x.label, shape_a=x.shape, shape_b=y.shape,
                sharding_a=x.sharding, sharding_b=y.sharding, layout_a=x.layout,
                layout_b=y.layout, global_a=x.global_shape, global_b=y.global_shape,
                bytes_a=x.bytes, bytes_b=y.bytes, name_a=name, name_b=ref[1]))
    for name, y in pb.items():
        if name not in seen:
            out.append(ParameterChange(status="added", label=y.label, shape_a=None,
                                       shape_b=y.shape, sharding_a=None, sharding_b=y.sharding,
                                       layout_b=y.layout, global_b=y.global_shape,
                                       bytes_b=y.bytes, name_b=name))
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
    # Names are unique on each side: a total order.
    buffers.sort(key=lambda x: (-abs(x.delta), x.name_a or x.name_b or "", x.name_b or "",
                                x.kind, x.source or ""))
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
