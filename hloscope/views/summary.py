"""The default `dump` view: what the program is, where it runs, how big it is, and XLA's own
figures (cost and memory, per device), with where each came from.

Counts come from our IR of the optimized HLO (of the StableHLO when that is all there is);
FLOPs, bytes and memory are XLA's (`xla`), shown only when the capture has them. Nothing here
estimates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from hloscope.errors import MissingPartError

if TYPE_CHECKING:
    from rich.console import Console

    from hloscope.analysis import Analysis
    from hloscope.hlo.model import Module
    from hloscope.views import ViewOptions

SCHEMA = "hloscope.dump/1"


def module_facts(module: Module) -> dict[str, Any]:
    """Sizes of the optimized module from the IR. Collectives are counted as the collectives
    inventory (`Analysis.sharding`, `by_kind`) counts them: an async pair, TPU's start /
    continuation / done fusions of one transfer, and a send with the recv of its channel are
    one collective each."""
    from hloscope.passes.sharding import count_by_kind

    opcodes: Counter[str] = Counter(i.opcode for _, i in module.instructions())
    collectives = count_by_kind(module)
    return {
        "name": module.name,
        "num_partitions": module.num_partitions,
        "replica_count": module.replica_count,
        "is_scheduled": module.is_scheduled,
        "computations": len(module.computations),
        "instructions": module.instruction_count,
        "entry_instructions": len(module.entry_computation.instructions),
        "fusions": opcodes.get("fusion", 0),
        "while_loops": opcodes.get("while", 0),
        "custom_calls": opcodes.get("custom-call", 0),
        "collectives": collectives,
    }


def _module(analysis: Analysis) -> Module | None:
    try:
        return analysis.module
    except MissingPartError:
        return None


def _stablehlo_only(analysis: Analysis, module: Module | None) -> dict[str, Any] | None:
    """StableHLO facts when there is no optimized HLO to describe. Parsing it makes bad
    StableHLO an input error here rather than a summary that looks fine."""
    if module is not None or analysis.capture.stablehlo is None:
        return None
    return analysis.stablehlo.facts()


def to_json(analysis: Analysis, opts: ViewOptions) -> dict[str, Any]:
    """The summary document (schema `hloscope.dump/1`); keys are stable, see the README."""
    c = analysis.capture
    module = _module(analysis)
    return {
        "schema": SCHEMA,
        "name": c.name,
        "origin": c.origin,
        "platform": c.platform or None,
        "device_kind": c.device_kind or None,
        "device_count": c.device_count,
        "module": module_facts(module) if module is not None else None,
        "stablehlo": _stablehlo_only(analysis, module),
        "xla": {
            "cost": _cost_json(c.xla_cost) if c.xla_cost is not None else None,
            "memory": asdict(c.xla_memory) if c.xla_memory is not None else None,
        },
        "mesh": (
            {
                "axis_names": list(c.mesh.axis_names),
                "axis_sizes": list(c.mesh.axis_sizes),
                "axis_types": list(c.mesh.axis_types),
                "device_ids": list(c.mesh.device_ids),
            }
            if c.mesh is not None
            else None
        ),
        "shardings": {
            "inputs": [asdict(s) for s in c.in_shardings],
            "outputs": [asdict(s) for s in c.out_shardings],
        },
        "parts": {
            name: getattr(c, name) is not None
            for name in ("stablehlo", "hlo", "hlo_before_optimizations", "jaxpr",
                         "buffer_assignment")
        },
        "versions": dict(c.versions),
        "timings_s": dict(c.timings_s),
        "notes": list(c.notes),
    }


def _cost_json(cost: Any) -> dict[str, Any]:
    return {
        "flops": cost.flops,
        "transcendentals": cost.transcendentals,
        "bytes_accessed": cost.bytes_accessed,
        "optimal_seconds": cost.optimal_seconds,
        "source": cost.source,
        "raw": dict(cost.raw),
    }


# -- text -----------------------------------------------------------------------------------


def render(analysis: Analysis, console: Console, opts: ViewOptions) -> None:
    from rich.table import Table
    from rich.text import Text

    c = analysis.capture
    module = _module(analysis)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    title = Text(c.name, style="bold cyan")
    if c.origin:
        title.append(f"  {c.origin}", style="dim")
    console.print(title)
    grid.add_row("platform", _platform_line(analysis))
    if module is not None:
        facts = module_facts(module)
        grid.add_row(
            "module",
            f"{facts['instructions']:,} instructions in {facts['computations']:,} computations "
            f"({facts['entry_instructions']:,} in the entry) · {facts['fusions']:,} fusions"
            + (f" · {facts['while_loops']} while loops" if facts["while_loops"] else ""),
        )
        if facts["collectives"]:
            grid.add_row("collectives", _join(facts["collectives"]))
    else:
        grid.add_row("module", Text("no optimized HLO in this capture", style="yellow"))
        shlo = _stablehlo_only(analysis, module)
        if shlo is not None:
            grid.add_row(
                "stablehlo",
                f"{shlo['ops']:,} ops in {shlo['functions']:,} functions · "
                + _join(shlo["top_ops"]),
            )
    grid.add_row("XLA cost", _cost_line(c.xla_cost))
    grid.add_row("XLA memory", _memory_line(c.xla_memory))
    if c.xla_memory is not None and c.xla_memory.peak_bytes is not None:
        grid.add_row("XLA peak", _peak_line(c.xla_memory))
    if c.xla_cost is not None or c.xla_memory is not None:
        grid.add_row("", Text("XLA's figures are per device; loop bodies count once", style="dim"))
    if c.timings_s:
        grid.add_row("timings", " · ".join(f"{k} {v:.2f} s" for k, v in _in_order(c.timings_s)))
    if c.versions:
        grid.add_row("versions", " · ".join(f"{k} {v}" for k, v in c.versions.items()))
    parts = [n for n in ("stablehlo", "hlo", "jaxpr", "buffer_assignment")
             if getattr(c, n) is not None]
    grid.add_row("parts", ", ".join(parts) or "none")
    for note in c.notes:
        grid.add_row("note", Text(note, style="dim"))
    console.print(grid)


_STAGES = ("trace", "program", "lower", "compile", "record")


def _in_order(timings: Mapping[str, float]) -> list[tuple[str, float]]:
    """Stages in the order they ran (bundles store keys sorted)."""
    rank = {k: i for i, k in enumerate(_STAGES)}
    return sorted(timings.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def _platform_line(analysis: Analysis) -> str:
    c = analysis.capture
    where = c.platform or "unknown platform"
    if c.device_kind and c.device_kind != c.platform:
        where += f" ({c.device_kind})"
    line = f"{where} · {c.device_count} device{'s' if c.device_count != 1 else ''}"
    if c.mesh is not None:
        line += f" · mesh {c.mesh.describe()}"
    return line


def _join(counts: Mapping[str, int]) -> str:
    return " · ".join(f"{k} {v}" for k, v in counts.items())


def _cost_line(cost: Any) -> str:
    if cost is None:
        return "— (none in this capture)"
    return (
        f"{_si(cost.flops, 'FLOP')} · {_si(cost.transcendentals)} transcendentals · "
        f"{_bytes(cost.bytes_accessed)} accessed"
    )


def _memory_line(mem: Any) -> str:
    if mem is None:
        return "— (none in this capture)"
    return (
        f"arguments {_bytes(mem.argument_bytes)} · outputs {_bytes(mem.output_bytes)} · "
        f"aliased {_bytes(mem.alias_bytes)} · temp {_bytes(mem.temp_bytes)}"
    )


def _peak_line(mem: Any) -> Any:
    from rich.text import Text

    line = Text(_bytes(mem.peak_bytes))
    if mem.peak_bytes < mem.temp_bytes:
        # Seen on CPU (jaxlib 0.10.2): the figure is about the argument size alone.
        line.append("  below XLA's own temp size, so not the live peak on this backend",
                    style="yellow")
    return line


def _si(x: float, unit: str = "") -> str:
    """`363.3 MFLOP` style, 4 significant digits; the exact number is in --json."""
    for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.4g} {prefix}{unit}"
    return f"{x:.4g} {unit}".rstrip()


def _bytes(n: float) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"
