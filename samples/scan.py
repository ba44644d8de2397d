"""The transformer's 4 blocks under jax.lax.scan (a while loop with known_trip_count),
value_and_grad + SGD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jax

DEVICES = 1
"""One device; with `program(devices=N)` the batch is sharded over a `data` axis of N."""
MESH: dict[str, int] = {}


def mesh_shape(devices: int | None = None) -> dict[str, int]:
    from ._common import check_devices

    n = check_devices(devices, DEVICES)
    return {"data": n} if n > 1 else {}


def program(devices: int | None = None) -> jax.stages.Traced:
    import jax

    from . import _blocks
    from ._common import global_batch, make_mesh, sgd_step

    shape = mesh_shape(devices)
    c = _blocks.Config(batch=global_batch(8, shape.get("data", 1)))
    mesh = make_mesh(tuple(shape.values()), tuple(shape)) if shape else None
    step = jax.jit(sgd_step(_blocks.scanned_loss(mesh), name="scan"), donate_argnums=0)
    return step.trace(_blocks.params(c, mesh, stacked=True), *_blocks.batch(c, mesh))
