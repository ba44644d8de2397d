"""Causal ring attention: shard_map over a ring of 8 devices, K/V passed on with ppermute in a
fori_loop, value_and_grad + SGD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jax

DEVICES = 8
"""Default device count: the sequence is split over a `ring` axis of 8."""
MESH = {"ring": 8}

BATCH, SEQ_PER_DEVICE, D_MODEL, HEADS, HEAD_DIM = 2, 128, 128, 4, 32


def mesh_shape(devices: int | None = None) -> dict[str, int]:
    from ._common import check_devices

    return {"ring": check_devices(devices, DEVICES)}


def _ring_attention(q: jax.Array, k: jax.Array, v: jax.Array, n: int) -> jax.Array:
    """Blockwise causal attention with an online softmax; each step attends to the K/V block
    this device holds, then passes it to the next device on the ring."""
    import jax
    import jax.numpy as jnp

    me = jax.lax.axis_index("ring")
    chunk = q.shape[1]
    scale = 1.0 / jnp.sqrt(jnp.float32(q.shape[-1]))
    neg = jnp.float32(-1e30)  # finite: the diagonal block (step 0) makes every row's max finite
    perm = [(j, (j + 1) % n) for j in range(n)]
    qpos = me * chunk + jnp.arange(chunk)

    def step(i: jax.Array, carry: Any) -> Any:
        out, row_max, row_sum, k, v = carry
        src = (me - i) % n  # the ring position whose K/V block we hold at step i
        kpos = src * chunk + jnp.arange(chunk)
        s = jnp.einsum("bqhd,bkhd->bhqk", q, k) * scale
        s = jnp.where(qpos[:, None] >= kpos[None, :], s, neg)
        new_max = jnp.maximum(row_max, s.max(axis=-1))
        p = jnp.exp(s - new_max[..., None])
        correction = jnp.exp(row_max - new_max)
        row_sum = row_sum * correction + p.sum(axis=-1)
        out = out * correction[..., None] + jnp.einsum("bhqk,bkhd->bhqd", p, v)
        k = jax.lax.ppermute(k, "ring", perm)
        v = jax.lax.ppermute(v, "ring", perm)
        return out, new_max, row_sum, k, v

    b, _, h, d = q.shape
    init = (
        jax.lax.pcast(jnp.zeros((b, h, chunk, d), q.dtype), "ring", to="varying"),
        jax.lax.pcast(jnp.full((b, h, chunk), neg), "ring", to="varying"),
        jax.lax.pcast(jnp.zeros((b, h, chunk), q.dtype), "ring", to="varying"),
        k,
        v,
    )
    out, _, row_sum, _, _ = jax.lax.fori_loop(0, n, step, init)
    return jnp.einsum("bhqd->bqhd", out / row_sum[..., None])


def program(devices: int | None = None) -> jax.stages.Traced:
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec as P

    from ._common import make_mesh, sds, sgd_step

    n = mesh_shape(devices)["ring"]
    mesh = make_mesh((n,), ("ring",))

    def local_loss(p: dict[str, Any], x: jax.Array, target: jax.Array) -> jax.Array:
        # Per device: x [B, S/n, d], its contiguous slice of the sequence.
        with jax.named_scope("qkv"):
            qkv = jnp.einsum("bsd,dthk->tbshk", x, p["wqkv"])
        with jax.named_scope("ring"):
            o = _ring_attention(qkv[0], qkv[1], qkv[2], n)
        with jax.named_scope("out"):
            y = jnp.einsum("bshk,hkd->bsd", o, p["wo"])
        local = jnp.mean(jnp.square(y - target))
        return jax.lax.psum(local, "ring") / n

    seq = P(None, "ring", None)
    loss = jax.shard_map(
        local_loss, mesh=mesh, in_specs=({"wqkv": P(), "wo": P()}, seq, seq), out_specs=P()
    )
    params = {
        "wqkv": sds((D_MODEL, 3, HEADS, HEAD_DIM), mesh, P()),
        "wo": sds((HEADS, HEAD_DIM, D_MODEL), mesh, P()),
    }
    x = sds((BATCH, n * SEQ_PER_DEVICE, D_MODEL), mesh, seq)
    target = sds((BATCH, n * SEQ_PER_DEVICE, D_MODEL), mesh, seq)
    step = jax.jit(sgd_step(loss, name="ring_attention"), donate_argnums=0)
    return step.trace(params, x, target)
