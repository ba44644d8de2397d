"""Collective bytes against jax's own model: `jax.experimental.roofline` counts the ICI bytes
each device moves for a shard_map collective at the jaxpr level (ring all-gather and
reduce-scatter, 2x ring for psum, one hop for a neighbour ppermute). The same collectives,
compiled by XLA and read from the optimized HLO by our pass, must move the same bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import hloscope

pytest.importorskip("absl")  # jax.experimental.roofline needs absl-py


def _cases() -> dict[str, tuple[Callable[..., Any], Any, Any, str]]:
    import jax
    from jax.sharding import PartitionSpec as P

    ring = [(i, (i + 1) % 4) for i in range(4)]
    return {
        "all_gather": (
            lambda a: jax.lax.all_gather(a, "model", axis=1, tiled=True),
            P("data", "model"),
            P("data", "model"),
            "all-gather",
        ),
        "psum": (
            lambda a: jax.lax.psum(a, "model"),
            P("data", "model"),
            P("data", "model"),
            "all-reduce",
        ),
        "psum_scatter": (
            lambda a: jax.lax.psum_scatter(a, "model", scatter_dimension=1, tiled=True),
            P("data", None),
            P("data", "model"),
            "reduce-scatter",
        ),
        "ppermute": (
            lambda a: jax.lax.ppermute(a, "model", ring),
            P("data", "model"),
            P("data", "model"),
            "collective-permute",
        ),
    }


@pytest.mark.parametrize("name", ["all_gather", "psum", "psum_scatter", "ppermute"])
def test_bytes_equal_jax_roofline(name: str) -> None:
    import jax
    import jax.numpy as jnp
    from jax.experimental import roofline
    from jax.sharding import AxisType

    f, in_spec, out_spec, kind = _cases()[name]
    mesh = jax.make_mesh((2, 4), ("data", "model"), axis_types=(AxisType.Auto,) * 2)
    x = jax.ShapeDtypeStruct((64, 512), jnp.float32)
    _, expected = roofline.roofline(f, mesh=mesh, in_specs=in_spec, out_specs=out_spec)(x)

    program = jax.jit(jax.shard_map(f, mesh=mesh, in_specs=in_spec, out_specs=out_spec))
    r = hloscope.analyze(hloscope.capture(program, x)).sharding
    ours = [c for c in r.collectives if c.kind == kind]
    assert len(ours) == 1, [c.kind for c in r.collectives]
    (c,) = ours
    assert c.axes == ("model",)
    assert c.group_size == 4
    assert c.bytes_per_device == expected.ici_bytes["model"]
