"""FLOPs, transcendentals and bytes accessed per instruction, with XLA's HloCostAnalysis rules.

`run(module) -> CostReport`. Every instruction of every computation is costed as XLA would
cost it standalone (`per_instruction`; a fusion as a unit: bytes at its boundary, flops of its
body), and the module total follows XLA's convention exactly (`total`, equal to
`compiled.cost_analysis()`): while bodies and conditions once, a conditional's costliest
branch, custom calls as -1. `executed` is the same sum with each while body x its
`known_trip_count` (and the condition x trip count + 1).

Figures are per device: an SPMD-partitioned module is the program each device runs.
The rule table lives in `passes/cost_rules.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hloscope.hlo.calls import execution_counts, trip_count
from hloscope.hlo.model import Computation, Instruction, Module
from hloscope.passes import cost_rules
from hloscope.passes.cost_rules import RULES, rule_default


@dataclass(frozen=True, slots=True, kw_only=True)
class OpCost:
    """Cost of one instruction or a sum of them, in XLA's units."""

    flops: float = 0.0
    """Floating-point operations (a multiply-add is 2). XLA writes -1 for a custom call."""
    transcendentals: float = 0.0
    """exp, log, tanh, sqrt, power... one per result element."""
    bytes_accessed: float = 0.0
    """Bytes read plus bytes written (operands and result; XLA's sharing rules in fusions)."""

    def __add__(self, other: OpCost) -> OpCost:
        return OpCost(
            flops=self.flops + other.flops,
            transcendentals=self.transcendentals + other.transcendentals,
            bytes_accessed=self.bytes_accessed + other.bytes_accessed,
        )

    def scaled(self, k: float) -> OpCost:
        return OpCost(
            flops=self.flops * k,
            transcendentals=self.transcendentals * k,
            bytes_accessed=self.bytes_accessed * k,
        )

    @property
    def is_zero(self) -> bool:
        return not (self.flops or self.transcendentals or self.bytes_accessed)

    def to_json(self) -> dict[str, float]:
        return {
            "flops": self.flops,
            "transcendentals": self.transcendentals,
            "bytes_accessed": self.bytes_accessed,
        }


ZERO = OpCost()


@dataclass(frozen=True, slots=True, kw_only=True)
class InstructionCost:
    """One instruction's standalone cost with how often it runs (`CostReport.top_instructions`)."""

    name: str
    computation: str
    opcode: str
    count: int
    """Runs per step (the computation's execution count)."""
    cost: OpCost
    """One run."""
    source: str
    """`file:line` (full path); "" without a location."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "computation": self.computation, "opcode": self.opcode,
                "count": self.count, **self.cost.to_json(), "source": self.source}


@dataclass(frozen=True, slots=True, kw_only=True)
class CostReport:
    """Costs of one module. Provenance: `derived` (computed from the IR with XLA's rules);
    `total` is checked in tests to equal XLA's own `cost_analysis()`."""

    module: str
    per_instruction: Mapping[str, OpCost]
    """Key -> standalone cost. The key is the instruction name when that name is unique in
    the module (always so in XLA-produced HLO), else `computation/name`."""
    locations: Mapping[str, tuple[str, str]]
    """per_instruction key -> (computation, instruction name)."""
    total: OpCost
    """XLA's convention (= `compiled.cost_analysis()`): each while body and condition once."""
    executed: OpCost
    """Per step as run: while bodies x known trip count, conditions x (trip count + 1); a
    conditional counts its costliest branch; loops without a known trip count once."""
    by_computation: Mapping[str, OpCost]
    """One run of each computation: the sum over its instructions (XLA's
    ProcessSubcomputation)."""
    counts: Mapping[str, int]
    """Times each computation runs per execution of the entry (`hloscope.hlo.calls.
    execution_counts`: while bodies x trip count; every conditional branch as often as its
    caller, an upper bound; fusion bodies, reducers and wrapped computations as often as their
    caller; 0 if unreachable)."""
    unknown_ops: Mapping[str, int]
    """Instructions without a meaningful rule, by opcode (`custom-call:TARGET` for custom
    calls, which XLA counts as -1 flops and -1 bytes), with their counts."""
    unknown_trip_counts: tuple[str, ...] = ()
    """While instructions with no `known_trip_count`: counted once in `executed` too."""
    devices: int = 1
    """Devices running this program (partitions x replicas); every figure here is per
    device."""
    conditionals: Mapping[str, tuple[tuple[str, OpCost], ...]] = field(default_factory=dict)
    """Conditional (per_instruction key) -> (branch computation, one run's cost) per branch,
    in branch order. Totals take the costliest branch, property by property, as XLA does."""

    def cost_of(self, name: str, computation: str | None = None) -> OpCost:
        """Standalone cost of an instruction by name (and computation, when names repeat).
        KeyError when there is no such instruction."""
        return self.per_instruction[self.key_of(computation, name) if computation else name]

    def key_of(self, computation: str, name: str) -> str:
        """The `per_instruction` key of an instruction of a computation."""
        loc = self.locations.get(name)
        if loc is not None and loc[0] == computation:
            return name
        key = f"{computation}/{name}"
        if key not in self.locations:
            raise KeyError(key)
        return key

    def top_instructions(self, module: Module, n: int) -> tuple[InstructionCost, ...]:
        """The `n` non-zero instructions of program-step computations (not fusion bodies) with
        the most executed bytes + flops (`module`: the module this report costs)."""
        from hloscope.hlo.source import source_of
        from hloscope.passes.fusion import kernel_computations

        rows = []
        for cname in kernel_computations(module):
            comp = module.by_name[cname]
            count = self.counts.get(cname, 1)
            for ins in comp.instructions:
                c = self.cost_of(ins.name, cname)
                if not c.is_zero:
                    rows.append((c, count, comp, ins))
        rows.sort(key=lambda r: -(abs(r[0].bytes_accessed) + abs(r[0].flops)) * r[1])
        out = []
        for c, count, comp, ins in rows[:n]:
            src = source_of(module, ins)
            out.append(InstructionCost(
                name=ins.name, computation=comp.name, opcode=ins.opcode, count=count, cost=c,
                source=f"{src.file}:{src.line}" if src is not None else ""))
        return tuple(out)

    @property
    def all_devices(self) -> OpCost:
        """`executed` summed over every device running the program."""
        return self.executed.scaled(self.devices)

    def to_json(self, *, instructions: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "module": self.module,
            "provenance": "derived: XLA HloCostAnalysis rules over the optimized HLO, per device",
            "total": {**self.total.to_json(), "convention": "xla: while bodies counted once"},
            "executed": {
                **self.executed.to_json(),
                "convention": "while bodies x known_trip_count, conditions x (trip count + 1)",
            },
            "devices": self.devices,
            "all_devices_executed": self.all_devices.to_json(),
            "unknown_ops": dict(self.unknown_ops),
            "unknown_trip_counts": list(self.unknown_trip_counts),
            "counts": dict(self.counts),
            "by_computation": {k: v.to_json() for k, v in self.by_computation.items()},
            "conditionals": {k: [{"branch": b, **c.to_json()} for b, c in v]
                             for k, v in self.conditionals.items()},
        }
        if instructions:
            doc["per_instruction"] = {k: v.to_json() for k, v in self.per_instruction.items()}
        return doc


def while_parts(ins: Instruction) -> tuple[str, str]:
    """(condition, body) of a while: XLA orders called computations condition first."""
    return ins.called[0], ins.called[1]


class _Costing:
    """Memoized per-instruction and per-computation costs over one module."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.instr: dict[int, OpCost] = {}
        self.comp: dict[str, OpCost] = {}
        self._users: dict[str, Mapping[str, tuple[Instruction, ...]]] = {}
        self._active: set[str] = set()

    # CostContext protocol -------------------------------------------------------------------

    def computation(self, name: str) -> Computation:
        return self.module.by_name[name]

    def computation_cost(self, name: str) -> OpCost:
        got = self.comp.get(name)
        if got is not None:
            return got
        if name in self._active:
            raise ValueError(f"computation {name} calls itself")
        self._active.add(name)
        comp = self.module.by_name[name]
        f = t = b = 0.0
        for ins in comp.instructions:
            c = self.instruction_cost(comp, ins)
            f += c.flops
            t += c.transcendentals
            b += c.bytes_accessed
        self._active.discard(name)
        total = OpCost(flops=f, transcendentals=t, bytes_accessed=b)
        self.comp[name] = total
        return total

    def users(self, computation: Computation) -> Mapping[str, tuple[Instruction, ...]]:
        got = self._users.get(computation.name)
        if got is None:
            acc: dict[str, list[Instruction]] = {}
            for ins in computation.instructions:
                seen: set[str] = set()
                for op in ins.operands:
                    if op not in seen:
                        seen.add(op)
                        acc.setdefault(op, []).append(ins)
            got = {k: tuple(v) for k, v in acc.items()}
            self._users[computation.name] = got
        return got

    def make(self, flops: float = 0.0, transcendentals: float = 0.0,
             bytes_accessed: float = 0.0) -> OpCost:
        return OpCost(flops=flops, transcendentals=transcendentals, bytes_accessed=bytes_accessed)

    # -----------------------------------------------------------------------------------------

    def instruction_cost(self, comp: Computation, ins: Instruction) -> OpCost:
        # Keyed by identity: the module keeps every Instruction alive while this runs.
        got = self.instr.get(id(ins))
        if got is None:
            rule = RULES.get(ins.opcode, rule_default)
            got = rule(self, comp, ins)
            self.instr[id(ins)] = got
        return got


class _Executed:
    """The same rules with each while loop multiplied by its trip count."""

    def __init__(self, base: _Costing, loops: frozenset[str]) -> None:
        self.base = base
        self.loops = loops  # computations that (transitively) hold a while
        self.comp: dict[str, OpCost] = {}
        self.unknown_trips: list[str] = []

    def computation(self, name: str) -> Computation:
        return self.base.computation(name)

    def users(self, computation: Computation) -> Mapping[str, tuple[Instruction, ...]]:
        return self.base.users(computation)

    def make(self, flops: float = 0.0, transcendentals: float = 0.0,
             bytes_accessed: float = 0.0) -> OpCost:
        return OpCost(flops=flops, transcendentals=transcendentals, bytes_accessed=bytes_accessed)

    def computation_cost(self, name: str) -> OpCost:
        if name not in self.loops:
            return self.base.computation_cost(name)
        got = self.comp.get(name)
        if got is not None:
            return got
        comp = self.base.module.by_name[name]
        total = ZERO
        for ins in comp.instructions:
            total = total + self.instruction_cost(comp, ins)
        self.comp[name] = total
        return total

    def instruction_cost(self, comp: Computation, ins: Instruction) -> OpCost:
        if ins.opcode != "while" and not any(c in self.loops for c in ins.called):
            return self.base.instruction_cost(comp, ins)
        if ins.opcode == "while":
            cond, body = while_parts(ins)
            n = trip_count(ins)
            if n is None:
                self.unknown_trips.append(ins.name)
                return self.computation_cost(body) + self.computation_cost(cond)
            return self.computation_cost(body).scaled(n) + self.computation_cost(cond).scaled(n + 1)
        rule = RULES.get(ins.opcode, rule_default)
        got: OpCost = rule(self, comp, ins)
        return got


def _loop_computations(module: Module) -> frozenset[str]:
    """Computations that hold a while instruction, directly or through what they call."""
    direct: dict[str, bool] = {}
    calls: dict[str, set[str]] = {}
    for comp in module.computations:
        direct[comp.name] = any(i.opcode == "while" for i in comp.instructions)
        calls[comp.name] = {c for i in comp.instructions for c in i.called}
    result: set[str] = {n for n, has in direct.items() if has}
    changed = True
    while changed:  # fixpoint over the (small) call graph
        changed = False
        for name, callees in calls.items():
            if name not in result and callees & result:
                result.add(name)
                changed = True
    return frozenset(result)


def _unknown_key(ins: Instruction) -> str | None:
    if ins.opcode == "custom-call":
        target = ins.attr("custom_call_target") or ""
        return f"custom-call:{target.strip(chr(34))}"
    if ins.opcode in cost_rules.NO_RULE_IN_XLA or ins.opcode not in RULES:
        return ins.opcode
    return None


_FLAGGED = frozenset({"custom-call"}) | cost_rules.NO_RULE_IN_XLA


def run(module: Module) -> CostReport:
    """Cost every instruction of `module` and total them (see the module docstring)."""
    costing = _Costing(module)
    per: dict[str, OpCost] = {}
    locations: dict[str, tuple[str, str]] = {}
    unknown: dict[str, int] = {}
    repeated = _repeated_names(module)
    cost_of = costing.instruction_cost
    for comp in module.computations:
        cname = comp.name
        for ins in comp.instructions:
            name = ins.name
            key = f"{cname}/{name}" if name in repeated else name
            per[key] = cost_of(comp, ins)
            locations[key] = (cname, name)
            if ins.opcode in _FLAGGED or ins.opcode not in RULES:
                uk = _unknown_key(ins)
                if uk is not None:
                    unknown[uk] = unknown.get(uk, 0) + 1
    by_comp = {c.name: costing.computation_cost(c.name) for c in module.computations}
    branches = {
        key: tuple((b, by_comp[b]) for b in module.by_name[cname].by_name[name].called
                   if b in by_comp)
        for key, (cname, name) in locations.items()
        if module.by_name[cname].by_name[name].opcode == "conditional"
    }
    total = by_comp[module.entry]
    executed_ctx = _Executed(costing, _loop_computations(module))
    executed = executed_ctx.computation_cost(module.entry)
    return CostReport(
        module=module.name,
        per_instruction=per,
        locations=locations,
        total=total,
        executed=executed,
        by_computation=by_comp,
        counts=dict(execution_counts(module)),
        unknown_ops=dict(sorted(unknown.items())),
        unknown_trip_counts=tuple(dict.fromkeys(executed_ctx.unknown_trips)),
        devices=max(1, module.num_partitions) * max(1, module.replica_count),
        conditionals=branches,
    )


def _repeated_names(module: Module) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for comp in module.computations:
        for name in comp.by_name:
            if name in seen:
                repeated.add(name)
            seen.add(name)
    return repeated
