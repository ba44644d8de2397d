"""The one adapter over jax/jaxlib's private and unstable surfaces (see JAX-XLA-NOTES.md).

Everything here imports jax lazily. A jax upgrade that moves one of these touches this file
only. Tested with jax/jaxlib 0.10.2.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any


def _jaxlib_hlo() -> Any:
    """`jaxlib._hlo`, imported by name: jaxlib declares no such attribute to type checkers."""
    return importlib.import_module("jaxlib._hlo")


def hlo_module_from_text(text: str) -> Any:
    """XLA's C++ HLO text parser -> `jaxlib._hlo.HloModule`. Raises on bad text."""
    return _jaxlib_hlo().hlo_module_from_text(text)


@functools.lru_cache(maxsize=1)
def cpu_client() -> Any:
    """A private CPU client for XLA's analyses. Made directly, not through `jax.devices()`,
    which would start every installed backend (libtpu and the CUDA plugin print noise and
    take seconds) and fix jax's device count as a side effect."""
    from jaxlib import xla_client

    return xla_client.make_cpu_client()


def hlo_module_cost_analysis(module: Any) -> dict[str, float]:
    """XLA's C++ HloCostAnalysis over any HloModule, with the CPU client's shape-size rule."""
    from jaxlib import _jax

    return dict(_jax.hlo_module_cost_analysis(cpu_client(), module))


def hlo_cost_of_text(text: str) -> dict[str, float]:
    """HloCostAnalysis totals of a module given as HLO text."""
    return hlo_module_cost_analysis(hlo_module_from_text(text))


def print_options(*, operand_shapes: bool = True, metadata: bool = False) -> Any:
    opts = _jaxlib_hlo().HloPrintOptions()
    opts.print_operand_shape = operand_shapes
    opts.print_metadata = metadata
    return opts


def hlo_sharding_from_string(text: str) -> Any:
    """XLA's own HloSharding parser (`jaxlib._hlo.HloSharding.from_string`)."""
    return _jaxlib_hlo().HloSharding.from_string(text)


def make_ir_context() -> Any:
    """An MLIR context with stablehlo, chlo, sdy, func and mhlo registered (what jax uses)."""
    from jax.interpreters import mlir as jmlir

    return jmlir.make_ir_context()


def xla_devices_indices(text: str, shape: tuple[int, ...], num_devices: int) -> tuple[Any, ...]:
    """jax's own per-device slices for an HloSharding given as text, indexed by logical device
    id (`jax._src.op_shardings.op_sharding_to_indices`; even splits only, as in jax)."""
    from jax._src.op_shardings import op_sharding_to_indices

    return op_sharding_to_indices(hlo_sharding_from_string(text), shape, num_devices)


def backends_initialized() -> bool:
    """Whether jax's backends have started (after which the CPU device count is fixed)."""
    from jax._src import xla_bridge

    return bool(xla_bridge.backends_are_initialized())


def hlo_sharding_text(sharding: Any, ndim: int) -> str:
    """A jax Sharding as XLA's HloSharding text (`{devices=[4,2]<=[8]}`) for an array of
    rank `ndim`. `_to_xla_hlo_sharding` is private on every jax Sharding class."""
    return str(sharding._to_xla_hlo_sharding(ndim))


def xla_parameter_shardings(mlir_text: str, num_partitions: int) -> list[str]:
    """Compile a StableHLO module (Shardy shardings on its arguments) for `num_partitions`
    CPU devices and return XLA's HloSharding text of each entry parameter: XLA's own reading
    of the Shardy shardings (`jax._src.compiler`, private)."""
    import jax
    import numpy as np
    from jax._src import compiler
    from jax.extend.mlir import ir
    from jaxlib import xla_client as xc  # what jax._src.lib re-exports

    devices = jax.devices("cpu")[:num_partitions]
    opts = compiler.get_compile_options(
        1, num_partitions, device_assignment=np.array(devices).reshape(1, num_partitions)
    )
    with make_ir_context():
        module = ir.Module.parse(mlir_text)
        exe = compiler.backend_compile_and_load(
            devices[0].client, module, xc.DeviceList(tuple(devices)), opts, []
        )
    return [str(xc.HloSharding.from_proto(s)) for s in exe.get_parameter_shardings()]


def lowering_platforms(lowered: Any) -> tuple[str, ...] | None:
    """The platforms a `jax.stages.Lowered` was lowered for (`("tpu",)` after
    `.lower(lowering_platforms=("tpu",))`; the device platform otherwise). Private:
    `Lowered._lowering._platforms`; None where this jax has no such attribute."""
    platforms = getattr(getattr(lowered, "_lowering", None), "_platforms", None)
    return tuple(str(p) for p in platforms) if platforms else None


def mlir_bindings() -> tuple[Any, Any]:
    """`(ir, sdy)`: jaxlib's MLIR Python modules, the ones `jax.extend.mlir` re-exports,
    imported without jax (0.15 s instead of 0.6 s on a quiet 2-core machine)."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import sdy

    return ir, sdy


def make_mlir_context() -> Any:
    """The context `make_ir_context` makes (upstream dialects plus sdy, mpmd, mhlo, chlo and
    stablehlo), built from jaxlib alone, as `jax._src.interpreters.mlir.make_ir_context` does
    but without importing jax: reading a `.mlir` file then needs no jax start-up. Falls back
    to jax's own where this jaxlib lacks a piece."""
    try:
        from jaxlib.mlir import ir
        from jaxlib.mlir._mlir_libs import _jax_mlir_ext
        from jaxlib.mlir.dialects import chlo, mhlo, mpmd, sdy, stablehlo
    except ImportError:
        return make_ir_context()
    registry = ir.DialectRegistry()
    _jax_mlir_ext.register_dialects(registry)
    ctx = ir.Context()
    ctx.append_dialect_registry(registry)
    ctx.load_all_available_dialects()
    sdy.register_dialect(ctx)
    mpmd.register_dialect(ctx)
    mhlo.register_mhlo_dialect(ctx)
    chlo.register_dialect(ctx)
    stablehlo.register_dialect(ctx)
    return ctx


def run_hlo_per_device(text: str, inputs: list[Any]) -> list[Any]:
    """Compile an HLO module whose ops are all manually sharded (`sharding={manual}`) for
    `len(inputs)` CPU devices, run it with `inputs[i]` on device i, and return each device's
    output (numpy). Used to check replica-group semantics against XLA's runtime."""
    import jax
    import numpy as np
    from jax._src import compiler, xla_bridge
    from jax._src.interpreters import mlir as jmlir
    from jax.extend import mlir as jax_mlir
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
    from jaxlib import xla_client
    from jaxlib.mlir import ir

    n = len(inputs)
    proto = _jaxlib_hlo().hlo_module_from_text(text).as_serialized_hlo_module_proto()
    with jmlir.make_ir_context():
        code = jmlir.module_to_bytecode(ir.Module.parse(jax_mlir.hlo_to_stablehlo(proto)))
    backend = xla_bridge.get_backend("cpu")
    devices = backend.devices()[:n]
    options = compiler.get_compile_options(
        num_replicas=1, num_partitions=n, device_assignment=np.array(devices).reshape(1, n))
    exe = backend.compile_and_load(code, xla_client.DeviceList(tuple(devices)), options)
    shards = [jax.device_put(np.asarray(x), d) for x, d in zip(inputs, devices, strict=True)]
    shape = (n * shards[0].shape[0], *shards[0].shape[1:])
    spec = PartitionSpec("d")  # type: ignore[no-untyped-call]
    sharding = NamedSharding(Mesh(np.array(devices), ("d",)), spec)
    arg = jax.make_array_from_single_device_arrays(shape, sharding, shards)
    out = exe.execute_sharded([arg]).disassemble_into_single_device_arrays()[0]
    return [np.asarray(x) for x in out]


def hlo_to_stablehlo_text(text: str) -> str:
    """XLA's own HLO -> StableHLO import of an HLO text (`jax.extend.mlir.hlo_to_stablehlo`),
    as MLIR text. (In jaxlib 0.10.2 it drops a mesh's `device_ids` from mesh-form replica
    groups: the `sdy.mesh` it writes has only the axes.)"""
    from jax._src.interpreters import mlir as jmlir
    from jax.extend import mlir as jax_mlir
    from jaxlib.mlir import ir

    proto = _jaxlib_hlo().hlo_module_from_text(text).as_serialized_hlo_module_proto()
    with jmlir.make_ir_context():
        return str(ir.Module.parse(jax_mlir.hlo_to_stablehlo(proto)))


def run_stablehlo_per_device(mlir_text: str, inputs: list[Any]) -> tuple[list[Any], str]:
    """`run_hlo_per_device` for a StableHLO module given as text: each device's output, and
    the optimized HLO text XLA compiled and ran."""
    import jax
    import numpy as np
    from jax._src import compiler, xla_bridge
    from jax._src.interpreters import mlir as jmlir
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
    from jaxlib import xla_client
    from jaxlib.mlir import ir

    n = len(inputs)
    with jmlir.make_ir_context():
        code = jmlir.module_to_bytecode(ir.Module.parse(mlir_text))
    backend = xla_bridge.get_backend("cpu")
    devices = backend.devices()[:n]
    options = compiler.get_compile_options(
        num_replicas=1, num_partitions=n, device_assignment=np.array(devices).reshape(1, n))
    exe = backend.compile_and_load(code, xla_client.DeviceList(tuple(devices)), options)
    shards = [jax.device_put(np.asarray(x), d) for x, d in zip(inputs, devices, strict=True)]
    shape = (n * shards[0].shape[0], *shards[0].shape[1:])
    spec = PartitionSpec("d")  # type: ignore[no-untyped-call]
    sharding = NamedSharding(Mesh(np.array(devices), ("d",)), spec)
    arg = jax.make_array_from_single_device_arrays(shape, sharding, shards)
    out = exe.execute_sharded([arg]).disassemble_into_single_device_arrays()[0]
    return [np.asarray(x) for x in out], exe.hlo_modules()[0].to_string()
