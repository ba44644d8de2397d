"""4 decoder blocks, value_and_grad + SGD, data=4 x model=2 mesh: FSDP on data, tensor parallel on
model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jax

DEVICES = 8
"""Default device count: data=4 x model=2."""
MESH = {"data": 4, "model": 2}
"""Mesh axes at the default device count; `mesh_shape(n)` for other counts."""
MODEL_AXIS = 2


def mesh_shape(devices: int | None = None) -> dict[str, int]:
    """model stays 2; the other devices go to data."""
    from ._common import check_devices

    n = check_devices(devices, DEVICES, multiple_of=MODEL_AXIS)
    return {"data": n // MODEL_AXIS, "model": MODEL_AXIS}


def program(devices: int | None = None, *, fsdp: bool = True) -> jax.stages.Traced:
    """`fsdp=False`: weights replicated over `data` (data parallel; still split over
    `model`)."""
    import jax

    from . import _blocks
    from ._common import make_mesh, sgd_step

    shape = mesh_shape(devices)
    mesh = make_mesh(tuple(shape.values()), tuple(shape))
    c = _blocks.Config()
    step = jax.jit(sgd_step(_blocks.unrolled_loss(mesh), name="transformer"), donate_argnums=0)
    return step.trace(_blocks.params(c, mesh, fsdp=fsdp), *_blocks.batch(c, mesh))


def data_parallel() -> jax.stages.Traced:
    """The same step with weights replicated over `data` instead of FSDP, a factory target:
    `hloscope diff sample:transformer hloscope.samples.transformer:data_parallel`. Under a
    `--target` it fills the target's devices, as the sample does."""
    from hloscope.target_runtime import active_target

    active = active_target()
    return program(len(active.devices) if active is not None else None, fsdp=False)
