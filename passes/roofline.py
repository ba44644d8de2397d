"""Roofline time estimates per kernel and per step, for one named hardware. An ESTIMATE.

Per kernel: compute time = flops / peak (a matmul or convolution at the peak of its operand
type, anything else at the device's f32 rate), memory time = bytes accessed / HBM bandwidth,
time = the larger of the two, and that one is the bound. Collectives take the time the
sharding pass estimates for them over the links (`collectives=`), or their HBM time when no
such estimate is given (said in `notes`). Per step: the sum over kernels x executions, i.e.
no overlap between kernels (a lower bound on a real step only if each kernel hit its roof).

Transcendentals are not timed (no public per-device rate); a custom call XLA cannot cost (-1)
counts as zero and is named in `notes`. An f32 contraction is timed at the device's f32 peak:
on NVIDIA GPUs XLA may run it on tensor cores as tf32 (the `tf32` figure), so f32 matmul times
there are an upper bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hloscope.passes.fusion import CATEGORIES

if TYPE_CHECKING:
    from hloscope.hardware import Hardware
    from hloscope.hlo.model import Module
    from hloscope.passes.cost import CostReport
    from hloscope.passes.fusion import FusionReport, Kernel

CONTRACTIONS = ("matmul", "convolution")


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelEstimate:
    name: str
    time_s: float
    """One execution: max(compute_s, memory_s), or the collective estimate."""
    compute_s: float
    memory_s: float
    bound: str
    """`compute`, `memory` or `collective` (network-bound collective)."""
    intensity: float
    """Arithmetic intensity, flops per byte accessed."""
    ridge_fraction: float
    """intensity / the device's ridge point for the peak used (1.0 = at the ridge)."""
    peak: str
    """The peak used: `bf16`, `f32`, `fp8`..."""
    count: int
    category: str
    collective_s: float = 0.0

    @property
    def total_s(self) -> float:
        """Per step: time_s x executions."""
        return self.time_s * self.count

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "estimated_s": self.time_s, "total_s": self.total_s,
                "compute_s": self.compute_s, "memory_s": self.memory_s,
                "collective_s": self.collective_s, "bound": self.bound,
                "intensity": self.intensity, "ridge_fraction": self.ridge_fraction,
                "peak": self.peak, "count": self.count, "category": self.category}


@dataclass(frozen=True, slots=True, kw_only=True)
class RooflineReport:
    """Estimated step time on `hardware`. Provenance: `estimate`."""

    hardware: Hardware
    step_s: float
    """Σ kernel time x executions (no overlap between kernels)."""
    compute_s: float
    """Σ over compute-bound kernels."""
    memory_s: float
    """Σ over memory-bound kernels."""
    collective_s: float
    """Σ over collective kernels (network time when the sharding pass gave one)."""
    by_kernel: Mapping[str, KernelEstimate]
    by_category: Mapping[str, float]
    """Seconds per step by category (matmul, convolution, elementwise, reduction,
    data movement, collective, other)."""
    top_kernels: tuple[str, ...]
    """Kernel names by time per step, longest first (all of them)."""
    notes: tuple[str, ...] = ()
    label: str = field(default="")

    def share(self, category: str) -> float:
        return self.by_category.get(category, 0.0) / self.step_s if self.step_s else 0.0

    def bound_shares(self) -> tuple[float, float, float]:
        """Compute-, memory- and collective-bound shares of the step (zeros for an empty
        step)."""
        if self.step_s <= 0:
            return (0.0, 0.0, 0.0)
        return (self.compute_s / self.step_s, self.memory_s / self.step_s,
                self.collective_s / self.step_s)

    def kernel_share(self, name: str) -> float | None:
        """A kernel's share of the step (time per step / step); None for an empty step."""
        if not self.step_s:
            return None
        return self.by_kernel[name].total_s / self.step_s

    def to_json(self, *, top: int | None = None) -> dict[str, Any]:
        names = self.top_kernels if top is None else self.top_kernels[:top]
        return {
            "provenance": "estimate",
            "label": self.label,
            "hardware": self.hardware.to_json(),
            "step_s": self.step_s,
            "compute_s": self.compute_s,
            "memory_s": self.memory_s,
            "collective_s": self.collective_s,
            "by_category": dict(self.by_category),
            "shares": {c: self.share(c) for c in self.by_category},
            "top_kernels": [self.by_kernel[n].to_json() for n in names],
            "notes": list(self.notes),
        }


def _collective_times(collectives: Any) -> Mapping[str, float]:
    """Accept {name: seconds}, or a report with `.collectives` of items with `name` and
    `estimated_s` (the sharding pass)."""
    if collectives is None:
        return {}
    if isinstance(collectives, Mapping):
        return {str(k): float(v) for k, v in collectives.items()}
    items = getattr(collectives, "collectives", collectives)
    out: dict[str, float] = {}
    for c in items:
        est = getattr(c, "estimated_s", None)
        if est is not None:
            out[str(c.name)] = float(est)
    return out


def estimate_kernel(k: Kernel, hw: Hardware, collective_s: float | None = None
                    ) -> KernelEstimate:
    flops = max(k.flops, 0.0)
    bytes_ = max(k.bytes_accessed, 0.0)
    dtype = k.dtype if k.category in CONTRACTIONS else "f32"
    peak, key = hw.peak_for(dtype)
    compute = flops / peak
    memory = bytes_ / hw.hbm_bytes_per_s
    intensity = flops / bytes_ if bytes_ else (float("inf") if flops else 0.0)
    ridge = peak / hw.hbm_bytes_per_s
    time, bound = (compute, "compute") if compute > memory else (memory, "memory")
    coll = 0.0
    if collective_s is not None:
        coll = collective_s
        if coll >= time:
            time, bound = coll, "collective"
    return KernelEstimate(
        name=k.name, time_s=time, compute_s=compute, memory_s=memory, bound=bound,
        intensity=intensity, ridge_fraction=intensity / ridge if ridge else 0.0, peak=key,
        count=k.count, category=k.category, collective_s=coll,
    )


def run(module: Module, *, cost: CostReport, fusion: FusionReport, hardware: Hardware,
        collectives: Any = None) -> RooflineReport:
    """Estimate every kernel of `fusion` on `hardware` (see the module docstring).
    `collectives`: {collective instruction name: seconds per execution}, or the sharding
    pass's report, whose `estimated_s` then replaces the HBM-only time of each collective."""
    coll_times = _collective_times(collectives)
    by_kernel: dict[str, KernelEstimate] = {}
    by_cat = dict.fromkeys(CATEGORIES, 0.0)
    compute_s = memory_s = collective_s = 0.0
    unknown: list[str] = []
    uncosted_collectives = 0
    for k in fusion.kernels:
        coll = coll_times.get(k.name)
        if k.category == "collective" and coll is None:
            uncosted_collectives += 1
        if k.flops < 0 or k.bytes_accessed < 0:
            unknown.append(k.name)
        est = estimate_kernel(k, hardware, coll)
        by_kernel[k.name] = est
        by_cat[k.category] = by_cat.get(k.category, 0.0) + est.total_s
        if est.bound == "compute":
            compute_s += est.total_s
        elif est.bound == "memory":
            memory_s += est.total_s
        else:
            collective_s += est.total_s
    notes = [f"estimate on {hardware.name} ({hardware.description}): per-kernel roofline, "
             "kernels do not overlap; transcendentals not timed"]
    if unknown:
        notes.append(f"{len(unknown)} kernel(s) XLA cannot cost (custom calls) count as zero: "
                     + ", ".join(unknown[:5]) + ("..." if len(unknown) > 5 else ""))
    if uncosted_collectives:
        notes.append(f"{uncosted_collectives} collective(s) timed by HBM bytes only: no "
                     "network estimate was given (sharding pass)")
    if not hardware.measured and hardware.name == "cpu":
        notes.append("cpu figures are placeholders (calibration disabled)")
    step = compute_s + memory_s + collective_s
    top = tuple(sorted(by_kernel, key=lambda n: -by_kernel[n].total_s))
    return RooflineReport(
        hardware=hardware, step_s=step, compute_s=compute_s, memory_s=memory_s,
        collective_s=collective_s, by_kernel=by_kernel,
        by_category={c: v for c, v in by_cat.items() if v or c in CATEGORIES},
        top_kernels=top, notes=tuple(notes),
        label=f"estimate on {hardware.name}",
    )
