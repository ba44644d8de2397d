"""2-layer MLP training step: value_and_grad + SGD update."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jax

DEVICES = 1
"""One device; with `program(devices=N)` the batch is sharded over a `data` axis of N."""
MESH: dict[str, int] = {}

BATCH, IN, HIDDEN, OUT = 128, 784, 1024, 10


def mesh_shape(devices: int | None = None) -> dict[str, int]:
    from ._common import check_devices

    n = check_devices(devices, DEVICES)
    return {"data": n} if n > 1 else {}


def program(devices: int | None = None) -> jax.stages.Traced:
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec as P

    from ._common import cross_entropy, global_batch, make_mesh, sds, sgd_step

    shape = mesh_shape(devices)
    mesh = make_mesh(tuple(shape.values()), tuple(shape)) if shape else None
    rep = P() if mesh is not None else None
    batch_spec = P("data", None) if mesh is not None else None
    b = global_batch(BATCH, shape.get("data", 1))

    def loss(p: dict[str, Any], x: jax.Array, y: jax.Array) -> jax.Array:
        with jax.named_scope("layer1"):
            h = jax.nn.relu(x @ p["w1"] + p["b1"])
        with jax.named_scope("layer2"):
            logits = h @ p["w2"] + p["b2"]
        return cross_entropy(logits, y)

    params = {
        "w1": sds((IN, HIDDEN), mesh, rep),
        "b1": sds((HIDDEN,), mesh, rep),
        "w2": sds((HIDDEN, OUT), mesh, rep),
        "b2": sds((OUT,), mesh, rep),
    }
    x = sds((b, IN), mesh, batch_spec)
    y = sds((b,), mesh, P("data") if mesh is not None else None, dtype=jnp.int32)
    step = jax.jit(sgd_step(loss, name="mlp"), donate_argnums=0)
    return step.trace(params, x, y)
