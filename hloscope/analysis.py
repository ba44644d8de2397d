"""`analyze(capture, hardware=...)` -> Analysis: the one place every face gets its reports from.

Each report is computed on first use and cached, so the CLI's `dump` pays only for the view
it prints and the TUI can fill screens as they are opened. Passes are pure; this class only
wires them together.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hloscope.errors import MissingPartError

if TYPE_CHECKING:
    from hloscope.hardware import Hardware
    from hloscope.hlo.model import Module
    from hloscope.passes.cost import CostReport
    from hloscope.passes.devices import DevicesReport
    from hloscope.passes.fusion import FusionReport
    from hloscope.passes.memory import MemoryReport
    from hloscope.passes.roofline import RooflineReport
    from hloscope.passes.sharding import ShardingReport
    from hloscope.passes.source import SourceReport
    from hloscope.passes.stablehlo_links import StableLinks
    from hloscope.records import Capture
    from hloscope.stablehlo import StableModule


class Analysis:
    """Reports over one capture for one hardware choice. Thread-safe lazy properties: the TUI
    computes them in workers."""

    def __init__(self, capture: Capture, hardware: Hardware | str | None = None) -> None:
        self.capture = capture
        self._lock = threading.RLock()
        if isinstance(hardware, str):
            from hloscope.hardware import get_hardware

            hardware = get_hardware(hardware)
        self.hardware: Hardware | None = hardware
        self.hardware_chosen = hardware is not None
        """Whether a hardware was named: the per-line report then carries estimates. Other
        reports that need one fall back to the capture's default device."""

    def with_hardware(self, hardware: Hardware | str | None) -> Analysis:
        """The same capture on other hardware; hardware-independent reports are shared."""
        other = Analysis(self.capture, hardware)
        for key in ("module", "stablehlo", "cost", "fusion", "memory", "stablehlo_links"):
            if key in self.__dict__:
                other.__dict__[key] = self.__dict__[key]
        return other

    # -- IR -------------------------------------------------------------------------------

    @cached_property
    def module(self) -> Module:
        """The optimized HLO as our IR. Raises MissingPartError when the capture has none."""
        with self._lock:
            if self.capture.hlo is None:
                raise MissingPartError(
                    f"{self.capture.origin or self.capture.name}: this capture has no optimized "
                    "HLO (it was read from a StableHLO file); analyses need optimized HLO"
                )
            from hloscope.hlo import parse

            return parse(self.capture.hlo, name=self.capture.origin or self.capture.name,
                         first_line=self.capture.hlo_first_line)

    @cached_property
    def stablehlo(self) -> StableModule:
        with self._lock:
            if self.capture.stablehlo is None:
                raise MissingPartError(
                    f"{self.capture.origin or self.capture.name}: this capture has no StableHLO"
                )
            from hloscope.stablehlo import parse_stablehlo

            # Isolated: the text may come from a user's file or bundle, and jaxlib's native
            # MLIR parser can crash the process on hostile input (~1 s more for 48 layers).
            return parse_stablehlo(
                self.capture.stablehlo,
                source=self.capture.origin or self.capture.name,
                safe=True,
            )

    # -- passes ---------------------------------------------------------------------------

    @cached_property
    def cost(self) -> CostReport:
        """FLOPs / transcendentals / bytes per instruction and in total (XLA's conventions;
        the total equals XLA's cost_analysis), executed totals with trip counts."""
        from hloscope.passes import cost

        with self._lock:
            return cost.run(self.module)

    @cached_property
    def fusion(self) -> FusionReport:
        """Kernels with their fused instructions, sources and costs (no StableHLO: see
        `stablehlo_links`)."""
        from hloscope.passes import fusion

        with self._lock:
            return fusion.run(self.module, cost=self.cost)

    @cached_property
    def stablehlo_links(self) -> StableLinks:
        """Kernels and Python lines -> the StableHLO ops made by the same lines (and name
        scopes). Reads the capture's StableHLO (seconds on a large program), so only faces
        that list StableHLO ops ask for it. MissingPartError without StableHLO; the reader's
        error when it does not read."""
        from hloscope.passes import stablehlo_links

        with self._lock:
            return stablehlo_links.run(self.module, fusion=self.fusion,
                                       stablehlo=self.stablehlo)

    @cached_property
    def roofline(self) -> RooflineReport:
        """Per-kernel time estimates on the hardware (estimate); collectives take the sharding
        pass's network estimate when it can run on this capture."""
        from hloscope.errors import Error
        from hloscope.passes import roofline

        with self._lock:
            hardware = self._require_hardware()
            collectives = None
            try:
                collectives = self.sharding
            except (Error, ImportError):
                collectives = None  # collectives then count their HBM bytes only (noted)
            return roofline.run(self.module, cost=self.cost, fusion=self.fusion,
                                hardware=hardware, collectives=collectives)

    @cached_property
    def source(self) -> SourceReport:
        """Cost per Python line (FLOPs exact per line; bytes and, when a hardware was named,
        estimated time per kernel's main line). Without a named hardware there are no
        estimates, whatever other reports fell back to."""
        from hloscope.passes import source

        with self._lock:
            roof = self.roofline if self.hardware_chosen else None
            return source.run(self.module, cost=self.cost, fusion=self.fusion, roofline=roof)

    @cached_property
    def sharding(self) -> ShardingReport:
        """Collectives with axes, bytes, times on the hardware's links (estimates) and why."""
        from hloscope.passes import sharding

        with self._lock:
            return sharding.run(
                self.module,
                mesh=self.capture.mesh,
                hardware=self._require_hardware(),
                target=self.capture.target,
                in_shardings=self.capture.in_shardings,
                out_shardings=self.capture.out_shardings,
            )

    @cached_property
    def devices(self) -> DevicesReport:
        """Per-device breakdown: the same program everywhere, the differences, the comm
        matrix. Peak memory joins when the memory pass can run on this capture."""
        from hloscope.passes import devices

        with self._lock:
            peak: int | None = None
            try:
                peak = self.memory.peak_bytes
            except (ImportError, MissingPartError):
                peak = None  # no memory pass in this build, or no buffer data
            return devices.run(
                self.module,
                sharding=self.sharding,
                cost=self.cost,
                roofline=self.roofline,
                shardings=(*self.capture.in_shardings, *self.capture.out_shardings),
                peak_bytes=peak,
                target=self.capture.target,
            )

    @cached_property
    def memory(self) -> MemoryReport:
        """Live buffers over the schedule, the peak, XLA's figures beside ours, and the fit on
        every named device (hardware-independent: shared by `with_hardware`)."""
        from hloscope.passes import memory

        c = self.capture
        return memory.run(self.module, xla_memory=c.xla_memory,
                          buffer_assignment=c.buffer_assignment, platform=c.platform)

    # -- helpers --------------------------------------------------------------------------

    def _require_hardware(self) -> Hardware:
        if self.hardware is None:
            from hloscope.hardware import default_hardware

            self.hardware = default_hardware(self.capture)
        return self.hardware

    def summary(self) -> dict[str, Any]:
        """Plain facts about the capture for headers (no pass runs)."""
        c = self.capture
        return {
            "name": c.name,
            "origin": c.origin,
            "platform": c.platform,
            "device_kind": c.device_kind,
            "device_count": c.device_count,
            "mesh": c.mesh.describe() if c.mesh else None,
        }


def analyze(capture: Capture, hardware: Hardware | str | None = None) -> Analysis:
    """Analyses of a capture on the named hardware (`h100-sxm`, `tpu-v5p`, ...; see
    `hloscope.hardware.names()`). Reports are computed lazily and cached."""
    return Analysis(capture, hardware)
