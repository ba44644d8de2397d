"""Memory over the schedule: bytes live at each step, the peak, what holds it, and whether it
fits a device.

Figures are per device (an SPMD module is already the per-device program) and derived from the
optimized, scheduled HLO by the buffer model in `passes/liveness.py`. XLA's own totals
(`memory_analysis()`), and its buffer assignment when a dump folder gave one, are shown beside
ours with the reasons they differ.

Three "how much" figures, from small to large:
- `whole_run_bytes`: parameters, outputs and constants: what XLA's CPU client reports as
  `peak_memory_in_bytes` (CPU buffer assignments carry no heap-simulator trace, so XLA leaves
  temporaries out of that figure).
- `peak_bytes`: the most bytes live at one step (parameters + outputs defined so far + live
  temporaries + constants): the memory the program needs at its worst moment.
- `reserved_bytes`: whole-run bytes + the most temporaries live at once: what XLA's scheme of
  output buffers plus one temp arena holds for the whole run, before its heap packing adds
  alignment and fragmentation (`temp_size_in_bytes` is the packed arena).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hloscope.hlo.shapes import format_shape
from hloscope.hlo.sharding import format_sharding
from hloscope.hlo.source import source_of
from hloscope.passes.liveness import (
    Buffer,
    BufferKind,
    Liveness,
    Value,
    build,
    tree_leaves,
    tree_values,
)

if TYPE_CHECKING:
    from hloscope.buffer_assignment import XlaBufferAssignment
    from hloscope.hardware import Hardware
    from hloscope.hlo.model import Module
    from hloscope.records import XlaMemory

SHARES_SHOWN = 6
"""Other values named per buffer in `LiveBuffer.shares_with`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveBuffer:
    """One buffer live at the peak, named after the value it holds at that moment."""

    name: str
    """Label of the value that produced the data (`fusion.3`, `custom-call{1}`)."""
    held_as: str = ""
    """The loop parameter or loop/branch result holding it at the peak (`arg_tuple.1{3}`),
    when not the producer itself."""
    bytes: int
    shape: str
    defined_by: str
    """Instruction that defined the value."""
    computation: str
    kind: str
    """parameter, donated (a parameter's storage the output reuses), output, constant or
    temp."""
    op_name: str
    source: str | None
    """Python `file:line` of the defining instruction, when the HLO carries it."""
    live_from: int
    """First entry schedule step the buffer is live."""
    live_to: int
    """Last entry schedule step the buffer is live."""
    shares_with: tuple[str, ...] = ()
    """Other values stored in the same buffer (loop carry, in-place updates, reuse)."""
    xla_allocation: int | None = None
    """XLA's allocation holding this value, when its buffer assignment is known."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "held_as": self.held_as, "bytes": self.bytes,
            "shape": self.shape,
            "defined_by": self.defined_by, "computation": self.computation, "kind": self.kind,
            "op_name": self.op_name, "source": self.source, "live_from": self.live_from,
            "live_to": self.live_to, "shares_with": list(self.shares_with),
            "xla_allocation": self.xla_allocation,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterInfo:
    number: int
    name: str
    shape: str
    bytes: int
    """Per-device (shard) bytes, tuple tables included."""
    donated_to: tuple[tuple[int, ...], ...] = ()
    """Output indices that reuse this parameter's storage (`input_output_alias`)."""
    op_name: str = ""
    """jax's name for the argument (`params['w1']`)."""
    sharding: str | None = None
    """The parameter's HloSharding: how the global array was cut into this shard."""

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "name": self.name, "shape": self.shape,
                "bytes": self.bytes, "donated_to": [list(i) for i in self.donated_to],
                "op_name": self.op_name, "sharding": self.sharding}


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputInfo:
    index: tuple[int, ...]
    shape: str
    bytes: int
    defined_by: str
    aliases_parameter: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"index": list(self.index), "shape": self.shape, "bytes": self.bytes,
                "defined_by": self.defined_by, "aliases_parameter": self.aliases_parameter}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fit:
    """Whether the program's memory fits one device of a named hardware."""

    hardware: str
    capacity_bytes: int
    required_bytes: int
    margin_bytes: int
    """capacity - required; negative when it does not fit."""
    fits: bool
    basis: str
    """What `required_bytes` is: `xla` (XLA's arguments + outputs - aliases + temp arena) or
    `model` (our reserved bytes)."""

    def to_json(self) -> dict[str, Any]:
        return {"hardware": self.hardware, "capacity_bytes": self.capacity_bytes,
                "required_bytes": self.required_bytes, "margin_bytes": self.margin_bytes,
                "fits": self.fits, "basis": self.basis}


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocationRow:
    """One XLA allocation beside the buffers of this model that landed in it."""

    index: int
    kind: str
    xla_bytes: int
    values: tuple[str, ...]
    our_buffers: int
    """Distinct buffers of this model among the allocation's values."""
    agrees: bool
    """No two of our buffers XLA placed at overlapping bytes here are live at the same time."""

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "xla_bytes": self.xla_bytes,
                "values": list(self.values), "our_buffers": self.our_buffers,
                "agrees": self.agrees}


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryReport:
    peak_bytes: int
    peak_step: int
    """Entry schedule step of the peak (a while/call/conditional step when the peak is inside
    the computation it runs)."""
    peak_instruction: str
    """The instruction at the peak moment (possibly inside a nested computation)."""
    peak_computation: str
    timeline: tuple[int, ...]
    """Bytes live at each entry schedule step; nested computations count at their call site
    as their highest point."""
    at_peak: tuple[LiveBuffer, ...]
    """Buffers live at the peak, largest first."""
    peak_split: Mapping[str, int]
    """Bytes at the peak by kind: parameter, output, constant, temp."""
    argument_bytes: int
    output_bytes: int
    """Bytes of buffers holding the outputs (tuple tables included), as XLA counts them."""
    alias_bytes: int
    """Parameter bytes reused by outputs (donation)."""
    constant_bytes: int
    temp_bytes: int
    """The most temporaries live at one step."""
    whole_run_bytes: int
    reserved_bytes: int
    parameters: tuple[ParameterInfo, ...]
    outputs: tuple[OutputInfo, ...]
    xla_peak_bytes: int | None = None
    xla: Mapping[str, int] = field(default_factory=dict)
    """XLA's figures (argument, output, alias, temp, total, peak bytes), when known."""
    xla_source: str = ""
    """`memory_analysis` or `buffer-assignment` (sums over a dump's allocations)."""
    xla_assignment: tuple[AllocationRow, ...] = ()
    assignment_conflicts: tuple[str, ...] = ()
    """Where XLA's buffer assignment and this model's live ranges disagree."""
    fits: Mapping[str, Fit] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """Why our figures differ from XLA's, and what the model could not see."""
    scheduled: bool = True
    steps: int = 0
    """Flattened steps (entry plus nested computations)."""
    buffer_count: int = 0

    def peak_share(self, hardware: str) -> float | None:
        """The peak as a share of the named device's capacity; None when it is not in `fits`
        (or lists no capacity)."""
        fit = self.fits.get(hardware)
        if fit is None or not fit.capacity_bytes:
            return None
        return self.peak_bytes / fit.capacity_bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "peak_bytes": self.peak_bytes, "peak_step": self.peak_step,
            "peak_instruction": self.peak_instruction,
            "peak_computation": self.peak_computation,
            "xla_peak_bytes": self.xla_peak_bytes,
            "timeline": list(self.timeline),
            "at_peak": [b.to_json() for b in self.at_peak],
            "peak_split": dict(self.peak_split),
            "argument_bytes": self.argument_bytes, "output_bytes": self.output_bytes,
            "alias_bytes": self.alias_bytes, "constant_bytes": self.constant_bytes,
            "temp_bytes": self.temp_bytes, "whole_run_bytes": self.whole_run_bytes,
            "reserved_bytes": self.reserved_bytes,
            "parameters": [p.to_json() for p in self.parameters],
            "outputs": [o.to_json() for o in self.outputs],
            "xla": dict(self.xla), "xla_source": self.xla_source,
            "xla_assignment": [r.to_json() for r in self.xla_assignment],
            "assignment_conflicts": list(self.assignment_conflicts),
            "fits": {k: v.to_json() for k, v in self.fits.items()},
            "notes": list(self.notes), "scheduled": self.scheduled, "steps": self.steps,
            "buffer_count": self.buffer_count,
        }


# -- the pass -----------------------------------------------------------------------------------


def run(
    module: Module,
    *,
    xla_memory: XlaMemory | None = None,
    buffer_assignment: XlaBufferAssignment | str | None = None,
    hardware: Sequence[Hardware] | None = None,
    platform: str = "",
) -> MemoryReport:
    """Memory report of a scheduled module. `hardware`: devices to check the fit on (default:
    every named device except the measured `cpu`). `platform`: where the capture was compiled
    (`cpu`, `gpu`, `tpu`), to read XLA's peak under its own convention."""
    if isinstance(buffer_assignment, str):
        from hloscope.buffer_assignment import parse_buffer_assignment

        buffer_assignment = parse_buffer_assignment(buffer_assignment)
    live = build(module)
    flat, temps = _profiles(live)
    peak_time = max(range(len(flat)), key=flat.__getitem__) if flat else 0
    peak_bytes = flat[peak_time] if flat else 0
    totals = _totals(live)
    temp_bytes = max(temps, default=0)
    at_peak = _at_peak(live, peak_time, buffer_assignment) if flat else ()
    xla, xla_source = _xla_figures(xla_memory, buffer_assignment)
    reserved = totals["whole_run"] + temp_bytes
    notes = _notes(live, totals, temp_bytes, peak_bytes, xla, xla_source, platform)
    rows, conflicts = (_assignment_rows(live, buffer_assignment) if buffer_assignment
                       else ((), ()))
    return MemoryReport(
        peak_bytes=peak_bytes,
        peak_step=live.entry_step_at[peak_time] if flat else 0,
        peak_instruction=live.sequence[peak_time].name if flat else "",
        peak_computation=live.computation_at[peak_time] if flat else "",
        timeline=_entry_timeline(live, flat),
        at_peak=at_peak,
        peak_split=_split(at_peak),
        argument_bytes=totals["argument"], output_bytes=totals["output"],
        alias_bytes=totals["alias"], constant_bytes=totals["constant"],
        temp_bytes=temp_bytes, whole_run_bytes=totals["whole_run"], reserved_bytes=reserved,
        parameters=_parameters(live), outputs=_outputs(live),
        xla_peak_bytes=xla.get("peak_bytes"),
        xla=xla, xla_source=xla_source,
        xla_assignment=rows, assignment_conflicts=conflicts,
        fits=_fits(_hardware(hardware), reserved, xla),
        notes=notes, scheduled=module.is_scheduled, steps=len(flat),
        buffer_count=sum(1 for b in live.buffers if b.size),
    )


# -- profiles -----------------------------------------------------------------------------------


def _profiles(live: Liveness) -> tuple[list[int], list[int]]:
    """Bytes live at each flattened time, all buffers and temporaries only (difference arrays:
    linear in buffers + steps)."""
    n = len(live.sequence)
    if n == 0:
        return [], []
    delta = [0] * (n + 1)
    delta_temp = [0] * (n + 1)
    for b in live.buffers:
        if not b.size:
            continue
        for start, end in b.segments:
            lo, hi = min(start, n - 1), min(end, n - 1)
            delta[lo] += b.size
            delta[hi + 1] -= b.size
            if b.kind is BufferKind.TEMP:
                delta_temp[lo] += b.size
                delta_temp[hi + 1] -= b.size
    return _prefix(delta, n), _prefix(delta_temp, n)


def _prefix(delta: list[int], n: int) -> list[int]:
    out = [0] * n
    running = 0
    for t in range(n):
        running += delta[t]
        out[t] = running
    return out


def _entry_timeline(live: Liveness, flat: list[int]) -> tuple[int, ...]:
    """Fold flattened times onto entry steps: a step's figure is the highest of its own time
    and the times of the computations it runs."""
    steps = (live.entry_step_at[-1] + 1) if live.entry_step_at else 0
    out = [0] * steps
    for t, bytes_ in enumerate(flat):
        s = live.entry_step_at[t]
        if bytes_ > out[s]:
            out[s] = bytes_
    return tuple(out)


# -- totals -------------------------------------------------------------------------------------


def _totals(live: Liveness) -> dict[str, int]:
    """XLA's accounting (`PopulateBufferStatsFromAllocations`) over our buffers."""
    out_buffers = _output_buffers(live)
    totals = {"argument": 0, "output": 0, "alias": 0, "constant": 0}
    for b in live.buffers:
        if b.kind is BufferKind.PARAMETER:
            totals["argument"] += b.size
            if b.donated:
                totals["alias"] += b.size
        if b.id in out_buffers:
            totals["output"] += b.size
        elif b.kind is BufferKind.CONSTANT:
            totals["constant"] += b.size
    totals["whole_run"] = (totals["argument"] + totals["output"] - totals["alias"]
                           + totals["constant"])
    return totals


def _output_buffers(live: Liveness) -> set[int]:
    if live.output_tree is None:
        return set()
    return {live.buffer_of_value[v] for v in tree_values(live.output_tree)}


# -- the buffers at the peak ---------------------------------------------------------------------


def _at_peak(live: Liveness, t: int, assignment: XlaBufferAssignment | None,
             ) -> tuple[LiveBuffer, ...]:
    rows = [_live_buffer(live, b, t, assignment) for b in live.buffers
            if b.size and any(lo <= t <= hi for lo, hi in b.segments)]
    rows.sort(key=lambda r: (-r.bytes, r.name))
    return tuple(rows)


def _holder(live: Liveness, b: Buffer, t: int) -> tuple[Value, Value]:
    """(the value the buffer holds at time t, the instruction's value that produced it): the
    latest defined at or before t, and the latest of those that is not a loop/branch result
    (a loop parameter holds what the previous iteration or the init produced)."""
    holder = producer = live.values[b.values[0]]
    for v in b.values:
        value = live.values[v]
        if value.start > t:
            break
        holder = value
        if not value.phi:
            producer = value
    return holder, producer


def _live_buffer(live: Liveness, b: Buffer, t: int,
                 assignment: XlaBufferAssignment | None) -> LiveBuffer:
    holder, value = _holder(live, b, t)
    last = live.end_time - 1
    others = tuple(dict.fromkeys(
        live.values[v].label for v in b.values
        if live.values[v].label != value.label and not live.values[v].phi
    ))
    alloc = None
    if assignment is not None:
        hit = assignment.by_value.get((value.instruction.name, value.index))
        alloc = hit[0] if hit else None
    return LiveBuffer(
        name=value.label, held_as=holder.label if holder is not value else "",
        bytes=b.size, shape=format_shape(value.shape),
        defined_by=value.instruction.name, computation=value.computation,
        kind="donated" if b.donated else b.kind.value,
        op_name=value.instruction.op_name, source=_source(live.module, value),
        live_from=live.entry_step_at[min(b.start, last)],
        live_to=live.entry_step_at[min(b.end, last)],
        shares_with=others[:SHARES_SHOWN], xla_allocation=alloc,
    )


def _source(module: Module, value: Value) -> str | None:
    loc = source_of(module, value.instruction)
    if loc is None:
        return None
    return f"{loc.file}:{loc.line}"


def _split(at_peak: Iterable[LiveBuffer]) -> dict[str, int]:
    split = {k.value: 0 for k in BufferKind}
    split["donated"] = 0
    for b in at_peak:
        split[b.kind] += b.bytes
    return split


# -- parameters and outputs -----------------------------------------------------------------------


def _parameters(live: Liveness) -> tuple[ParameterInfo, ...]:
    entry = live.module.entry_computation
    donated: dict[int, list[tuple[int, ...]]] = {}
    for a in live.module.input_output_alias:
        donated.setdefault(a.parameter_number, []).append(a.output_index)
    out = []
    for number, (name, tree) in enumerate(zip(entry.parameters, live.parameter_trees,
                                              strict=False)):
        instr = entry.by_name[name]
        out.append(ParameterInfo(
            number=number, name=name, shape=format_shape(instr.shape),
            bytes=sum(live.values[v].size for v in tree_values(tree)),
            donated_to=tuple(donated.get(number, ())), op_name=instr.op_name,
            sharding=format_sharding(instr.sharding) if instr.sharding else None,
        ))
    return tuple(out)


def _outputs(live: Liveness) -> tuple[OutputInfo, ...]:
    if live.output_tree is None:
        return ()
    aliased = {a.output_index: a.parameter_number for a in live.module.input_output_alias}
    out = []
    for index, v in tree_leaves(live.output_tree):
        value = live.values[v]
        out.append(OutputInfo(index=index, shape=format_shape(value.shape), bytes=value.size,
                              defined_by=value.instruction.name,
                              aliases_parameter=aliased.get(index)))
    return tuple(out)


# -- XLA's side ------------------------------------------------------------------------------------


def _xla_figures(xla_memory: XlaMemory | None, assignment: XlaBufferAssignment | None,
                 ) -> tuple[dict[str, int], str]:
    """XLA's totals and where they come from: `memory_analysis` (the capture's
    CompiledMemoryStats) or, for a dump folder, `buffer-assignment` (the same sums over the
    dumped allocations)."""
    if xla_memory is not None:
        m = xla_memory
        figures = {
            "argument_bytes": m.argument_bytes, "output_bytes": m.output_bytes,
            "alias_bytes": m.alias_bytes, "temp_bytes": m.temp_bytes,
            "generated_code_bytes": m.generated_code_bytes,
            "total_bytes": m.argument_bytes + m.output_bytes - m.alias_bytes + m.temp_bytes
            + m.generated_code_bytes,
        }
        if m.peak_bytes is not None:
            figures["peak_bytes"] = m.peak_bytes
        return figures, "memory_analysis"
    if assignment is not None:
        a = assignment
        return {
            "argument_bytes": a.argument_bytes, "output_bytes": a.output_bytes,
            "alias_bytes": a.alias_bytes, "temp_bytes": a.temp_bytes,
            "generated_code_bytes": 0,
            "total_bytes": a.argument_bytes + a.output_bytes - a.alias_bytes + a.temp_bytes,
        }, "buffer-assignment"
    return {}, ""


def _assignment_rows(live: Liveness, assignment: XlaBufferAssignment,
                     ) -> tuple[tuple[AllocationRow, ...], tuple[str, ...]]:
    """XLA's allocations beside our buffers, and where XLA's placement contradicts this
    model's live ranges: two values XLA stores in overlapping bytes that this model has live
    at the same time (beyond the one step where a dying operand hands its storage to a
    result)."""
    ours = {(v.instruction.name, v.index): v for v in live.values}
    spans = _value_spans(live)
    rows = []
    conflicts: list[str] = []
    budget = [_PAIR_BUDGET]
    for a in assignment.allocations:
        if a.thread_local:
            continue
        placed = []
        for x in a.values:
            v = ours.get((x.instruction, x.index))
            if v is not None and not x.is_phi and x.size:
                placed.append((x.offset, x.offset + x.size, v))
        found = _overlaps(live, a.index, placed, spans, budget)
        conflicts += found
        rows.append(AllocationRow(
            index=a.index, kind=a.kind, xla_bytes=a.size,
            values=tuple(x.label for x in a.values),
            our_buffers=len({live.buffer_of_value[v.id] for _, _, v in placed}),
            agrees=not found,
        ))
    if budget[0] <= 0:
        conflicts.append(f"assignment check stopped after {_PAIR_BUDGET} comparisons")
    return tuple(rows), tuple(conflicts)


_PAIR_BUDGET = 200_000


def _value_spans(live: Liveness) -> list[tuple[int, int]]:
    """Each value's own live span, whole-run values (undonated parameters, constants,
    outputs) stretched as their buffers are."""
    spans = []
    for v in live.values:
        b = live.buffers[live.buffer_of_value[v.id]]
        lo, hi = v.start, v.end
        if b.kind in (BufferKind.PARAMETER, BufferKind.CONSTANT) and not b.donated:
            lo, hi = 0, live.end_time
        elif b.kind is not BufferKind.TEMP and v.end >= b.end:
            hi = live.end_time
        spans.append((lo, hi))
    return spans


def _overlaps(live: Liveness, alloc: int, placed: list[tuple[int, int, Value]],
              spans: list[tuple[int, int]], budget: list[int]) -> list[str]:
    found = []
    placed.sort(key=lambda p: p[0])
    for i, (_lo1, hi1, v1) in enumerate(placed):
        for lo2, _hi2, v2 in placed[i + 1:]:
            if lo2 >= hi1 or budget[0] <= 0:
                break
            budget[0] -= 1
            (s1, e1), (s2, e2) = spans[v1.id], spans[v2.id]
            lo, hi = max(s1, s2), min(e1, e2)
            # Touching at one step is XLA's hand-over of a dying operand's storage to a result
            # of the same shape; anything longer, or of another shape, both need the bytes.
            shared = lo == hi and v1.shape == v2.shape
            if lo <= hi and not shared and live.buffer_of_value[v1.id] != \
                    live.buffer_of_value[v2.id]:
                t = max(s1, s2)
                found.append(
                    f"allocation {alloc}: XLA stores {v1.label} and {v2.label} in the same "
                    f"bytes; this model has both live at step "
                    f"{live.entry_step_at[min(t, live.end_time - 1)]}"
                )
    return found


def _hardware(hardware: Sequence[Hardware] | None) -> list[Hardware]:
    if hardware is not None:
        return list(hardware)
    from hloscope.hardware import get_hardware, names

    # `cpu` is measured on first use (a benchmark): only checked when asked for.
    return [get_hardware(n) for n in names() if n != "cpu"]


def _fits(hardware: Iterable[Hardware], reserved: int, xla: Mapping[str, int]) -> dict[str, Fit]:
    required, basis = reserved, "model"
    if "total_bytes" in xla:
        required, basis = max(xla["total_bytes"], reserved), "xla"
    out = {}
    for hw in hardware:
        capacity = int(hw.hbm_capacity_bytes)
        out[hw.name] = Fit(hardware=hw.name, capacity_bytes=capacity, required_bytes=required,
                           margin_bytes=capacity - required, fits=required <= capacity,
                           basis=basis)
    return out


def _pct(a: int, b: int) -> str:
    return f"{100.0 * (a - b) / b:+.1f}%" if b else "n/a"


def _notes(live: Liveness, totals: Mapping[str, int], temp_bytes: int, peak: int,
           xla: Mapping[str, int], source: str, platform: str) -> tuple[str, ...]:
    notes = list(live.notes)
    if not live.module.is_scheduled:
        notes.append("module is not scheduled (is_scheduled=false): text order is used as the "
                     "schedule, which XLA may not follow")
    if xla:
        notes += _xla_notes(totals, temp_bytes, peak, xla, source, platform)
    return tuple(notes)


def _xla_notes(totals: Mapping[str, int], temp_bytes: int, peak: int,
               xla: Mapping[str, int], source: str, platform: str) -> list[str]:
    notes = []
    where = "memory_analysis()" if source == "memory_analysis" else "XLA's buffer assignment"
    for key in ("argument", "output", "alias"):
        if totals[key] != xla[f"{key}_bytes"]:
            notes.append(f"{key} bytes differ from XLA's: {totals[key]} here, "
                         f"{xla[f'{key}_bytes']} in {where}")
    notes += _peak_notes(totals, peak, xla, platform)
    notes += _temp_notes(temp_bytes, xla["temp_bytes"])
    return notes


def _peak_notes(totals: Mapping[str, int], peak: int, xla: Mapping[str, int],
                platform: str) -> list[str]:
    notes = []
    xla_peak = xla.get("peak_bytes")
    if xla_peak is not None and xla_peak != peak:
        if xla_peak == totals["whole_run"] and platform in ("", "cpu"):
            notes.append(
                f"XLA's peak_memory_in_bytes ({xla_peak}) counts only what is allocated for the "
                f"whole run (parameters + outputs + constants = {totals['whole_run']}): on CPU "
                "the buffer assignment carries no heap-simulator trace, so temporaries add "
                f"nothing to it. Our peak ({peak}, {_pct(peak, xla_peak)}) adds the "
                "temporaries live at the peak step."
            )
        else:
            notes.append(f"XLA's peak_memory_in_bytes is {xla_peak}; ours is {peak} "
                         f"({_pct(peak, xla_peak)})")
    total = xla["total_bytes"] - xla.get("generated_code_bytes", 0)
    if total:
        notes.append(
            f"XLA holds arguments + outputs - aliases + temp arena = {total} bytes for the whole "
            f"run; our peak is {peak} ({_pct(peak, total)}): outputs and temporaries count here "
            "only while live"
        )
    return notes


def _temp_notes(temp_bytes: int, xla_temp: int) -> list[str]:
    if xla_temp == temp_bytes:
        return [f"XLA's temp arena ({xla_temp} bytes) equals the most temporaries live at once "
                "here"]
    if xla_temp > temp_bytes:
        return [
            f"XLA's temp arena is {xla_temp} bytes; at most {temp_bytes} bytes of temporaries "
            f"are live at once here: the {xla_temp - temp_bytes} bytes between "
            f"({_pct(xla_temp, temp_bytes) if temp_bytes else 'all'}) are its heap packing "
            "(alignment, fragmentation)"
        ]
    return [
        f"this model has up to {temp_bytes} bytes of temporaries live at once, "
        f"{temp_bytes - xla_temp} more than XLA's temp arena ({xla_temp}): XLA stores some "
        "temporaries in other allocations (a donated parameter's storage before the output is "
        "written, a dead output buffer)"
    ]
