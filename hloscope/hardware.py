"""Named devices: peak dense FLOP/s by dtype, HBM bandwidth and capacity, interconnect links.

Every built-in figure carries its public source beside it. Users add or override devices in a
TOML file: `$HLOSCOPE_HARDWARE` (a path) or `$XDG_CONFIG_HOME/hloscope/hardware.toml`
(default `~/.config/hloscope/hardware.toml`); see `load_user_hardware` for the format.

`cpu` is this machine, measured: a float32 matmul and a memory copy (numpy), best of a few
runs, cached in `$XDG_CACHE_HOME/hloscope/cpu-calibration.json` (default `~/.cache/...`).

Conventions
- Peaks are *dense* (no 2:4 sparsity): vendors often print sparse figures, twice the dense.
- Keys of `peak_flops`: `f32`, `tf32`, `bf16`, `fp16`, `fp8`, `int8` (int8 in OP/s), `f64`.
- A link's `bytes_per_s` is one link, one direction; `count` links per chip.
  `scope` is `intra` (within a host, NVLink domain or TPU slice) or `inter` (across hosts or
  slices: InfiniBand, DCN).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hloscope.errors import InputError, UsageError

if TYPE_CHECKING:
    from hloscope.records import Capture

GB = 1e9
TB = 1e12
GIB = 2**30

DTYPES = ("f32", "tf32", "bf16", "fp16", "fp8", "int8", "f64")

# Which peak an HLO element type runs at, and what to fall back to when a device has no
# published figure for it.
_PEAK_KEY = {
    "f32": "f32", "bf16": "bf16", "f16": "fp16", "f64": "f64",
    "s8": "int8", "u8": "int8", "s4": "int8", "u4": "int8",
}
_FALLBACK = {
    "fp8": ("fp8", "bf16", "f32"),
    "fp16": ("fp16", "bf16", "f32"),
    "int8": ("int8", "bf16", "f32"),
    "bf16": ("bf16", "f32"),
    "f64": ("f64", "f32"),
    "f32": ("f32", "bf16"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """One kind of interconnect port on a chip."""

    name: str
    """`nvlink4`, `ici`, `dcn`, `infiniband-ndr`, ..."""
    scope: str
    """`intra`: within a host / NVLink domain / TPU slice; `inter`: across them."""
    bytes_per_s: float
    """One link, one direction."""
    count: int
    """Links of this kind per chip."""
    latency_s: float = 0.0
    """Per-message latency, when a public figure exists (0: unknown, not modelled)."""
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "scope": self.scope, "bytes_per_s": self.bytes_per_s,
                "count": self.count, "latency_s": self.latency_s, "source": self.source}


@dataclass(frozen=True, slots=True, kw_only=True)
class Hardware:
    """One accelerator chip (or this CPU) as the roofline sees it."""

    name: str
    description: str
    peak_flops: Mapping[str, float]
    """dtype -> dense peak FLOP/s (OP/s for int8)."""
    hbm_bytes_per_s: float
    hbm_capacity_bytes: float
    links: tuple[Link, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    """figure -> where it comes from (datasheet, docs page, measurement)."""
    device_kinds: tuple[str, ...] = ()
    """`jax.Device.device_kind` strings this entry describes."""
    measured: bool = False
    """True for figures measured on this machine (`cpu`)."""
    origin: str = "built-in"
    """`built-in`, `measured`, or the TOML file it was read from."""

    def peak_for(self, dtype: str) -> tuple[float, str]:
        """(peak FLOP/s, the key used) for an HLO element type (`f32`, `bf16`, `f8e4m3fn`...).
        Types without a peak of their own (pred, s32, c64, ...) use the f32 peak."""
        key = _PEAK_KEY.get(dtype)
        if key is None:
            key = "fp8" if dtype.startswith("f8") or dtype.startswith("f4") else "f32"
        for k in _FALLBACK.get(key, (key, "f32")):
            v = self.peak_flops.get(k)
            if v:
                return v, k
        k, v = max(self.peak_flops.items(), key=lambda kv: kv[1])
        return v, k

    def link(self, scope: str) -> Link | None:
        """The fastest link of a scope (`intra` / `inter`)."""
        links = [lk for lk in self.links if lk.scope == scope]
        return max(links, key=lambda lk: lk.bytes_per_s * lk.count) if links else None

    def ridge(self, dtype: str = "bf16") -> float:
        """Arithmetic intensity (FLOP/byte) where compute time equals memory time."""
        return self.peak_for(dtype)[0] / self.hbm_bytes_per_s

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "peak_flops": dict(self.peak_flops),
            "hbm_bytes_per_s": self.hbm_bytes_per_s,
            "hbm_capacity_bytes": self.hbm_capacity_bytes,
            "links": [lk.to_json() for lk in self.links],
            "sources": dict(self.sources),
            "measured": self.measured,
            "origin": self.origin,
        }


# -- built-in devices --------------------------------------------------------------------------
# NVIDIA figures: the product datasheets (dense Tensor Core rates = half the "with sparsity"
# figures they print). NVLink: "N GB/s" per GPU is bidirectional over all links, so one link
# one way is N / links / 2. TPU figures: cloud.google.com/tpu/docs/<version> ("System
# architecture" tables), ICI per link one way = bidirectional per chip / ports / 2.

_A100_DS = "NVIDIA A100 Tensor Core GPU datasheet (A100 80GB SXM column)"
_H100_DS = "NVIDIA H100 Tensor Core GPU datasheet (H100 SXM column)"
_H200_DS = "NVIDIA H200 Tensor Core GPU datasheet (H200 SXM column)"
_B200_DS = "NVIDIA HGX B200 datasheet (per-GPU column, HGX B200)"

A100_80G = Hardware(
    name="a100-80g",
    description="NVIDIA A100 80GB SXM4",
    peak_flops={
        "f64": 9.7 * TB,     # _A100_DS: FP64 9.7 TFLOPS
        "f32": 19.5 * TB,    # _A100_DS: FP32 19.5 TFLOPS
        "tf32": 156 * TB,    # _A100_DS: TF32 Tensor Core 156 TFLOPS (312 with sparsity)
        "bf16": 312 * TB,    # _A100_DS: BFLOAT16 Tensor Core 312 TFLOPS (624 sparse)
        "fp16": 312 * TB,    # _A100_DS: FP16 Tensor Core 312 TFLOPS (624 sparse)
        "int8": 624 * TB,    # _A100_DS: INT8 Tensor Core 624 TOPS (1248 sparse); no FP8 on A100
    },
    hbm_bytes_per_s=2039 * GB,        # _A100_DS: GPU memory bandwidth 2,039 GB/s (80GB SXM)
    hbm_capacity_bytes=80 * GB,       # _A100_DS: 80GB HBM2e
    links=(
        # _A100_DS: NVLink 600 GB/s (3rd gen, 12 links) -> 600/12/2 = 25 GB/s per link per way
        Link(name="nvlink3", scope="intra", bytes_per_s=25 * GB, count=12, source=_A100_DS),
        # NVIDIA DGX A100 datasheet: 8x ConnectX-6 HDR 200 Gb/s InfiniBand, one per GPU
        Link(name="infiniband-hdr", scope="inter", bytes_per_s=25 * GB, count=1,
             source="NVIDIA DGX A100 datasheet: 8x single-port ConnectX-6 200Gb/s HDR"),
    ),
    sources={"compute": _A100_DS, "hbm": _A100_DS, "nvlink": _A100_DS},
    device_kinds=("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM-80GB"),
)

H100_SXM = Hardware(
    name="h100-sxm",
    description="NVIDIA H100 SXM5 80GB",
    peak_flops={
        "f64": 34 * TB,      # _H100_DS: FP64 34 teraFLOPS
        "f32": 67 * TB,      # _H100_DS: FP32 67 teraFLOPS
        "tf32": 494.5 * TB,  # _H100_DS: TF32 Tensor Core 989 teraFLOPS with sparsity
        "bf16": 989.5 * TB,  # _H100_DS: BFLOAT16 Tensor Core 1,979 teraFLOPS with sparsity
        "fp16": 989.5 * TB,  # _H100_DS: FP16 Tensor Core 1,979 teraFLOPS with sparsity
        "fp8": 1979 * TB,    # _H100_DS: FP8 Tensor Core 3,958 teraFLOPS with sparsity
        "int8": 1979 * TB,   # _H100_DS: INT8 Tensor Core 3,958 TOPS with sparsity
    },
    hbm_bytes_per_s=3.35 * TB,        # _H100_DS: GPU memory bandwidth 3.35TB/s
    hbm_capacity_bytes=80 * GB,       # _H100_DS: GPU memory 80GB
    links=(
        # _H100_DS: NVLink 900GB/s (4th gen, 18 links) -> 900/18/2 = 25 GB/s per link per way
        Link(name="nvlink4", scope="intra", bytes_per_s=25 * GB, count=18, source=_H100_DS),
        # NVIDIA DGX H100 datasheet: 8x single-port ConnectX-7 400Gb/s NDR, one per GPU
        Link(name="infiniband-ndr", scope="inter", bytes_per_s=50 * GB, count=1,
             source="NVIDIA DGX H100 datasheet: 8x ConnectX-7 400Gb/s InfiniBand/Ethernet"),
    ),
    sources={"compute": _H100_DS, "hbm": _H100_DS, "nvlink": _H100_DS},
    device_kinds=("NVIDIA H100 80GB HBM3", "NVIDIA H100"),
)

H200 = Hardware(
    name="h200",
    description="NVIDIA H200 SXM 141GB",
    peak_flops={
        "f64": 34 * TB,      # _H200_DS: FP64 34 TFLOPS
        "f32": 67 * TB,      # _H200_DS: FP32 67 TFLOPS
        "tf32": 494.5 * TB,  # _H200_DS: TF32 Tensor Core 989 TFLOPS with sparsity
        "bf16": 989.5 * TB,  # _H200_DS: BFLOAT16 Tensor Core 1,979 TFLOPS with sparsity
        "fp16": 989.5 * TB,  # _H200_DS: FP16 Tensor Core 1,979 TFLOPS with sparsity
        "fp8": 1979 * TB,    # _H200_DS: FP8 Tensor Core 3,958 TFLOPS with sparsity
        "int8": 1979 * TB,   # _H200_DS: INT8 Tensor Core 3,958 TOPS with sparsity
    },
    hbm_bytes_per_s=4.8 * TB,         # _H200_DS: GPU memory bandwidth 4.8TB/s
    hbm_capacity_bytes=141 * GB,      # _H200_DS: GPU memory 141GB HBM3e
    links=(
        # _H200_DS: NVLink 900GB/s (18 links) -> 25 GB/s per link per way
        Link(name="nvlink4", scope="intra", bytes_per_s=25 * GB, count=18, source=_H200_DS),
        # NVIDIA DGX H200 datasheet: 8x single-port ConnectX-7 400Gb/s, one per GPU
        Link(name="infiniband-ndr", scope="inter", bytes_per_s=50 * GB, count=1,
             source="NVIDIA DGX H200 datasheet: 8x ConnectX-7 400Gb/s InfiniBand/Ethernet"),
    ),
    sources={"compute": _H200_DS, "hbm": _H200_DS, "nvlink": _H200_DS},
    device_kinds=("NVIDIA H200", "NVIDIA H200 141GB HBM3e"),
)

B200 = Hardware(
    name="b200",
    description="NVIDIA B200 (HGX B200, 1000 W)",
    peak_flops={
        "f64": 37 * TB,      # _B200_DS: FP64/FP64 Tensor Core 37 TFLOPS
        "f32": 75 * TB,      # _B200_DS: FP32 75 TFLOPS
        "tf32": 1.1e15,      # _B200_DS: TF32 Tensor Core 2.2 PFLOPS with sparsity
        "bf16": 2.25e15,     # _B200_DS: FP16/BF16 Tensor Core 4.5 PFLOPS with sparsity
        "fp16": 2.25e15,     # _B200_DS: FP16/BF16 Tensor Core 4.5 PFLOPS with sparsity
        "fp8": 4.5e15,       # _B200_DS: FP8/FP6 Tensor Core 9 PFLOPS with sparsity
        "int8": 4.5e15,      # _B200_DS: INT8 Tensor Core 9 POPS with sparsity
    },
    hbm_bytes_per_s=7.7 * TB,         # _B200_DS: GPU memory bandwidth 7.7TB/s (HGX B200)
    hbm_capacity_bytes=180 * GB,      # _B200_DS: GPU memory 180GB HBM3E
    links=(
        # _B200_DS: 5th gen NVLink 1.8TB/s (18 links) -> 1800/18/2 = 50 GB/s per link per way
        Link(name="nvlink5", scope="intra", bytes_per_s=50 * GB, count=18, source=_B200_DS),
        # NVIDIA DGX B200 datasheet: 8x single-port ConnectX-7 400Gb/s, one per GPU
        Link(name="infiniband-ndr", scope="inter", bytes_per_s=50 * GB, count=1,
             source="NVIDIA DGX B200 datasheet: 8x ConnectX-7 VPI 400Gb/s"),
    ),
    sources={"compute": _B200_DS, "hbm": _B200_DS, "nvlink": _B200_DS},
    device_kinds=("NVIDIA B200",),
)

_TPU_F32 = ("no published f32 figure; XLA's default precision runs an f32 matmul as one bf16 "
            "MXU pass, so the bf16 peak is used (Precision.HIGHEST is several passes slower)")
_V4 = "cloud.google.com/tpu/docs/v4 (system architecture table)"
_V4_ICI = ("Jouppi et al., 'TPU v4: An Optically Reconfigurable Supercomputer', ISCA 2023: "
           "6 ICI links per chip (3D torus), 400 Gb/s in each direction")
_V5E = "cloud.google.com/tpu/docs/v5e (key chip specifications)"
_V5P = "cloud.google.com/tpu/docs/v5p (key specifications)"
_V6E = "cloud.google.com/tpu/docs/v6e (system architecture table)"

TPU_V4 = Hardware(
    name="tpu-v4",
    description="Google Cloud TPU v4 (per chip, megacore)",
    peak_flops={
        "bf16": 275 * TB,    # _V4: peak compute per chip (bf16/int8) 275 TFLOPs
        "int8": 275 * TB,    # _V4: same figure for int8
        "f32": 275 * TB,     # _TPU_F32
    },
    hbm_bytes_per_s=1200 * GB,        # _V4: HBM2 bandwidth 1200 GBps
    hbm_capacity_bytes=32 * GIB,      # _V4: HBM2 capacity 32 GiB
    links=(
        Link(name="ici", scope="intra", bytes_per_s=50 * GB, count=6, source=_V4_ICI),
    ),
    sources={"compute": _V4, "hbm": _V4, "ici": _V4_ICI, "f32": _TPU_F32},
    device_kinds=("TPU v4",),
)

TPU_V5E = Hardware(
    name="tpu-v5e",
    description="Google Cloud TPU v5e (per chip)",
    peak_flops={
        "bf16": 197 * TB,    # _V5E: peak compute per chip (bf16) 197 TFLOPs
        "int8": 393 * TB,    # _V5E: peak compute per chip (Int8) 393 TOPs
        "f32": 197 * TB,     # _TPU_F32
    },
    hbm_bytes_per_s=819 * GB,         # _V5E: HBM2 16 GB, 819 GBps
    hbm_capacity_bytes=16 * GB,       # _V5E: HBM2 capacity 16 GB
    links=(
        # _V5E: bidirectional ICI bandwidth per chip 400 GBps over 4 ports -> 50 GB/s per way
        Link(name="ici", scope="intra", bytes_per_s=50 * GB, count=4, source=_V5E),
        # _V6E table, v5e column: per-host NIC 2 x 100 Gbps, 8 chips per host -> 25 Gb/s/chip
        Link(name="dcn", scope="inter", bytes_per_s=3.125 * GB, count=1, source=_V6E),
    ),
    sources={"compute": _V5E, "hbm": _V5E, "ici": _V5E, "dcn": _V6E, "f32": _TPU_F32},
    device_kinds=("TPU v5 lite", "TPU v5e"),
)

TPU_V5P = Hardware(
    name="tpu-v5p",
    description="Google Cloud TPU v5p (per chip, megacore)",
    peak_flops={
        "bf16": 459 * TB,    # _V5P: peak compute per chip (BF16) 459 TFLOPs
        "fp8": 459 * TB,     # _V5P: peak compute per chip (FP8) 459 TFLOPs
        "int8": 918 * TB,    # Google Cloud blog 'Introducing Cloud TPU v5p' (Dec 2023): 918 TOPs
        "f32": 459 * TB,     # _TPU_F32
    },
    hbm_bytes_per_s=2765 * GB,        # _V5P: HBM bandwidth per chip 2765 GBps
    hbm_capacity_bytes=95 * GIB,      # _V5P: HBM capacity per chip 95 GiB
    links=(
        # _V5P: bidirectional ICI bandwidth per chip 1200 GBps, 3D torus = 6 ports -> 100 GB/s
        Link(name="ici", scope="intra", bytes_per_s=100 * GB, count=6, source=_V5P),
        # _V5P: data center network (DCN) bandwidth per chip 50 Gbps
        Link(name="dcn", scope="inter", bytes_per_s=6.25 * GB, count=1, source=_V5P),
    ),
    sources={"compute": _V5P, "hbm": _V5P, "ici": _V5P, "dcn": _V5P, "f32": _TPU_F32},
    device_kinds=("TPU v5", "TPU v5p"),
)

TPU_V6E = Hardware(
    name="tpu-v6e",
    description="Google Cloud TPU v6e Trillium (per chip)",
    peak_flops={
        "bf16": 918 * TB,    # _V6E: peak compute per chip (bf16) 918 TFLOPs
        "int8": 1836 * TB,   # _V6E: peak compute per chip (Int8) 1836 TOPs
        "f32": 918 * TB,     # _TPU_F32
    },
    hbm_bytes_per_s=1640 * GB,        # _V6E: HBM bandwidth per chip 1640 GBps
    hbm_capacity_bytes=32 * GB,       # _V6E: HBM capacity per chip 32 GB
    links=(
        # _V6E: bidirectional ICI bandwidth per chip 800 GBps over 4 ports -> 100 GB/s per way
        Link(name="ici", scope="intra", bytes_per_s=100 * GB, count=4, source=_V6E),
        # _V6E: per-host NIC 4 x 200 Gbps, 8 chips per host -> 100 Gb/s per chip
        Link(name="dcn", scope="inter", bytes_per_s=12.5 * GB, count=1, source=_V6E),
    ),
    sources={"compute": _V6E, "hbm": _V6E, "ici": _V6E, "dcn": _V6E, "f32": _TPU_F32},
    device_kinds=("TPU v6 lite", "TPU v6e"),
)

BUILTIN: Mapping[str, Hardware] = {
    h.name: h for h in (A100_80G, H100_SXM, H200, B200, TPU_V4, TPU_V5E, TPU_V5P, TPU_V6E)
}


# -- this machine ------------------------------------------------------------------------------


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hloscope"


def _cpu_key() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model} x{os.cpu_count()} (calibration v{_CALIBRATION})"


_CALIBRATION = 2
"""Bumped when the measurement changes, so older cached figures are measured again."""


def measure_cpu(*, matmul_n: int = 1024, copy_mib: int = 64, repeats: int = 5
                ) -> dict[str, float]:
    """Best-of-`repeats` float32 matmul FLOP/s and memory-copy bytes/s (read + write) on this
    machine, with numpy. About a second on a 2-core machine. (512x512 matmuls measured 10x
    below 1024x1024 ones here: too short to keep the BLAS threads busy.)"""
    import numpy as np

    a = np.ones((matmul_n, matmul_n), dtype=np.float32)
    b = np.ones((matmul_n, matmul_n), dtype=np.float32)
    for _ in range(2):
        a @ b  # start and warm the BLAS threads
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    flops = 2.0 * matmul_n**3 / best
    src = np.ones(copy_mib * 2**20 // 4, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    bandwidth = 2.0 * src.nbytes / best
    return {"f32_flops": flops, "copy_bytes_per_s": bandwidth}


def _memory_bytes() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0.0


def cpu_hardware(*, measure: bool = True, cache: Path | None = None) -> Hardware:
    """This machine, from a cached calibration (measured on first use). With
    `measure=False` and no cache, a placeholder that says it was not measured."""
    path = cache or (_cache_dir() / "cpu-calibration.json")
    key = _cpu_key()
    data: dict[str, Any] | None = None
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict) and loaded.get("key") == key:
            data = loaded
    except (OSError, ValueError):
        data = None
    if data is None and measure:
        data = {"key": key, "measured_at": time.time(), **measure_cpu()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data), encoding="utf-8")
        except OSError:
            pass  # an unwritable cache only costs a re-measurement next time
    if data is None:
        return Hardware(
            name="cpu", description=f"{key} (not measured)",
            peak_flops={"f32": 1e11}, hbm_bytes_per_s=1e10, hbm_capacity_bytes=_memory_bytes(),
            sources={"all": "placeholder: calibration disabled, figures are not this machine's"},
            measured=False, origin="placeholder",
        )
    when = time.strftime("%Y-%m-%d", time.localtime(float(data.get("measured_at", 0))))
    measured = f"measured on this machine ({when}, {path})"
    flops = float(data["f32_flops"])
    bw = float(data["copy_bytes_per_s"])
    return Hardware(
        name="cpu",
        description=f"this machine: {key}",
        # bf16/int8 are not measured: XLA:CPU has no faster path to assume, so f32 stands in.
        peak_flops={"f32": flops},
        hbm_bytes_per_s=bw,
        hbm_capacity_bytes=_memory_bytes(),
        links=(
            # Fake devices on one host exchange data through memory: the copy rate, one link.
            Link(name="memory", scope="intra", bytes_per_s=bw / 2, count=1, source=measured),
        ),
        sources={
            "f32": f"numpy float32 matmul, best of 5, {measured}",
            "other dtypes": "not measured: the f32 figure is used",
            "memory": f"numpy copy (read + write), best of 5, {measured}",
            "capacity": "physical memory (sysconf)",
        },
        measured=True,
        origin="measured",
    )


# -- user devices ------------------------------------------------------------------------------


def user_hardware_path() -> Path:
    env = os.environ.get("HLOSCOPE_HARDWARE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hloscope" / "hardware.toml"


def load_user_hardware(path: Path | None = None) -> dict[str, Hardware]:
    """Devices from a TOML file. Each table is one device:

    ```toml
    [my-gpu]
    description = "my accelerator"
    hbm_bytes_per_s = 3.35e12
    hbm_capacity_bytes = 80e9
    peak_flops = { bf16 = 989e12, f32 = 67e12 }
    sources = { bf16 = "vendor datasheet, 2024" }
    [[my-gpu.links]]
    name = "nvlink"
    scope = "intra"        # or "inter"
    bytes_per_s = 25e9     # one link, one direction
    count = 18
    ```
    A missing file gives no devices; a malformed one raises InputError naming the file and
    the device."""
    import tomllib

    p = path or user_hardware_path()
    if not p.is_file():
        if path is not None or os.environ.get("HLOSCOPE_HARDWARE"):
            raise InputError(f"{p}: hardware file not found")
        return {}
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: cannot read hardware file: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{p}: not valid TOML: {e}") from None
    out: dict[str, Hardware] = {}
    for name, table in doc.items():
        if not isinstance(table, dict):
            raise InputError(f"{p}: [{name}] must be a table of device fields")
        out[name] = _device_from_table(p, name, table)
    return out


def _number(p: Path, where: str, value: Any, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{p}: {where} must be a number, got {value!r}")
    if positive and not 0 < value < math.inf:
        raise InputError(f"{p}: {where} must be > 0 and finite, got {value!r}")
    if not positive and not 0 <= value < math.inf:
        raise InputError(f"{p}: {where} must be >= 0 and finite, got {value!r}")
    return float(value)


def _list(p: Path, where: str, value: Any, *, of: type) -> list[Any]:
    """A TOML array (a string is not a list of its letters)."""
    if not isinstance(value, list) or not all(isinstance(v, of) for v in value):
        kind = "tables ([[name.links]])" if of is dict else "strings"
        raise InputError(f"{p}: {where} must be an array of {kind}, got {value!r}")
    return value


def _link_from_table(p: Path, where: str, i: int, lk: Any) -> Link:
    if not isinstance(lk, dict):
        raise InputError(f"{p}: {where} must be a table")
    scope = lk.get("scope")
    if scope not in ("intra", "inter"):
        raise InputError(f"{p}: {where}.scope must be \"intra\" or \"inter\", got {scope!r}")
    count = lk.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError(f"{p}: {where}.count must be a positive integer, got {count!r}")
    return Link(
        name=str(lk.get("name", f"link{i}")), scope=scope,
        bytes_per_s=_number(p, f"{where}.bytes_per_s", lk.get("bytes_per_s")),
        count=count,
        latency_s=_number(p, f"{where}.latency_s", lk.get("latency_s", 0.0), positive=False),
        source=str(lk.get("source", str(p))),
    )


def _device_from_table(p: Path, name: str, t: Mapping[str, Any]) -> Hardware:
    allowed = {"description", "peak_flops", "hbm_bytes_per_s", "hbm_capacity_bytes", "links",
               "sources", "device_kinds"}
    extra = set(t) - allowed
    if extra:
        raise InputError(f"{p}: [{name}]: unknown field(s) {', '.join(sorted(extra))} "
                         f"(allowed: {', '.join(sorted(allowed))})")
    for req in ("peak_flops", "hbm_bytes_per_s"):
        if req not in t:
            raise InputError(f"{p}: [{name}]: missing {req}")
    peaks = t["peak_flops"]
    if not isinstance(peaks, dict) or not peaks:
        raise InputError(f"{p}: [{name}].peak_flops must be a table like {{ bf16 = 9.9e14 }}")
    for k in peaks:
        if k not in DTYPES:
            raise InputError(f"{p}: [{name}].peak_flops: unknown dtype {k!r} "
                             f"(use {', '.join(DTYPES)})")
    tables = _list(p, f"[{name}].links", t.get("links", []), of=dict)
    links = tuple(_link_from_table(p, f"[{name}].links[{i}]", i, lk) for i, lk in enumerate(tables))
    kinds = _list(p, f"[{name}].device_kinds", t.get("device_kinds", []), of=str)
    sources = t.get("sources", {})
    if not isinstance(sources, dict):
        raise InputError(f"{p}: [{name}].sources must be a table of strings")
    return Hardware(
        name=name,
        description=str(t.get("description", name)),
        peak_flops={k: _number(p, f"[{name}].peak_flops.{k}", v) for k, v in peaks.items()},
        hbm_bytes_per_s=_number(p, f"[{name}].hbm_bytes_per_s", t["hbm_bytes_per_s"]),
        hbm_capacity_bytes=_number(p, f"[{name}].hbm_capacity_bytes",
                                   t.get("hbm_capacity_bytes", 0.0), positive=False),
        links=links,
        sources={str(k): str(v) for k, v in sources.items()} or {"all": f"user file {p}"},
        device_kinds=tuple(kinds),
        origin=str(p),
    )


# -- lookup ------------------------------------------------------------------------------------


def names() -> tuple[str, ...]:
    """Every device name `get_hardware` accepts: built-ins, `cpu`, then the user's."""
    return ("cpu", *BUILTIN, *(n for n in load_user_hardware() if n not in (*BUILTIN, "cpu")))


def get_hardware(name: str) -> Hardware:
    """A device by name (user devices override built-ins of the same name)."""
    user = load_user_hardware()
    if name in user:
        return user[name]
    if name == "cpu":
        return cpu_hardware()
    hw = BUILTIN.get(name)
    if hw is None:
        known = ", ".join(names())
        raise UsageError(f"unknown hardware {name!r} (known: {known}; add your own in "
                         f"{user_hardware_path()})")
    return hw


def by_device_kind(kind: str) -> Hardware | None:
    """The entry whose `device_kinds` lists jax's `device_kind` string, if any."""
    for hw in (*load_user_hardware().values(), *BUILTIN.values()):
        if kind in hw.device_kinds:
            return hw
    return None


def default_hardware(capture: Capture) -> Hardware:
    """The capture's own device when we know it (its target, then its device kind),
    else this CPU."""
    if capture.target is not None and capture.target.hardware:
        try:
            return get_hardware(capture.target.hardware)
        except UsageError:
            pass
    if capture.device_kind:
        hw = by_device_kind(capture.device_kind)
        if hw is not None:
            return hw
    return cpu_hardware()


def with_figures(hw: Hardware, **changes: Any) -> Hardware:
    """A copy with some figures replaced (what-if estimates); marked as edited."""
    return replace(hw, origin=f"{hw.origin} (edited)", **changes)
