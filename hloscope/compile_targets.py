"""What `--target` means: parse and check a target spec, size a mesh against it, and know which
extra it needs. No jax here (listing targets and checking a spec must be instant); the devices
themselves are made in the compile worker, `hloscope.remote_compile`.

Spec grammar (one line, no spaces)::

    cpu | cpu:N                               N fake CPU devices (multi-device samples' default)
    tpu-GEN:TOPOLOGY[,slices=S][,host=AxBxC]  GEN in v4 v5e v5p v6e; TOPOLOGY 16x16 or 4x4x4
    GPUxN[,host=K]                            GPU in a100 h100 h200 b200; N devices, K per host

Examples: `tpu-v5e:16x16`, `tpu-v5p:8x8x16,slices=2`, `h100x8`, `b200x16`, `cpu:64`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hloscope.errors import UsageError

# -- generations -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TpuGeneration:
    name: str
    """libtpu's name for it in a topology string (`v5e` in `v5e:16x16`)."""
    ndim: int
    """2 for the 2D-torus parts (v5e, v6e), 3 for the 3D ones (v4, v5p)."""
    chip_config: str
    """`megacore` fuses a chip's two TensorCores into one jax device (v4, v5p): jax's mesh
    helpers require one device per chip there (JAX-XLA-NOTES Q6)."""
    max_chips: int
    """Largest slice Google Cloud offers (v5e/v6e 16x16; v4 pod 4096; v5p pod 8960 chips)."""
    device_kind: str
    """What libtpu reports as `device.device_kind` for this generation (measured)."""
    hardware: str
    """The `hloscope.hardware` entry for this chip."""


TPU_GENERATIONS: Mapping[str, TpuGeneration] = {
    g.name: g
    for g in (
        TpuGeneration(name="v4", ndim=3, chip_config="megacore", max_chips=4096,
                      device_kind="TPU v4", hardware="tpu-v4"),
        TpuGeneration(name="v5p", ndim=3, chip_config="megacore", max_chips=8960,
                      device_kind="TPU v5", hardware="tpu-v5p"),
        TpuGeneration(name="v5e", ndim=2, chip_config="default", max_chips=256,
                      device_kind="TPU v5 lite", hardware="tpu-v5e"),
        TpuGeneration(name="v6e", ndim=2, chip_config="default", max_chips=256,
                      device_kind="TPU v6 lite", hardware="tpu-v6e"),
    )
}


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuModel:
    name: str
    config_file: str
    """`GpuTargetConfigProto` text in `hloscope/data/gpu/` (vendor figures, sourced per line)."""
    device_kind: str
    """The device name the CUDA driver reports, as the target config states it."""
    hardware: str
    devices_per_host: int = 8
    """An HGX/DGX board: 8 GPUs on one NVLink/NVSwitch domain."""


GPU_MODELS: Mapping[str, GpuModel] = {
    g.name: g
    for g in (
        GpuModel(name="a100", config_file="a100_sxm4_80gb.txtpb",
                 device_kind="NVIDIA A100-SXM4-80GB", hardware="a100-80g"),
        GpuModel(name="h100", config_file="h100_sxm.txtpb",
                 device_kind="NVIDIA H100 80GB HBM3", hardware="h100-sxm"),
        GpuModel(name="h200", config_file="h200_sxm.txtpb",
                 device_kind="NVIDIA H200", hardware="h200"),
        GpuModel(name="b200", config_file="b200.txtpb",
                 device_kind="NVIDIA B200", hardware="b200"),
    )
}

# A host of the multi-host TPU slices Google Cloud sells holds 2x2 chips (v4, v5p, v5e and v6e
# 4-chip VMs); the 8-chip single-host v5e/v6e machines are 2x4.
_HOST_4 = (2, 2, 1)
_SINGLE_HOST_2D: Mapping[tuple[int, ...], tuple[int, int, int]] = {
    (1, 1): (1, 1, 1), (2, 2): (2, 2, 1), (2, 4): (2, 4, 1), (4, 2): (4, 2, 1)}
MAX_CPU_DEVICES = 4096


# -- the spec --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetSpec:
    """A parsed `--target`."""

    name: str
    """Canonical text (`tpu-v5e:16x16`, `h100x8`, `cpu:8`)."""
    platform: str
    """jax's lowering-platform name: `cpu`, `tpu` or `cuda`."""
    device_count: int
    """jax devices the program is partitioned over (chips on v5e/v6e/v4/v5p: one per chip)."""
    generation: str = ""
    """`v5e` ... for TPUs, `h100` ... for GPUs."""
    topology: str = ""
    """libtpu topology (`v5e:16x16`) or the CUDA plugin's `slices x hosts x per-host`."""
    dims: tuple[int, ...] = ()
    """Chip grid of one slice (TPU)."""
    num_slices: int = 1
    chips_per_host: tuple[int, ...] = ()
    """TPU: the host's chip grid (x, y, z); GPU: (devices per host,)."""
    chip_config: str = ""
    hardware: str = ""
    """Key of the matching `hloscope.hardware` entry."""
    device_kind: str = ""
    """The device kind the compiled executable must report."""

    @property
    def remote(self) -> bool:
        """Compiled in a worker process (libtpu / the CUDA plugin hold global state and print)."""
        return self.platform != "cpu"

    @property
    def hosts(self) -> int:
        per_host = math.prod(self.chips_per_host) if self.chips_per_host else self.device_count
        return max(1, self.device_count // max(1, per_host))

    def describe(self) -> str:
        if self.platform == "tpu":
            slices = f" x {self.num_slices} slices" if self.num_slices > 1 else ""
            host = "x".join(map(str, self.chips_per_host))
            return (f"{self.device_kind} {self.topology.split(':')[1]}{slices}: "
                    f"{self.device_count} devices, {self.hosts} hosts of {host} chips")
        if self.platform == "cuda":
            return (f"{self.device_kind} x {self.device_count}: {self.hosts} host(s) of "
                    f"{self.chips_per_host[0]}")
        return f"{self.device_count} CPU device(s)"


_TPU_RE = re.compile(r"tpu-(?P<gen>v\w+):(?P<topo>\d+(?:x\d+)+)$")
_GPU_RE = re.compile(r"(?P<gpu>[a-z]\d+)(?:x(?P<n>\d+))?$")
_CPU_RE = re.compile(r"cpu(?::(?P<n>\d+))?$")


def target_names() -> tuple[str, ...]:
    """One example of each accepted spec form, for help texts and error messages."""
    tpus = ("tpu-v5e:16x16", "tpu-v6e:4x4", "tpu-v4:2x2x2", "tpu-v5p:8x8x16")
    return (*tpus, *(f"{g}x8" for g in GPU_MODELS), "cpu:8")


def parse_target(text: str) -> TargetSpec:
    """`--target` text -> TargetSpec, or UsageError naming what is wrong in one line."""
    raw = text.strip().lower()
    head, *opts = raw.split(",")
    options = _options(text, opts)
    if m := _CPU_RE.match(head):
        _only(text, options, ())
        n = _count(text, m.group("n") or "1", MAX_CPU_DEVICES)
        return TargetSpec(name=f"cpu:{n}", platform="cpu", device_count=n, hardware="")
    if m := _TPU_RE.match(head):
        _only(text, options, ("slices", "host"))
        return _tpu(text, m.group("gen"), m.group("topo"), options)
    if m := _GPU_RE.match(head):
        _only(text, options, ("host",))
        return _gpu(text, m.group("gpu"), m.group("n") or "1", options)
    raise UsageError(
        f"unknown target {text!r}; expected one of: {', '.join(target_names())} "
        "(tpu-GEN:TOPOLOGY[,slices=S][,host=AxBxC], GPUxN, cpu:N)"
    )


def _options(text: str, opts: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep or not key or not value or key in out:
            raise UsageError(f"target {text!r}: bad option {opt!r}; write key=value once each")
        out[key] = value
    return out


def _only(text: str, options: Mapping[str, str], allowed: Sequence[str]) -> None:
    for key in options:
        if key not in allowed:
            ok = ", ".join(allowed) or "none"
            raise UsageError(f"target {text!r}: unknown option {key!r} (allowed here: {ok})")


def _count(text: str, digits: str, limit: int) -> int:
    n = int(digits)
    if not 1 <= n <= limit:
        raise UsageError(f"target {text!r}: device count must be 1..{limit}, got {n}")
    return n


def _tpu(text: str, gen_name: str, topo: str, options: Mapping[str, str]) -> TargetSpec:
    gen = TPU_GENERATIONS.get(gen_name)
    if gen is None:
        raise UsageError(
            f"target {text!r}: unknown TPU generation {gen_name!r}; "
            f"known: {', '.join(TPU_GENERATIONS)}"
        )
    dims = tuple(int(d) for d in topo.split("x"))
    if len(dims) != gen.ndim or min(dims) < 1:
        shape = "AxB (2D torus)" if gen.ndim == 2 else "AxBxC (3D torus)"
        raise UsageError(f"target {text!r}: a {gen.name} topology is {shape}, got {topo!r}")
    chips = math.prod(dims)
    if chips > gen.max_chips:
        raise UsageError(
            f"target {text!r}: {chips} chips is more than the largest {gen.name} slice "
            f"({gen.max_chips} chips); use slices=N for multislice"
        )
    slices = _count(text, options.get("slices", "1"), 64)
    host = _host_bounds(text, gen, dims, options.get("host"))
    grid = (*dims, 1)[:3]
    if any(d % h for d, h in zip(grid, host, strict=True)):
        raise UsageError(
            f"target {text!r}: topology {topo} is not a whole number of hosts of "
            f"{'x'.join(map(str, host))} chips; pass host=AxBxC"
        )
    suffix = f",slices={slices}" if slices > 1 else ""
    if "host" in options:
        suffix += f",host={'x'.join(map(str, host))}"
    return TargetSpec(
        name=f"tpu-{gen.name}:{topo}{suffix}",
        platform="tpu",
        device_count=chips * slices,
        generation=gen.name,
        topology=f"{gen.name}:{topo}",
        dims=dims,
        num_slices=slices,
        chips_per_host=host,
        chip_config=gen.chip_config,
        hardware=gen.hardware,
        device_kind=gen.device_kind,
    )


def _host_bounds(
    text: str, gen: TpuGeneration, dims: tuple[int, ...], given: str | None
) -> tuple[int, int, int]:
    if given is not None:
        parts = given.split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise UsageError(f"target {text!r}: host= takes AxBxC chips, got {given!r}")
        a, b, c = (int(p) for p in parts)
        return (a, b, c)
    if gen.ndim == 2 and dims in _SINGLE_HOST_2D:
        return _SINGLE_HOST_2D[dims]
    return _HOST_4


def _gpu(text: str, gpu: str, n_text: str, options: Mapping[str, str]) -> TargetSpec:
    model = GPU_MODELS.get(gpu)
    if model is None:
        raise UsageError(
            f"unknown target {text!r}; GPUs: {', '.join(f'{g}xN' for g in GPU_MODELS)}"
        )
    n = _count(text, n_text, 4096)
    per_host = _count(text, options["host"], 1024) if "host" in options else min(
        n, model.devices_per_host
    )
    if n % per_host:
        raise UsageError(
            f"target {text!r}: {n} GPUs do not fill whole hosts of {per_host}; "
            f"use a multiple of {per_host} or host=K"
        )
    suffix = f",host={per_host}" if "host" in options else ""
    return TargetSpec(
        name=f"{model.name}x{n}{suffix}",
        platform="cuda",
        device_count=n,
        generation=model.name,
        # The CUDA plugin's topology string is <slices>x<hosts per slice>x<devices per host>.
        topology=f"1x{n // per_host}x{per_host}",
        chips_per_host=(per_host,),
        hardware=model.hardware,
        device_kind=model.device_kind,
    )


def gpu_target_config(spec: TargetSpec) -> str:
    """The GpuTargetConfigProto text for a GPU target (package data)."""
    model = GPU_MODELS[spec.generation]
    return (importlib.resources.files("hloscope") / "data" / "gpu" / model.config_file).read_text()


# -- meshes ----------------------------------------------------------------------------------

_AXIS_RE = re.compile(r"[A-Za-z_]\w*$")


def parse_mesh(text: str) -> tuple[tuple[str, int], ...]:
    """`data=16,model=16` -> (("data", 16), ("model", 16)); UsageError on bad text."""
    axes: list[tuple[str, int]] = []
    for part in text.split(","):
        name, sep, size = part.strip().partition("=")
        name = name.strip()
        if not sep or not _AXIS_RE.match(name) or not size.strip().isdigit():
            raise UsageError(f"--mesh {text!r}: expected NAME=SIZE[,NAME=SIZE...], got {part!r}")
        if any(name == n for n, _ in axes):
            raise UsageError(f"--mesh {text!r}: axis {name!r} given twice")
        if int(size) < 1:
            raise UsageError(f"--mesh {text!r}: axis {name!r} needs a positive size")
        axes.append((name, int(size)))
    return tuple(axes)


def check_mesh(spec: TargetSpec, axes: Sequence[tuple[str, int]]) -> None:
    """A mesh must use every device of the target: XLA partitions over all of them."""
    n = math.prod(size for _, size in axes)
    if n != spec.device_count:
        text = ",".join(f"{a}={s}" for a, s in axes)
        raise UsageError(
            f"--mesh {text} spans {n} devices but {spec.name} has {spec.device_count}"
        )


def fit_mesh(
    wanted: Mapping[str, int], override: Sequence[tuple[str, int]] | None
) -> dict[str, int]:
    """The mesh a program asks for (its axis names and sizes), replaced by `--mesh` when given.

    The override must name the same axes: sizes can move between axes, names cannot change,
    because the program's PartitionSpecs refer to them.
    """
    if not override:
        return dict(wanted)
    names = tuple(n for n, _ in override)
    if set(names) != set(wanted):
        have = ",".join(wanted) or "(none)"
        raise UsageError(
            f"--mesh names axes {','.join(names)} but the program's mesh has axes {have}"
        )
    return dict(override)


# -- extras ----------------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def install_command(platform: str) -> str:
    """The exact pip command that installs what compiling for `platform` needs, matching the
    installed jax (what `pip install 'hloscope[tpu]'` / `'hloscope[cuda]'` resolve to)."""
    jax_version = _version("jax") or "0.10.2"
    extra = {"tpu": "tpu", "cuda": "cuda12-local"}[platform]
    return f"pip install 'jax[{extra}]=={jax_version}'"


def _required_libtpu() -> str | None:
    """The libtpu requirement the installed jax declares for its `tpu` extra (`==0.0.42.*`)."""
    for req in importlib.metadata.requires("jax") or ():
        name, _, rest = req.partition(";")
        if name.strip().startswith("libtpu") and '"tpu"' in rest:
            return name.strip()[len("libtpu"):].strip()
    return None


def require_backend(spec: TargetSpec) -> None:
    """UsageError naming the pip command when the extra a target needs is missing or does not
    match the installed jax; nothing for CPU targets."""
    why = missing_backend(spec.platform)
    if why is not None:
        raise UsageError(f"--target {spec.name} needs {why}")


def missing_backend(platform: str) -> str | None:
    """None when what compiling for `platform` needs is installed and matches jax; else what is
    missing and the pip command that installs it (one line). CPU needs nothing."""
    if platform == "tpu":
        have = _version("libtpu")
        want = _required_libtpu()
        if have is None:
            return f"libtpu (the hloscope[tpu] extra), not installed: {install_command('tpu')}"
        if want and want.startswith("==") and not _matches(have, want[2:]):
            return (f"libtpu{want} for jax {_version('jax')}, but libtpu {have} is installed: "
                    f"{install_command('tpu')}")
    elif platform == "cuda":
        jaxlib = _version("jaxlib")
        for dist in ("jax-cuda12-plugin", "jax-cuda12-pjrt"):
            have = _version(dist)
            if have is None:
                return (f"{dist} (the hloscope[cuda] extra), not installed: "
                        f"{install_command('cuda')}")
            if have != jaxlib:
                return (f"{dist} {jaxlib} to match jaxlib, but {have} is installed: "
                        f"{install_command('cuda')}")
    return None


def _matches(version: str, pattern: str) -> bool:
    """`0.0.42.1` against `0.0.42.*` (the only form jax's pins use)."""
    if pattern.endswith(".*"):
        prefix = pattern[:-2]
        return version == prefix or version.startswith(prefix + ".")
    return version == pattern
