"""Mixture-of-experts layer (top-2 routing, capacity) with shard_map + all_to_all over 8 devices,
value_and_grad + SGD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jax

DEVICES = 8
"""Default device count: one expert per device on the `expert` axis."""
MESH = {"expert": 8}

TOKENS_PER_DEVICE, D_MODEL, D_FF = 128, 128, 256
TOP_K = 2
CAPACITY_FACTOR = 1.25


def mesh_shape(devices: int | None = None) -> dict[str, int]:
    from ._common import check_devices

    return {"expert": check_devices(devices, DEVICES)}


def _capacity(tokens: int, experts: int) -> int:
    """Slots per expert for the tokens of one device (GShard's capacity rule)."""
    return max(1, int(TOP_K * tokens * CAPACITY_FACTOR) // experts)


def _route(x: jax.Array, w_router: jax.Array, experts: int, capacity: int) -> Any:
    """Top-k routing -> (dispatch [T, E, C] 0/1, combine [T, E, C] gate weights)."""
    import jax
    import jax.numpy as jnp

    probs = jax.nn.softmax(x @ w_router, axis=-1)
    gates, idx = jax.lax.top_k(probs, TOP_K)  # [T, k]
    choice = jax.nn.one_hot(idx.T, experts, dtype=jnp.int32)  # [k, T, E]: first choices first
    flat = choice.reshape(-1, experts)
    position = jnp.cumsum(flat, axis=0) * flat - 1  # slot of each token in its expert
    slots = jax.nn.one_hot(position, capacity, dtype=x.dtype)  # -1 and overflow -> all zeros
    slots = slots.reshape(TOP_K, x.shape[0], experts, capacity)
    dispatch = slots.sum(axis=0)
    combine = (slots * gates.T[:, :, None, None]).sum(axis=0)
    return dispatch, combine


def program(devices: int | None = None) -> jax.stages.Traced:
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec as P

    from ._common import make_mesh, sds, sgd_step

    n = mesh_shape(devices)["expert"]
    mesh = make_mesh((n,), ("expert",))
    experts = n
    capacity = _capacity(TOKENS_PER_DEVICE, experts)

    def local_loss(p: dict[str, Any], x: jax.Array, target: jax.Array) -> jax.Array:
        # Per device: x [T, d] (its own tokens), w1/w2 [1, ...] (its own expert).
        with jax.named_scope("router"):
            dispatch, combine = _route(x, p["router"], experts, capacity)
        with jax.named_scope("dispatch"):
            xin = jnp.einsum("tec,td->ecd", dispatch, x)
            xin = jax.lax.all_to_all(xin, "expert", 0, 0, tiled=True)  # [src device, C, d]
        with jax.named_scope("experts"):
            h = jax.nn.gelu(jnp.einsum("scd,df->scf", xin, p["w1"][0]))
            out = jnp.einsum("scf,fd->scd", h, p["w2"][0])
        with jax.named_scope("combine"):
            out = jax.lax.all_to_all(out, "expert", 0, 0, tiled=True)  # [expert, C, d]
            y = jnp.einsum("tec,ecd->td", combine, out)
        local = jnp.mean(jnp.square(y - target))
        return jax.lax.psum(local, "expert") / n

    loss = jax.shard_map(
        local_loss,
        mesh=mesh,
        in_specs=({"router": P(), "w1": P("expert"), "w2": P("expert")}, P("expert"), P("expert")),
        out_specs=P(),
    )
    params = {
        "router": sds((D_MODEL, experts), mesh, P()),
        "w1": sds((experts, D_MODEL, D_FF), mesh, P("expert")),
        "w2": sds((experts, D_FF, D_MODEL), mesh, P("expert")),
    }
    x = sds((n * TOKENS_PER_DEVICE, D_MODEL), mesh, P("expert"))
    target = sds((n * TOKENS_PER_DEVICE, D_MODEL), mesh, P("expert"))
    step = jax.jit(sgd_step(loss, name="moe"), donate_argnums=0)
    return step.trace(params, x, target)
