"""A small conv net (convolution, batch norm, max/avg pooling via reduce-window), value_and_grad +
SGD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jax

DEVICES = 1
"""One device; with `program(devices=N)` the batch is sharded over a `data` axis of N."""
MESH: dict[str, int] = {}

BATCH, SIZE, CHANNELS, CLASSES = 16, 32, 3, 10
WIDTHS = (16, 32)


def mesh_shape(devices: int | None = None) -> dict[str, int]:
    from ._common import check_devices

    n = check_devices(devices, DEVICES)
    return {"data": n} if n > 1 else {}


def _conv(x: jax.Array, w: jax.Array) -> jax.Array:
    import jax

    return jax.lax.conv_general_dilated(
        x, w, window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


def _batch_norm(x: jax.Array, scale: jax.Array, bias: jax.Array) -> jax.Array:
    """Training-mode batch norm: statistics over batch and space."""
    import jax
    import jax.numpy as jnp

    mean = jnp.mean(x, axis=(0, 1, 2))
    var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))
    return (x - mean) * jax.lax.rsqrt(var + 1e-5) * scale + bias


def _pool(x: jax.Array, kind: str) -> jax.Array:
    import jax
    import jax.numpy as jnp

    window, strides = (1, 2, 2, 1), (1, 2, 2, 1)
    if kind == "max":
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, strides, "VALID")
    return jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, "VALID") / 4.0


def program(devices: int | None = None) -> jax.stages.Traced:
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec as P

    from ._common import cross_entropy, global_batch, make_mesh, sds, sgd_step

    shape = mesh_shape(devices)
    mesh = make_mesh(tuple(shape.values()), tuple(shape)) if shape else None
    rep = P() if mesh is not None else None
    b = global_batch(BATCH, shape.get("data", 1))

    def loss(p: dict[str, Any], images: jax.Array, labels: jax.Array) -> jax.Array:
        x = images
        for i, kind in enumerate(("max", "avg")):
            with jax.named_scope(f"stage{i}"):
                x = _conv(x, p[f"conv{i}"])
                x = jax.nn.relu(_batch_norm(x, p[f"bn{i}_scale"], p[f"bn{i}_bias"]))
                x = _pool(x, kind)
        with jax.named_scope("head"):
            logits = jnp.mean(x, axis=(1, 2)) @ p["dense"]
        return cross_entropy(logits, labels)

    params: dict[str, Any] = {}
    c_in = CHANNELS
    for i, width in enumerate(WIDTHS):
        params[f"conv{i}"] = sds((3, 3, c_in, width), mesh, rep)
        params[f"bn{i}_scale"] = sds((width,), mesh, rep)
        params[f"bn{i}_bias"] = sds((width,), mesh, rep)
        c_in = width
    params["dense"] = sds((c_in, CLASSES), mesh, rep)
    images = sds((b, SIZE, SIZE, CHANNELS), mesh, P("data") if mesh is not None else None)
    labels = sds((b,), mesh, P("data") if mesh is not None else None, dtype=jnp.int32)
    step = jax.jit(sgd_step(loss, name="convnet"), donate_argnums=0)
    return step.trace(params, images, labels)
