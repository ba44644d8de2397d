"""Compile a program for a target this machine does not have (a TPU topology through libtpu, a
GPU board through the CUDA PJRT plugin), in a worker process.

Why a worker: libtpu prints pages of startup noise and holds process-wide state (one topology
per process is what it is built for); the CUDA plugin must start with
`JAX_SKIP_CUDA_CONSTRAINTS_CHECK=1`; and jax's backends in the caller's process must stay as
they are. The worker gets the program *by name* (`sample:NAME`, `file.py:factory`,
`package.module:factory`), builds the target's compile-only devices, makes the program with
them (`target_mesh` below is how samples and factories see those devices), compiles, and
writes the capture as a `.hlos` bundle. The caller reads the bundle back: plain JSON and text,
never a pickle.

The trap this guards (JAX-XLA-NOTES Q6): a program lowered for tpu or cuda whose `.compile()`
silently builds a CPU executable. Every capture made here is checked against the target's
platform and refused, with one line, when they differ (`check_platform`), and so is any
capture whose lowering named another platform than the one XLA compiled for.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hloscope import errors
from hloscope.compile_targets import (
    TargetSpec,
    check_mesh,
    fit_mesh,
    gpu_target_config,
    parse_target,
    require_backend,
)
from hloscope.errors import CaptureError, Error, UsageError
from hloscope.records import Capture, DeviceInfo, TargetInfo, XlaCost

Progress = Callable[[str], None]

_PLATFORM_NAMES = {"gpu": "cuda", "cuda": "cuda", "tpu": "tpu", "cpu": "cpu", "rocm": "rocm"}


def platform_name(device_platform: str) -> str:
    """A jax device's `.platform` as a lowering-platform name (`gpu` devices are `cuda`)."""
    return _PLATFORM_NAMES.get(device_platform.lower(), device_platform.lower())


# -- the active target (inside the worker) ---------------------------------------------------


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
            f"mesh {text} does not fit the {spec.name} topology: {_one_line(e, 300)}"
        ) from e
    types = axis_types if axis_types is not None else (AxisType.Auto,) * len(shape)
    return Mesh(grid, tuple(sizes), axis_types=tuple(types))


# -- devices and records ---------------------------------------------------------------------


def make_devices(spec: TargetSpec) -> list[Any]:
    """The target's compile-only jax devices (libtpu topology or CUDA plugin topology)."""
    from jax.experimental import topologies

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
            raise UsageError(f"{spec.name} is compiled in-process, not by the compile worker")
    except Error:
        raise
    except Exception as e:  # libtpu / the plugin reject a topology with their own exceptions
        raise UsageError(f"cannot make the {spec.name} topology: {_one_line(e, 400)}") from e
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
        notes.append(
            f"XLA cost figures: HloCostAnalysis run on the optimized HLO text "
            f"(compile-only {spec.platform} executables return no cost_analysis())"
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


# -- the worker ------------------------------------------------------------------------------


def _one_line(e: BaseException, limit: int = 1000) -> str:
    text = " ".join(str(e).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _compile(request: dict[str, Any], spec: TargetSpec, progress: Progress) -> Capture:
    import time

    from hloscope.capture import capture_stage

    progress("topology")
    devices = make_devices(spec)
    mesh = tuple((str(n), int(s)) for n, s in request["mesh"]) if request.get("mesh") else None
    with activate(ActiveTarget(spec, tuple(devices), mesh)):
        start = time.perf_counter()
        stage, origin = build_program(request["program"], spec, progress)
        made = time.perf_counter() - start
        # capture_stage lowers and compiles, refusing a compile for another platform than the
        # lowering's (check_platform); `finish` then checks it against the target.
        cap = capture_stage(
            stage, origin=request.get("origin") or origin, progress=progress,
            timings={"program": made},
        )
    order = cap.mesh.device_ids if cap.mesh is not None else ()
    return finish(cap, spec, devices, order)


def build_program(program: str, spec: TargetSpec, progress: Progress) -> tuple[Any, str]:
    """The program named `program`, made for the active target: (Traced/Lowered/Compiled,
    origin)."""
    progress("trace")
    if program.startswith("sample:"):
        from hloscope import samples

        name = program.split(":", 1)[1]
        return samples.get(name).program(devices=spec.device_count), program
    from hloscope.targets import program_stage

    return program_stage(program), program


def worker_main(argv: Sequence[str]) -> int:
    """`python -m hloscope.remote_compile REQUEST.json EVENTS_FD`."""
    request = json.loads(Path(argv[0]).read_text())
    events = os.fdopen(int(argv[1]), "w", buffering=1) if len(argv) > 1 else None

    def progress(stage: str) -> None:
        if events is not None:
            events.write(stage + "\n")

    result_path = Path(request["result"])
    try:
        spec = parse_target(request["target"])
        cap = _compile(request, spec, progress)
        from hloscope.bundle import save

        save(cap, request["out"])
        result_path.write_text(json.dumps({"ok": True}))
        return 0
    except Error as e:
        result_path.write_text(json.dumps({"error": type(e).__name__, "message": e.message}))
        return e.exit_code
    except Exception as e:
        result_path.write_text(json.dumps(
            {"error": "CaptureError", "message": f"compile worker failed: {_one_line(e)}"}
        ))
        raise


# -- the caller's side -----------------------------------------------------------------------


def worker_env(spec: TargetSpec, scratch: Path) -> dict[str, str]:
    """The worker's environment: only the CPU backend starts (the target's devices come from
    its topology, not a backend), the CUDA plugin skips its check for CUDA libraries it does
    not need to compile, and libtpu's log files go to the scratch folder, not /tmp/tpu_logs."""
    env = dict(os.environ)
    env["JAX_PLATFORMS"] = "cpu"
    env["JAX_SKIP_CUDA_CONSTRAINTS_CHECK"] = "1"
    env["TPU_LOG_DIR"] = str(scratch / "tpu_logs")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


_ERRORS: dict[str, type[Error]] = {
    name: cls
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, Error)
}


def compile_remote(
    program: str,
    spec: TargetSpec,
    *,
    mesh: Sequence[tuple[str, int]] | None = None,
    origin: str = "",
    progress: Progress | None = None,
    timeout_s: float | None = None,
) -> Capture:
    """Compile `program` (a target string) for `spec` in a worker process; its Capture."""
    require_backend(spec)
    if mesh:
        check_mesh(spec, mesh)
    from hloscope.bundle import load_bundle

    with tempfile.TemporaryDirectory(prefix="hloscope-target-") as tmp:
        scratch = Path(tmp)
        out = scratch / "capture.hlos"
        request: dict[str, Any] = {
            "program": program,
            "target": spec.name,
            "mesh": [list(a) for a in mesh] if mesh else None,
            "origin": origin or program,
            "out": str(out),
            "result": str(scratch / "result.json"),
        }
        (scratch / "request.json").write_text(json.dumps(request))
        rc, log = _run_worker(scratch, spec, progress, timeout_s)
        result_file = scratch / "result.json"
        result = json.loads(result_file.read_text()) if result_file.exists() else None
        if result and result.get("ok"):
            return load_bundle(out)
        if result and "error" in result:
            cls = _ERRORS.get(result["error"], CaptureError)
            raise cls(result["message"])
        tail = " | ".join(line for line in log.splitlines()[-3:] if line.strip())
        raise CaptureError(
            f"the compile worker for {spec.name} exited with {rc} and no result; "
            f"last output: {tail[:600] or '(none)'}"
        )


def _run_worker(
    scratch: Path, spec: TargetSpec, progress: Progress | None, timeout_s: float | None
) -> tuple[int, str]:
    log_path = scratch / "worker.log"
    read_fd, write_fd = os.pipe()
    cmd = [sys.executable, "-m", "hloscope.remote_compile", str(scratch / "request.json"),
           str(write_fd)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=worker_env(spec, scratch), pass_fds=(write_fd,),
        )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as events:
            for line in events:
                if progress is not None and line.strip():
                    progress(line.strip())
        rc = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.wait()
        raise CaptureError(f"compiling for {spec.name} took longer than {timeout_s:g} s") from e
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return rc, log_path.read_text(errors="replace")


if __name__ == "__main__":
    raise SystemExit(worker_main(sys.argv[1:]))
