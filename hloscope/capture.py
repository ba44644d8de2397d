"""jit function / Wrapped / Traced / Lowered / Compiled -> `Capture` (plain data, see records.py).

This is the boundary with jax: everything jax hands back (texts, `cost_analysis()`,
`memory_analysis()`, shardings, the mesh, devices) is turned into plain records here, so the
rest of hloscope never holds a jax object. jax is imported inside functions only.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hloscope.errors import CaptureError, UsageError
from hloscope.records import (
    Capture,
    DeviceInfo,
    MeshInfo,
    ShardingInfo,
    TargetInfo,
    XlaCost,
    XlaMemory,
)

Progress = Callable[[str], None]
"""Called with `trace`, `lower`, `compile` as each stage starts (the CLI shows it on a TTY)."""

_FLAG = "--xla_force_host_platform_device_count"


class DeviceCountError(UsageError):
    """jax's backend already started with fewer devices than the program needs."""


def capture(
    program: Any,
    /,
    *args: Any,
    devices: int | None = None,
    progress: Progress | None = None,
    target: str | None = None,
    mesh: str | None = None,
    **kwargs: Any,
) -> Capture:
    """Capture a program: everything hloscope needs, as plain data.

    `program` is a function (jitted with `args`/`kwargs`, which may be `ShapeDtypeStruct`s with
    shardings), a `jax.jit` result, a `jax.stages.Traced` / `Lowered` / `Compiled`, or a target
    string (`sample:NAME`, `file.py:factory`, `package.module:factory`). `devices=N` gives jax N
    fake CPU devices (a sample string takes the first N of more); it must come before anything
    starts jax's backend, else a `DeviceCountError` says so. (`devices`, `progress`, `target`
    and `mesh` are hloscope's own keywords; pass a function keyword of the same name through
    `functools.partial`.)

    `target="tpu-v5p:8x8x16"` (or `h100x8`, `cpu:64`: `hloscope.compile_targets`) compiles for
    hardware this machine need not have, in a worker process, so the program must be named: a
    target string or a module-level factory that builds its mesh on
    `hloscope.target_devices()`. `mesh="data=16,model=16"` resizes the mesh the program builds.
    """
    if target is not None or mesh is not None:
        if args or kwargs or devices is not None:
            raise UsageError("target= and mesh= take a named program, no arguments or devices=")
        from hloscope.remote_compile import capture_for_target, default_target, program_name

        return capture_for_target(
            program_name(program), target or default_target(mesh), mesh=mesh, progress=progress
        )
    if isinstance(program, str):
        if args or kwargs:
            raise UsageError("a target string takes no arguments")
        from hloscope.targets import capture_target

        return capture_target(program, devices=devices, progress=progress)
    if devices is not None:
        ensure_devices(devices, exact=True)
    return capture_stage(program, args, kwargs, progress=progress)


def capture_stage(
    target: Any,
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    origin: str = "",
    progress: Progress | None = None,
    timings: Mapping[str, float] | None = None,
) -> Capture:
    """`capture` without target strings or device arrangement (the caller did both).
    `timings` holds stages the caller already ran (a factory's trace)."""
    import jax

    stages = jax.stages
    kwargs = kwargs or {}
    timings = dict(timings or {})
    traced = lowered = compiled = None
    if isinstance(target, stages.Compiled | stages.Lowered | stages.Traced):
        if args or kwargs:
            raise UsageError(f"arguments are only for a function, not a {type(target).__name__}")
    elif callable(target):
        fn = target if hasattr(target, "trace") else jax.jit(target)
        traced = _stage("trace", timings, progress, lambda: fn.trace(*args, **(kwargs or {})))
    else:
        raise UsageError(
            f"cannot capture a {type(target).__name__}: give a function, a jax.jit result, "
            "or a jax.stages Traced / Lowered / Compiled"
        )
    if isinstance(target, stages.Traced):
        traced = target
    if isinstance(target, stages.Lowered):
        lowered = target
    if isinstance(target, stages.Compiled):
        compiled = target
    if traced is not None:
        lowered = _stage("lower", timings, progress, traced.lower)
    if lowered is not None:
        compiled = _stage("compile", timings, progress, lowered.compile)
        # jax compiles a Lowered for tpu/cuda into a CPU executable without a word: refuse.
        from hloscope.target_runtime import check_platform

        check_platform(lowered, compiled)
    assert compiled is not None
    start = time.perf_counter()
    cap = _record(traced, lowered, compiled, origin=origin, timings=timings)
    return _with_timing(cap, "record", time.perf_counter() - start)


def _stage(name: str, timings: dict[str, float], progress: Progress | None, fn: Any) -> Any:
    if progress is not None:
        progress(name)
    start = time.perf_counter()
    try:
        result = fn()
    except Exception as e:  # jax raises anything; the user sees its message, not a traceback
        from hloscope.errors import Error

        if isinstance(e, Error):
            raise
        raise CaptureError(f"{name} failed: {one_line(e)}") from e
    timings[name] = time.perf_counter() - start
    return result


def one_line(e: BaseException, limit: int = 1000) -> str:
    """An exception as one line: `Type: message`, whitespace squashed, long ones cut."""
    text = " ".join(str(e).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _with_timing(cap: Capture, key: str, seconds: float) -> Capture:
    import dataclasses

    return dataclasses.replace(cap, timings_s={**cap.timings_s, key: seconds})


# -- recording ------------------------------------------------------------------------------


def _record(
    traced: Any, lowered: Any, compiled: Any, *, origin: str, timings: Mapping[str, float]
) -> Capture:
    notes: list[str] = []
    jaxpr = str(traced.jaxpr) if traced is not None else None
    stablehlo = lowered.as_text(debug_info=True) if lowered is not None else None
    if traced is None:
        notes.append("no jaxpr: captured from a Lowered or Compiled, not a function or Traced")
    if lowered is None:
        notes.append("no StableHLO: captured from a Compiled")
    hlo = compiled.as_text()
    if hlo is None:
        notes.append("no optimized HLO: this backend's executable does not print its HLO")
    cost = _cost(compiled, notes)
    memory = _memory(compiled, notes)
    in_sh = _shardings(compiled.input_shardings, compiled.in_avals)
    out_sh = _shardings(compiled.output_shardings, compiled.out_info)
    mesh = _mesh(_leaves(compiled.input_shardings) + _leaves(compiled.output_shardings))
    devices = _devices(_leaves(compiled.input_shardings) + _leaves(compiled.output_shardings))
    platform = devices[0].platform if devices else ""
    kind = devices[0].device_kind if devices else ""
    count = len(devices) or 1
    return Capture(
        name=_module_name(hlo, stablehlo) or f"jit_{getattr(traced, 'fun_name', 'program')}",
        origin=origin,
        stablehlo=stablehlo,
        hlo=hlo,
        jaxpr=jaxpr,
        xla_cost=cost,
        xla_memory=memory,
        in_shardings=in_sh,
        out_shardings=out_sh,
        mesh=mesh,
        platform=platform,
        device_kind=kind,
        device_count=count,
        target=TargetInfo(
            name=f"{platform}:{count}",
            platform=platform,
            devices=tuple(_device_info(d) for d in devices),
        ),
        versions=versions(),
        timings_s=dict(timings),
        notes=tuple(notes),
    )


def _module_name(hlo: str | None, stablehlo: str | None) -> str | None:
    if hlo:
        m = re.search(r"^HloModule\s+([^\s,]+)", hlo, re.M)
        if m:
            return m.group(1)
    if stablehlo:
        m = re.search(r"^module\s+@([\w.$-]+)", stablehlo, re.M)
        if m:
            return m.group(1)
    return None


def _cost(compiled: Any, notes: list[str]) -> XlaCost | None:
    try:
        raw = compiled.cost_analysis()
    except Exception as e:  # some compile-only backends raise instead of returning None
        notes.append(f"no XLA cost analysis: {one_line(e, 200)}")
        return None
    cost = xla_cost_from(raw)
    if cost is None:
        notes.append("no XLA cost analysis: this backend returned none")
    return cost


def xla_cost_from(raw: Any, *, source: str = "compiled.cost_analysis") -> XlaCost | None:
    """`cost_analysis()` output -> XlaCost. jax has returned a dict, a one-element list of
    dicts, or None; missing keys read as 0 and every key is kept in `raw`."""
    if isinstance(raw, list | tuple):
        raw = raw[0] if raw else None
    if not raw:
        return None
    values = {str(k): float(v) for k, v in dict(raw).items() if isinstance(v, int | float)}
    optimal = values.get("optimal_seconds")
    return XlaCost(
        flops=values.get("flops", 0.0),
        transcendentals=values.get("transcendentals", 0.0),
        bytes_accessed=values.get("bytes accessed", 0.0),
        optimal_seconds=optimal,
        raw=values,
        source=source,
    )


def _memory(compiled: Any, notes: list[str]) -> XlaMemory | None:
    try:
        stats = compiled.memory_analysis()
    except Exception as e:
        notes.append(f"no XLA memory analysis: {one_line(e, 200)}")
        return None
    if stats is None:
        notes.append("no XLA memory analysis: this backend returned none")
        return None
    return xla_memory_from(stats)


def xla_memory_from(stats: Any) -> XlaMemory:
    """CompiledMemoryStats -> XlaMemory (bytes, per device). `peak_memory_in_bytes` is None
    where this jaxlib does not report it."""

    def get(name: str) -> int:
        return int(getattr(stats, name, 0) or 0)

    peak = getattr(stats, "peak_memory_in_bytes", None)
    return XlaMemory(
        argument_bytes=get("argument_size_in_bytes"),
        output_bytes=get("output_size_in_bytes"),
        alias_bytes=get("alias_size_in_bytes"),
        temp_bytes=get("temp_size_in_bytes"),
        generated_code_bytes=get("generated_code_size_in_bytes"),
        host_argument_bytes=get("host_argument_size_in_bytes"),
        host_output_bytes=get("host_output_size_in_bytes"),
        host_alias_bytes=get("host_alias_size_in_bytes"),
        host_temp_bytes=get("host_temp_size_in_bytes"),
        peak_bytes=int(peak) if peak is not None else None,
    )


def _leaves(tree: Any) -> list[Any]:
    import jax

    return list(jax.tree.leaves(tree))


def _shardings(shardings: Any, avals: Any) -> tuple[ShardingInfo, ...]:
    """Flattened in/out shardings with their global shapes."""
    from hloscope import _jaxapi

    out = []
    for s, aval in zip(_leaves(shardings), _leaves(avals), strict=False):
        shape = tuple(getattr(aval, "shape", ()))
        dtype = getattr(aval, "dtype", None)
        try:
            hlo = _jaxapi.hlo_sharding_text(s, len(shape))
        except Exception:  # an exotic Sharding class without an HLO form: keep the spec only
            hlo = None
        spec = getattr(s, "spec", None)
        out.append(
            ShardingInfo(
                hlo=hlo,
                spec=str(spec) if spec is not None else None,
                shape=f"{hlo_type(dtype)}[{','.join(map(str, shape))}]" if dtype else None,
            )
        )
    return tuple(out)


def hlo_type(dtype: Any) -> str:
    """A numpy/jax dtype in HLO spelling: float32 -> f32, bool -> pred, float8_e4m3fn ->
    f8e4m3fn, int4 -> s4."""
    name = str(getattr(dtype, "name", dtype))
    if name == "bool":
        return "pred"
    if name == "bfloat16":
        return "bf16"
    m = re.fullmatch(r"(float|int|uint|complex)(\d+)(?:_(\w+))?", name)
    if not m:
        return name
    prefix = {"float": "f", "int": "s", "uint": "u", "complex": "c"}[m.group(1)]
    return f"{prefix}{m.group(2)}{m.group(3) or ''}"


def _mesh(shardings: Iterable[Any]) -> MeshInfo | None:
    """The first concrete mesh among the program's NamedShardings (None: no mesh)."""
    for s in shardings:
        mesh = getattr(s, "mesh", None)
        devices = getattr(mesh, "devices", None)
        if mesh is None or devices is None:
            continue
        return MeshInfo(
            axis_names=tuple(str(n) for n in mesh.axis_names),
            axis_sizes=tuple(int(n) for n in devices.shape),
            device_ids=tuple(int(d.id) for d in devices.flat),
            axis_types=tuple(str(getattr(t, "name", t)) for t in getattr(mesh, "axis_types", ())),
        )
    return None


def _devices(shardings: Iterable[Any]) -> list[Any]:
    """The devices the program runs on, by id (the union of its shardings' device sets)."""
    seen: dict[int, Any] = {}
    for s in shardings:
        for d in getattr(s, "device_set", ()):
            seen.setdefault(int(d.id), d)
    if not seen:
        import jax

        d = jax.devices()[0]
        seen[int(d.id)] = d
    return [seen[k] for k in sorted(seen)]


def _device_info(d: Any) -> DeviceInfo:
    coords = getattr(d, "coords", None)
    return DeviceInfo(
        id=int(d.id),
        kind=str(getattr(d, "device_kind", "")),
        coords=tuple(int(c) for c in coords) if coords is not None else (),
        core_on_chip=int(getattr(d, "core_on_chip", 0) or 0),
        process_index=int(getattr(d, "process_index", 0) or 0),
        slice_index=int(getattr(d, "slice_index", 0) or 0),
    )


def versions() -> dict[str, str]:
    """jax, jaxlib, hloscope and python versions, recorded beside XLA's figures."""
    import jax
    import jaxlib

    from hloscope import __version__

    return {
        "jax": str(jax.__version__),
        "jaxlib": str(getattr(jaxlib, "__version__", "")),
        "hloscope": __version__,
        "python": ".".join(map(str, sys.version_info[:3])),
    }


# -- devices --------------------------------------------------------------------------------


def ensure_devices(n: int, *, exact: bool = False) -> None:
    """Make sure jax offers `n` devices (exactly `n` CPU devices with `exact`, at least `n`
    otherwise). Before jax's backend starts this sets `jax_num_cpu_devices` (which wins over
    XLA_FLAGS); after, the count is fixed, and too few (or, with `exact`, another number of
    CPU devices) raises `DeviceCountError`."""
    from hloscope.compile_targets import MAX_CPU_DEVICES

    # The bound `--target cpu:N` has: beyond it jaxlib overflows (a traceback) or spends
    # minutes making fake devices.
    if not 1 <= n <= MAX_CPU_DEVICES:
        raise UsageError(f"--devices must be 1..{MAX_CPU_DEVICES}, got {n}")
    import jax

    from hloscope import _jaxapi

    if not _jaxapi.backends_initialized():
        configured = int(jax.config.jax_num_cpu_devices)  # type: ignore[attr-defined]
        current = configured if configured >= 0 else flag_device_count() or 1
        if current < n or (exact and current != n):
            jax.config.update("jax_num_cpu_devices", n)  # type: ignore[no-untyped-call]
        return
    cpu = _cpu_device_count()
    have = cpu if exact else max(len(jax.devices()), cpu)
    if have < n or (exact and have != n):
        raise DeviceCountError(
            f"this program needs {'exactly ' if exact else ''}{n} devices but jax already "
            f"started with {have}; set "
            f"XLA_FLAGS={_FLAG}={n} (or call hloscope.capture(..., devices={n})) before "
            "anything starts jax's backend"
        )


def prefer_cpu() -> None:
    """Keep jax to its CPU backend for programs that run on fake CPU devices (samples,
    `--devices N`), unless the user chose platforms (`JAX_PLATFORMS`) or the backend already
    started. Without this, an installed CUDA or TPU plugin on a machine without that hardware
    makes jax's start-up try it, fail, and print a traceback."""
    if os.environ.get("JAX_PLATFORMS"):
        return
    import jax

    from hloscope import _jaxapi

    if not _jaxapi.backends_initialized():
        jax.config.update("jax_platforms", "cpu")  # type: ignore[no-untyped-call]


def _cpu_device_count() -> int:
    import jax

    try:
        return len(jax.devices("cpu"))
    except RuntimeError:  # JAX_PLATFORMS without cpu
        return 0


def flag_device_count(flags: str | None = None) -> int | None:
    """The `--xla_force_host_platform_device_count` in XLA_FLAGS, if any."""
    text = os.environ.get("XLA_FLAGS", "") if flags is None else flags
    found = re.findall(rf"{_FLAG}=(\d+)", text)
    return int(found[-1]) if found else None
