"""What runs with a target's devices: the active target (its compile-only devices and
`--mesh`), the mesh samples and factories build on it, the capture's TargetInfo, and the check
that refuses a compile for another platform than the program's.

The trap this guards (JAX-XLA-NOTES Q6): a program lowered for tpu or cuda whose `.compile()`
silently builds a CPU executable. `check_platform` compares the lowering's platforms (and the
target's) with the devices XLA compiled for, and refuses with one line when they differ.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hloscope.compile_targets import TargetSpec, check_mesh, fit_mesh, gpu_target_config
from hloscope.errors import CaptureError, Error, UsageError
from hloscope.records import Capture, DeviceInfo, TargetInfo, XlaCost

_PLATFORM_NAMES = {"gpu": "cuda", "cuda": "cuda", "tpu": "tpu", "cpu": "cpu", "rocm": "rocm"}


def platform_name(device_platform: str) -> str:
    """A jax device's `.platform` as a lowering-platform name (`gpu` devices are `cuda`)."""
    return _PLATFORM_NAMES.get(device_platform.lower(), device_platform.lower())


# -- the active target -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActiveTarget:
    spec: TargetSpec
    devices: tuple[Any, ...]
    """The target's compile-only jax devices, in topology order."""
    mesh: tuple[tuple[str, int], ...] | None
    """`--mesh`, applied by `target_mesh` to whatever mesh the program asks for."""


_ACTIVE: contextvars.ContextVar[ActiveTarget | None] = contextvars.ContextVar(
    "hloscope_target", default=None
)


def active_target() -> ActiveTarget | None:
    return _ACTIVE.get()


@contextlib.contextmanager
def activate(target: ActiveTarget) -> Iterator[None]:
    token = _ACTIVE.set(target)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def target_devices(count: int | None = None) -> list[Any]:
    """The devices a program should be built on: the target's while hloscope compiles for a
    `--target`, else jax's default devices. A factory that builds its mesh from these runs on
    every target; one that uses `jax.devices()` gets CPU devices, and the capture is refused."""
    active = _ACTIVE.get()
    if active is None:
        import jax

        devices = list(jax.devices())
    else:
        devices = list(active.devices)
    if count is not None:
        if count > len(devices):
            where = active.spec.name if active else "jax"
            raise UsageError(f"the program needs {count} devices but {where} has {len(devices)}")
        devices = devices[:count]
    return devices


def target_mesh(shape: Sequence[int], names: Sequence[str], axis_types: Any = None) -> Any:
    """A `jax.sharding.Mesh` over the active target's devices for the program's wanted mesh
    (`--mesh` replaces the sizes), laid out on the physical topology; None when no target is
    active. Samples' `make_mesh` calls this first."""
    active = _ACTIVE.get()
    if active is None:
        return None
    sizes = fit_mesh(dict(zip(names, shape, strict=True)), active.mesh)
    check_mesh(active.spec, tuple(sizes.items()))
    return build_mesh(active.spec, active.devices, sizes, axis_types)


def build_mesh(
    spec: TargetSpec, devices: Sequence[Any], sizes: dict[str, int], axis_types: Any = None
) -> Any:
    """Topology-aware device order (jax's mesh_utils, allowed to split a physical axis, as
    `jax.make_mesh` does on v5e); multislice puts the slices on the first axis (DCN data
    parallelism, as MaxText does)."""
    from jax.experimental import mesh_utils
    from jax.sharding import AxisType, Mesh

    from hloscope.capture import one_line

    shape = tuple(sizes.values())
    text = ",".join(f"{k}={v}" for k, v in sizes.items())
    try:
        if spec.num_slices > 1:
            if shape[0] % spec.num_slices:
                raise UsageError(
                    f"mesh {text}: the first axis carries the {spec.num_slices} slices of "
                    f"{spec.name}, so its size must be a multiple of {spec.num_slices}"
                )
            ici = (shape[0] // spec.num_slices, *shape[1:])
            dcn = (spec.num_slices,) + (1,) * (len(shape) - 1)
            grid = mesh_utils.create_hybrid_device_mesh(
                ici, dcn, list(devices), allow_split_physical_axes=True
            )
        else:
            grid = mesh_utils.create_device_mesh(
                shape, list(devices), allow_split_physical_axes=True
            )
    except (NotImplementedError, ValueError, AssertionError) as e:
        raise UsageError(
            f"mesh {text} does not fit the {spec.name} topology: {one_line(e, 300)}"
        ) from e
    types = axis_types if axis_types is not None else (AxisType.Auto,) * len(shape)
    return Mesh(grid, tuple(sizes), axis_types=tuple(types))


# -- devices and records ---------------------------------------------------------------------


def make_devices(spec: TargetSpec) -> list[Any]:
    """The target's jax devices: compile-only ones from libtpu's or the CUDA plugin's topology;
    for `cpu:N`, the first N CPU devices (the caller arranged the count)."""
    import jax
    from jax.experimental import topologies

    from hloscope.capture import one_line

    if spec.platform == "cpu":
        cpus = jax.devices("cpu")
        if len(cpus) < spec.device_count:
            raise UsageError(f"{spec.name}: jax has only {len(cpus)} CPU devices")
        return list(cpus[: spec.device_count])
    try:
        if spec.platform == "tpu":
            desc = topologies.get_topology_desc(
                topology_name=spec.topology,
                platform="tpu",
                chip_config_name=spec.chip_config,
                chips_per_host_bounds=spec.chips_per_host,
                num_slices=spec.num_slices,
                wrap=(False, False, False),
            )
        elif spec.platform == "cuda":
            desc = topologies.get_topology_desc(
                "", platform="cuda", target_config=gpu_target_config(spec),
                topology=spec.topology,
            )
        else:
            raise UsageError(f"{spec.name}: no compile-only devices for {spec.platform}")
    except Error:
        raise
    except Exception as e:  # libtpu / the plugin reject a topology with their own exceptions
        raise UsageError(f"cannot make the {spec.name} topology: {one_line(e, 400)}") from e
    devices = list(desc.devices)
    if len(devices) != spec.device_count:
        raise CaptureError(
            f"{spec.name}: expected {spec.device_count} devices, the backend made {len(devices)}"
        )
    return devices


def device_info(d: Any) -> DeviceInfo:
    """One device's kind and physical place: TPU chip coords (x, y, z) and core; GPU
    (slice, host, index on host) as the CUDA plugin reports them; host = process index."""
    coords = getattr(d, "coords", None)
    return DeviceInfo(
        id=int(d.id),
        kind=str(d.device_kind),
        coords=tuple(int(c) for c in coords) if coords is not None else (),
        core_on_chip=int(getattr(d, "core_on_chip", 0) or 0),
        process_index=int(getattr(d, "process_index", 0) or 0),
        slice_index=int(getattr(d, "slice_index", 0) or 0),
    )


def target_info(spec: TargetSpec, devices: Sequence[Any], order: Sequence[int] = ()) -> TargetInfo:
    """TargetInfo for a capture. `order` is the compiled device assignment (jax device ids):
    listed first, in that order, so `devices[i]` is device `i` of the HLO's replica groups and
    tile assignments; devices the program does not use follow in topology order."""
    by_id = {int(d.id): d for d in devices}
    ids = [i for i in order if i in by_id]
    ids += [int(d.id) for d in devices if int(d.id) not in set(ids)]
    return TargetInfo(
        name=spec.name,
        platform=spec.platform,
        topology=spec.topology,
        chips_per_host=spec.chips_per_host,
        num_slices=spec.num_slices,
        devices=tuple(device_info(by_id[i]) for i in ids),
        hardware=spec.hardware,
    )


# -- the trap --------------------------------------------------------------------------------


def compiled_platforms(compiled: Any) -> set[str]:
    """Platforms of the devices a `jax.stages.Compiled` was built for: the loaded executable's
    devices when it has them (a CPU fallback always does), else its shardings' device sets
    (compile-only executables)."""
    import jax

    runtime = compiled.runtime_executable()
    local = getattr(runtime, "local_devices", None)
    if callable(local):
        found = {platform_name(d.platform) for d in local()}
        if found:
            return found
    found = set()
    for s in jax.tree.leaves((compiled.input_shardings, compiled.output_shardings)):
        found |= {platform_name(d.platform) for d in getattr(s, "device_set", ())}
    return found


def check_platform(lowered: Any, compiled: Any, *, expected: str | None = None) -> None:
    """Refuse a compile whose platform is not the one the program was lowered for (or the
    target's): jax compiles a Lowered for tpu/cuda into a CPU executable without a word."""
    from hloscope import _jaxapi

    got = compiled_platforms(compiled)
    wanted = {expected} if expected else set()
    if lowered is not None:
        wanted |= {platform_name(p) for p in _jaxapi.lowering_platforms(lowered) or ()}
    if not wanted or not got or got <= wanted:
        return
    lowered_for = "/".join(sorted(wanted))
    raise UsageError(
        f"refusing a capture lowered for {lowered_for} but compiled by XLA for "
        f"{'/'.join(sorted(got))} (jax falls back to the local backend silently): compile with "
        f"--target (hloscope.capture(..., target=...)) and build the mesh from "
        "hloscope.target_devices(), not jax.devices()"
    )


def finish(cap: Capture, spec: TargetSpec, devices: Sequence[Any], order: Sequence[int]) -> Capture:
    """A worker capture made whole: the platform checked, XLA's cost figures where the
    compile-only executable gave none, the target recorded."""
    got = platform_name(cap.platform) if cap.platform else ""
    if got != spec.platform:
        raise UsageError(
            f"refusing the capture: the program was compiled for {got or 'an unknown platform'}"
            f" ({cap.device_count} device(s)), not for {spec.name}; build its mesh from "
            "hloscope.target_devices() (samples do), not jax.devices()"
        )
    notes = list(cap.notes)
    cost = cap.xla_cost
    if cost is None and cap.hlo:
        cost = hlo_text_cost(cap.hlo)
        notes = [n for n in notes if not n.startswith("no XLA cost analysis")]
        # On TPU, where both exist, the flops agree exactly with cost_analysis(); bytes use the
        # CPU's shape sizes, which leave out the device's layout padding (TPU's own were up to
        # 2x higher on the transformer sample).
        notes.append(
            f"XLA cost figures: HloCostAnalysis run on the optimized HLO text (compile-only "
            f"{spec.platform} executables return no cost_analysis()); bytes use unpadded "
            "shape sizes"
        )
    if cap.device_count != spec.device_count:
        notes.append(f"the program uses {cap.device_count} of {spec.name}'s "
                     f"{spec.device_count} devices")
    return dataclasses.replace(
        cap,
        xla_cost=cost,
        device_kind=cap.device_kind or spec.device_kind,
        target=target_info(spec, devices, order),
        notes=tuple(notes),
    )


def hlo_text_cost(hlo: str) -> XlaCost:
    """XLA's C++ HloCostAnalysis over an optimized module's text (what `cost_analysis()` runs,
    with the CPU client's shape sizes), for executables that return none."""
    from hloscope import _jaxapi
    from hloscope.capture import xla_cost_from

    cost = xla_cost_from(_jaxapi.hlo_cost_of_text(hlo), source="hlo_module_cost_analysis")
    if cost is None:
        raise CaptureError("HloCostAnalysis returned nothing for the optimized HLO")
    return cost
