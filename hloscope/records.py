"""What a capture holds: plain data only (texts, numbers, names). No jax objects, no pickles.

XLA's own analyses are turned into typed records here, at the boundary, with the versions that
produced them, so nothing downstream depends on the shape of `cost_analysis()` of one jax.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class XlaCost:
    """XLA's `cost_analysis()` totals for the optimized module (per device, XLA's convention:
    while bodies counted once)."""

    flops: float
    """Floating-point operations; a multiply-add is 2."""
    transcendentals: float
    bytes_accessed: float
    """Bytes read plus bytes written by every top-level instruction."""
    optimal_seconds: float | None = None
    """TPU only; seen negative on v5e, so shown as XLA's and never trusted."""
    raw: Mapping[str, float] = field(default_factory=dict)
    """Every key XLA returned, unchanged."""
    source: str = "compiled.cost_analysis"
    """Where the figures came from: `compiled.cost_analysis` or `hlo_module_cost_analysis`
    (C++ HloCostAnalysis run on the optimized text, for compile-only GPU executables)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class XlaMemory:
    """XLA's `memory_analysis()` (CompiledMemoryStats), in bytes, per device."""

    argument_bytes: int
    output_bytes: int
    alias_bytes: int
    temp_bytes: int
    generated_code_bytes: int = 0
    host_argument_bytes: int = 0
    host_output_bytes: int = 0
    host_alias_bytes: int = 0
    host_temp_bytes: int = 0
    peak_bytes: int | None = None
    """`peak_memory_in_bytes`, when this jaxlib reports it."""


def mesh_coords(position: int, axis_sizes: Sequence[int]) -> tuple[int, ...]:
    """Coordinates of a position in a row-major mesh (the last axis varies fastest)."""
    out = []
    for s in reversed(axis_sizes):
        out.append(position % s)
        position //= s
    return tuple(reversed(out))


@dataclass(frozen=True, slots=True, kw_only=True)
class MeshInfo:
    """A device mesh: axis names and sizes, and the global device id at each mesh position
    (row-major over the axes)."""

    axis_names: tuple[str, ...]
    axis_sizes: tuple[int, ...]
    device_ids: tuple[int, ...]
    axis_types: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return math.prod(self.axis_sizes)

    def coords(self, device_id: int) -> tuple[int, ...]:
        """Mesh coordinates of a global device id."""
        return mesh_coords(self.device_ids.index(device_id), self.axis_sizes)

    def describe(self) -> str:
        return " × ".join(f"{n}={s}" for n, s in zip(self.axis_names, self.axis_sizes, strict=True))


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardingInfo:
    """One input or output's sharding: XLA's HloSharding text and, when jax gave one, the
    PartitionSpec as text."""

    hlo: str | None
    spec: str | None = None
    shape: str | None = None
    """The global (unsharded) shape as `f32[8,128]`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    id: int
    kind: str = ""
    coords: tuple[int, ...] = ()
    """Physical coordinates (TPU topologies); empty when unknown."""
    core_on_chip: int = 0
    process_index: int = 0
    slice_index: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetInfo:
    """What the program was compiled for. `name` is the `--target` text (`cpu:8`,
    `tpu-v5e:4x4`, `h100x8`)."""

    name: str
    platform: str
    topology: str = ""
    chips_per_host: tuple[int, ...] = ()
    num_slices: int = 1
    devices: tuple[DeviceInfo, ...] = ()
    hardware: str = ""
    """Key of the matching `hloscope.hardware` entry, when there is one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Capture:
    """Everything hloscope records about one compiled program. Any text part may be missing
    (None): a `.mlir` file has no optimized HLO; a `.hlo` file has no StableHLO."""

    name: str
    """Program name (`jit_loss`, the module name, or the file stem)."""
    origin: str = ""
    """How it was obtained: `sample:transformer`, a path, `model.py:factory`."""
    stablehlo: str | None = None
    """Lowered StableHLO with debug locations (`as_text(debug_info=True)`)."""
    hlo: str | None = None
    """Optimized HLO text after XLA's passes, with metadata and the stack-frame tables."""
    hlo_first_line: int = 1
    """Line of the file (`origin`) at which `hlo` starts: > 1 for a module picked out of a
    multi-module file, whose parse errors then name lines of that file."""
    hlo_before_optimizations: str | None = None
    jaxpr: str | None = None
    buffer_assignment: str | None = None
    """XLA's buffer-assignment text, when read from a dump folder."""
    xla_cost: XlaCost | None = None
    xla_memory: XlaMemory | None = None
    in_shardings: tuple[ShardingInfo, ...] = ()
    out_shardings: tuple[ShardingInfo, ...] = ()
    mesh: MeshInfo | None = None
    platform: str = ""
    device_kind: str = ""
    device_count: int = 1
    target: TargetInfo | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    """jax, jaxlib, hloscope, python versions at capture time."""
    timings_s: Mapping[str, float] = field(default_factory=dict)
    """Wall time of `trace`, `lower`, `compile` (seconds)."""
    notes: tuple[str, ...] = ()
    """Things the capture could not record, said once here (e.g. 'no cost_analysis on cuda')."""

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write this capture as a `.hlos` bundle (`hloscope.bundle.save`); returns the path."""
        from hloscope.bundle import save

        return save(self, path)

    @property
    def missing(self) -> tuple[str, ...]:
        """Names of absent parts, for 'this capture has no X' messages."""
        parts = {
            "stablehlo": self.stablehlo,
            "hlo": self.hlo,
            "jaxpr": self.jaxpr,
            "xla_cost": self.xla_cost,
            "xla_memory": self.xla_memory,
            "mesh": self.mesh,
        }
        return tuple(k for k, v in parts.items() if v is None)
