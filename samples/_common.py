"""Shared helpers for the samples: device choice, meshes, abstract inputs, a train step.

Imported only inside a sample's `program()`: listing samples must not load jax.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from hloscope.errors import UsageError


def pick_devices(n: int) -> list[Any]:
    """`n` devices of one platform: the default backend's when it has enough, else fake CPU
    devices (multi-device samples on a 1-GPU machine run on CPU, see hloscope.capture)."""
    from hloscope.capture import ensure_devices

    ensure_devices(n)  # before jax's backend starts, this raises the CPU device count
    default = jax.devices()
    if len(default) >= n:
        return list(default[:n])
    cpu = jax.devices("cpu")
    if len(cpu) >= n:
        return list(cpu[:n])
    raise UsageError(
        f"this sample needs {n} devices but jax has {len(cpu)} CPU devices; call "
        f"hloscope.capture(..., devices={n}) or set "
        f"XLA_FLAGS=--xla_force_host_platform_device_count={n} before jax starts"
    )


def make_mesh(shape: Sequence[int], names: Sequence[str]) -> Mesh:
    """A mesh with Auto axes: jax 0.10 defaults to Explicit, which makes
    with_sharding_constraint / shard_map fail on plain ShapeDtypeStructs (JAX-XLA-NOTES)."""
    from hloscope.target_runtime import target_mesh

    # Under `--target`: the target's devices (sizes from `--mesh` when given), laid out on its
    # physical topology.
    mesh = target_mesh(shape, names, (AxisType.Auto,) * len(shape))
    if mesh is not None:
        return mesh
    n = 1
    for s in shape:
        n *= s
    return jax.make_mesh(
        tuple(shape),
        tuple(names),
        axis_types=(AxisType.Auto,) * len(shape),
        devices=pick_devices(n),
    )


def sds(
    shape: Sequence[int], mesh: Mesh | None = None, spec: PartitionSpec | None = None,
    dtype: Any = jnp.float32,
) -> jax.ShapeDtypeStruct:
    """An abstract input (no array allocated), sharded over `mesh` by `spec` when given."""
    sharding = NamedSharding(mesh, spec or PartitionSpec()) if mesh is not None else None
    return jax.ShapeDtypeStruct(tuple(shape), dtype, sharding=sharding)


def check_devices(devices: int | None, default: int, *, multiple_of: int = 1) -> int:
    """The device count a sample was asked for, validated."""
    n = default if devices is None else devices
    if n < 1 or n % multiple_of:
        raise UsageError(
            f"this sample needs a device count that is a positive multiple of {multiple_of}, "
            f"got {n}"
        )
    return n


def sgd_step(
    loss_fn: Callable[..., jax.Array], *, name: str, lr: float = 1e-2
) -> Callable[..., Any]:
    """`step(params, *batch) -> (loss, new_params)`: value_and_grad plus an SGD update. jit
    names the module after it: `jit_<name>_step`."""

    def train_step(params: Any, *batch: Any) -> tuple[jax.Array, Any]:
        loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
        new_params = jax.tree.map(lambda p, g: p - lr * g, params, grads)
        return loss, new_params

    train_step.__name__ = train_step.__qualname__ = f"{name}_step"
    return train_step


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of integer labels."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    return -jnp.mean(picked)


def global_batch(batch: int, data: int) -> int:
    """`batch` rounded to a multiple of the `data` axis (at least one example per device)."""
    return data * max(1, batch // data)
