"""Totals per Python source line: which line of the model costs what.

`run(module, cost=..., fusion=..., roofline=None) -> SourceReport`. Flops and
transcendentals go to the line of each instruction that performs them (fused or not: exact);
a kernel's bytes and estimated time go to its primary line (the line of its costliest
instruction, else of its root), since a fused kernel's memory traffic cannot be split
between the lines fused into it. Per step: loop trip counts applied. Instructions without
source information collect under `?`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hloscope.hlo.model import Module
    from hloscope.passes.cost import CostReport
    from hloscope.passes.fusion import FusionReport
    from hloscope.passes.roofline import RooflineReport

UNKNOWN = "?"


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceLine:
    source: str
    """`file:line` with the full path as jax recorded it; `?` for no source."""
    function: str
    flops: float
    transcendentals: float
    bytes_accessed: float
    kernels: tuple[str, ...]
    """Kernels holding an instruction from this line."""
    estimated_s: float | None = None
    """Roofline time per step of the kernels whose primary line this is (estimate)."""

    @property
    def short(self) -> str:
        if self.source == UNKNOWN:
            return UNKNOWN
        path, _, line = self.source.rpartition(":")
        return f"{path.rsplit('/', 1)[-1]}:{line}"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "function": self.function, "flops": self.flops,
                "transcendentals": self.transcendentals, "bytes_accessed": self.bytes_accessed,
                "kernels": list(self.kernels), "estimated_s": self.estimated_s}


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceReport:
    lines: tuple[SourceLine, ...]
    """By estimated time when a roofline was given, else by flops; largest first."""
    hardware: str | None = None
    """The roofline's hardware, when times are given (they are estimates)."""
    total_flops: float = 0.0
    attributed_flops: float = 0.0
    """Flops on lines with a source (the rest are under `?`)."""
    step_s: float | None = None
    """The roofline's estimated step, when times are given (estimate)."""

    @property
    def attributed_share(self) -> float | None:
        """The share of the FLOPs that have a source line; None when there are no FLOPs."""
        return self.attributed_flops / self.total_flops if self.total_flops else None

    def share(self, line: SourceLine) -> float | None:
        """A line's share of the estimated step; None without estimates (or an empty step)."""
        if line.estimated_s is None or not self.step_s:
            return None
        return line.estimated_s / self.step_s

    def line(self, source: str) -> SourceLine:
        for ln in self.lines:
            if ln.source == source or ln.short == source:
                return ln
        raise KeyError(source)

    def to_json(self, *, top: int | None = None) -> dict[str, Any]:
        lines = self.lines if top is None else self.lines[:top]
        return {
            "provenance": "derived (flops, bytes); estimate (estimated_s, on the hardware named)",
            "hardware": self.hardware,
            "total_flops": self.total_flops,
            "attributed_flops": self.attributed_flops,
            "lines": [ln.to_json() for ln in lines],
        }


def run(module: Module, *, cost: CostReport, fusion: FusionReport,
        roofline: RooflineReport | None = None) -> SourceReport:
    times: dict[str, float] = {}
    if roofline is not None:
        for k in fusion.kernels:
            est = roofline.by_kernel.get(k.name)
            if est is not None:
                line = k.primary_source or UNKNOWN
                times[line] = times.get(line, 0.0) + est.total_s
    lines = [
        SourceLine(
            source=lc.source, function=lc.function, flops=lc.flops,
            transcendentals=lc.transcendentals, bytes_accessed=lc.bytes_accessed,
            kernels=lc.kernels,
            estimated_s=times.get(lc.source, 0.0) if roofline is not None else None,
        )
        for lc in fusion.by_source.values()
    ]
    if roofline is not None:
        lines.sort(key=lambda ln: -(ln.estimated_s or 0.0))
    else:
        lines.sort(key=lambda ln: (-ln.flops, -ln.bytes_accessed))
    total = sum(ln.flops for ln in lines)
    return SourceReport(
        lines=tuple(lines),
        hardware=roofline.hardware.name if roofline is not None else None,
        total_flops=total,
        attributed_flops=sum(ln.flops for ln in lines if ln.source != UNKNOWN),
        step_s=roofline.step_s if roofline is not None else None,
    )
