"""A small decoder-only transformer, shared by the `transformer` and `scan` samples.

Parameters are described by `ShapeDtypeStruct`s only. When a mesh is given, weights are
sharded FSDP-style on `data` and tensor-parallel on `model` (Megatron layout: column-parallel
wqkv/w1, row-parallel wo/w2), activations batch-sharded on `data`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ._common import cross_entropy, global_batch, sds


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    vocab: int = 512
    d_model: int = 128
    heads: int = 4
    head_dim: int = 32
    d_ff: int = 512
    seq: int = 64
    batch: int = 8
    layers: int = 4


# Parameter name -> (shape from config, PartitionSpec when sharded).
def _layer_specs(c: Config) -> dict[str, tuple[tuple[int, ...], P]]:
    return {
        "ln1": ((c.d_model,), P()),
        "wqkv": ((c.d_model, 3, c.heads, c.head_dim), P("data", None, "model", None)),
        "wo": ((c.heads, c.head_dim, c.d_model), P("model", None, "data")),
        "ln2": ((c.d_model,), P()),
        "w1": ((c.d_model, c.d_ff), P("data", "model")),
        "w2": ((c.d_ff, c.d_model), P("model", "data")),
    }


def _spec(mesh: Mesh | None, spec: P, replicated: tuple[str, ...] = ()) -> P | None:
    """`spec` on `mesh`, axes the mesh lacks (the scan sample has data only) and axes in
    `replicated` left unsharded."""
    if mesh is None:
        return None
    return P(*(axis if axis in mesh.axis_names and axis not in replicated else None
               for axis in spec))


def layer_params(c: Config, mesh: Mesh | None, *, stacked: bool = False,
                 fsdp: bool = True) -> Any:
    """One dict per layer, or (stacked=True) one dict of arrays with a leading layer axis.
    `fsdp=False` replicates the weights over `data` (plain data parallel on that axis)."""
    specs = _layer_specs(c)
    rep = () if fsdp else ("data",)
    if stacked:
        return {
            k: sds((c.layers, *shape), mesh, _spec(mesh, P(None, *spec), rep))
            for k, (shape, spec) in specs.items()
        }
    return [
        {k: sds(shape, mesh, _spec(mesh, spec, rep)) for k, (shape, spec) in specs.items()}
        for _ in range(c.layers)
    ]


def params(c: Config, mesh: Mesh | None, *, stacked: bool = False,
           fsdp: bool = True) -> dict[str, Any]:
    rep = () if fsdp else ("data",)
    return {
        "embed": sds((c.vocab, c.d_model), mesh, _spec(mesh, P("model", "data"), rep)),
        "layers": layer_params(c, mesh, stacked=stacked, fsdp=fsdp),
        "ln_f": sds((c.d_model,), mesh, _spec(mesh, P())),
        "unembed": sds((c.d_model, c.vocab), mesh, _spec(mesh, P("data", "model"), rep)),
    }


def batch(c: Config, mesh: Mesh | None) -> tuple[jax.ShapeDtypeStruct, jax.ShapeDtypeStruct]:
    """(tokens, labels), int32 [batch, seq], batch-sharded on `data`."""
    spec = _spec(mesh, P("data", None))
    # At least one sequence per `data` device, so the sample runs on any target's device count.
    b = global_batch(c.batch, mesh.shape.get("data", 1)) if mesh is not None else c.batch
    tokens = sds((b, c.seq), mesh, spec, dtype=jnp.int32)
    labels = sds((b, c.seq), mesh, spec, dtype=jnp.int32)
    return tokens, labels


def rmsnorm(x: jax.Array, scale: jax.Array) -> jax.Array:
    var = jnp.mean(x * x, axis=-1, keepdims=True)
    return x * jax.lax.rsqrt(var + 1e-6) * (1.0 + scale)


def attention(p: dict[str, jax.Array], h: jax.Array) -> jax.Array:
    qkv = jnp.einsum("bsd,dthk->tbshk", h, p["wqkv"])
    q, k, v = qkv[0], qkv[1], qkv[2]
    scores = jnp.einsum("bqhk,bshk->bhqs", q, k) / jnp.sqrt(jnp.float32(q.shape[-1]))
    seq = h.shape[1]
    causal = jnp.tril(jnp.ones((seq, seq), dtype=bool))
    scores = jnp.where(causal, scores, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores, axis=-1)
    out = jnp.einsum("bhqs,bshk->bqhk", weights, v)
    return jnp.einsum("bqhk,hkd->bqd", out, p["wo"])


def block(p: dict[str, jax.Array], x: jax.Array, mesh: Mesh | None) -> jax.Array:
    with jax.named_scope("attention"):
        x = x + attention(p, rmsnorm(x, p["ln1"]))
    with jax.named_scope("mlp"):
        h = rmsnorm(x, p["ln2"])
        x = x + jax.nn.gelu(h @ p["w1"]) @ p["w2"]
    if mesh is not None:
        x = jax.lax.with_sharding_constraint(
            x, NamedSharding(mesh, _spec(mesh, P("data", None, None)) or P())
        )
    return x


def embed(p: dict[str, Any], tokens: jax.Array) -> jax.Array:
    with jax.named_scope("embed"):
        return jnp.take(p["embed"], tokens, axis=0)


def head_loss(p: dict[str, Any], x: jax.Array, labels: jax.Array) -> jax.Array:
    with jax.named_scope("head"):
        logits = rmsnorm(x, p["ln_f"]) @ p["unembed"]
        return cross_entropy(logits, labels)


def unrolled_loss(mesh: Mesh | None) -> Any:
    def loss(p: dict[str, Any], tokens: jax.Array, labels: jax.Array) -> jax.Array:
        x = embed(p, tokens)
        for i, layer in enumerate(p["layers"]):
            with jax.named_scope(f"block{i}"):
                x = block(layer, x, mesh)
        return head_loss(p, x, labels)

    return loss


def scanned_loss(mesh: Mesh | None) -> Any:
    def loss(p: dict[str, Any], tokens: jax.Array, labels: jax.Array) -> jax.Array:
        x = embed(p, tokens)

        def body(x: jax.Array, layer: dict[str, jax.Array]) -> tuple[jax.Array, None]:
            return block(layer, x, mesh), None

        with jax.named_scope("blocks"):
            x, _ = jax.lax.scan(body, x, p["layers"])
        return head_loss(p, x, labels)

    return loss
