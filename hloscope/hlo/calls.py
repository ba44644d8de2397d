"""The call graph of a module: who calls each computation, how often each runs, while-loop
trip counts."""

from __future__ import annotations

from collections.abc import Mapping

from hloscope.hlo.model import Instruction, Module, Role
from hloscope.hlo.roles import call_roles

_ASYNC_FOLLOWERS = frozenset({"async-update", "async-done"})


def trip_count(while_instr: Instruction) -> int | None:
    """The loop's trip count when XLA proved it (`backend_config={"known_trip_count":{"n":"5"}}`),
    else None."""
    cfg = while_instr.backend_config
    if not isinstance(cfg, dict):
        return None
    known = cfg.get("known_trip_count")
    n = known.get("n") if isinstance(known, dict) else None
    if isinstance(n, bool):
        return None
    try:
        value = int(n) if isinstance(n, (int, str)) else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


def callers(module: Module) -> Mapping[str, tuple[tuple[str, str], ...]]:
    """Computation -> ((calling computation, calling instruction), ...), in text order.
    Computations nobody calls (the entry, unused ones) map to ()."""
    found: dict[str, list[tuple[str, str]]] = {c.name: [] for c in module.computations}
    for comp in module.computations:
        for ins in comp.instructions:
            for callee in ins.called:
                found.setdefault(callee, []).append((comp.name, ins.name))
    return {k: tuple(v) for k, v in found.items()}


def unknown_trip_counts(module: Module) -> tuple[str, ...]:
    """Names of reachable while instructions without a known trip count."""
    return tuple(
        ins.name for comp, ins in module.instructions()
        if ins.opcode == "while" and comp.role is not Role.UNUSED and trip_count(ins) is None
    )


def execution_counts(module: Module) -> Mapping[str, int]:
    """Times each computation runs per run of the entry.

    A while body runs trip-count times and its condition trip-count + 1 times; a loop whose
    trip count is unknown counts as one iteration (XLA's cost_analysis convention; see
    `unknown_trip_counts`). Each conditional branch counts once per run of the conditional (an
    upper bound: one of them runs). Fusion bodies, reducers, called and async-wrapped
    computations count as often as their caller (an async chain's computation once, for its
    start). Computations not reachable from the entry count 0.
    """
    counts: dict[str, int] = {c.name: 0 for c in module.computations}
    counts[module.entry] = 1
    # Callees are defined before their callers, so reverse text order visits callers first.
    for comp in reversed(module.computations):
        n = counts.get(comp.name, 0)
        if n == 0:
            continue
        for ins in comp.instructions:
            if not ins.called or ins.opcode in _ASYNC_FOLLOWERS:
                continue
            trips = trip_count(ins) if ins.opcode == "while" else None
            loops = 1 if trips is None else trips
            for callee, role in call_roles(ins):
                times = (loops if role is Role.WHILE_BODY
                         else loops + 1 if role is Role.WHILE_CONDITION else 1)
                counts[callee] = counts.get(callee, 0) + n * times
    return counts
