"""Shardy shardings -> HloSharding, without jax. The expected texts are what XLA 0.10.2 made of
the same Shardy shardings when compiling (observed with `_jaxapi.xla_parameter_shardings`);
the randomized comparison with XLA and jax is in tests/capture/test_sharding_sdy.py."""

from __future__ import annotations

import pytest

from hloscope.hlo.sdy_shards import sdy_sharding, sdy_to_hlo_sharding
from hloscope.hlo.sharding import format_sharding, parse_sharding
from hloscope.hlo.shards import GeometryError, shard_map
from hloscope.stablehlo.shardy import AxisRef, DimSharding, Mesh, MeshAxis, TensorSharding


def _mesh(*axes: tuple[str, int], ids: tuple[int, ...] = ()) -> Mesh:
    return Mesh(name="mesh", axes=tuple(MeshAxis(name=n, size=s) for n, s in axes), device_ids=ids)


def _ts(*dims: tuple[AxisRef, ...], unreduced: tuple[AxisRef, ...] = ()) -> TensorSharding:
    return TensorSharding(
        mesh="mesh", dims=tuple(DimSharding(axes=d) for d in dims), unreduced=unreduced
    )


def _same_geometry(a: str, b: str, shape: tuple[int, ...], n: int) -> bool:
    return shard_map(shape, parse_sharding(a), num_devices=n) == shard_map(
        shape, parse_sharding(b), num_devices=n
    )


X = AxisRef(name="x")
Y = AxisRef(name="y")


def test_sub_axis_as_xla_reads_it() -> None:
    # XLA: #sdy.sharding<@mesh, [{"x":(2)4}, {}]> on ["x"=8, "y"=1]
    #   -> {devices=[4,1,2]<=[2,4]T(1,0) last_tile_dim_replicate}
    got = sdy_sharding(_ts((AxisRef(name="x", sub_axis=(2, 4)),), ()), _mesh(("x", 8), ("y", 1)))
    assert format_sharding(got) == "{devices=[4,1,2]<=[2,4]T(1,0) last_tile_dim_replicate}"


def test_two_sub_axes_of_one_axis_in_two_dims() -> None:
    # XLA: [{"x":(1)2}, {"x":(4)2}] on ["x"=8, "y"=1]
    #   -> {devices=[2,2,2]<=[2,2,2]T(0,2,1) last_tile_dim_replicate}
    got = sdy_sharding(
        _ts((AxisRef(name="x", sub_axis=(1, 2)),), (AxisRef(name="x", sub_axis=(4, 2)),)),
        _mesh(("x", 8), ("y", 1)),
    )
    assert _same_geometry(
        format_sharding(got),
        "{devices=[2,2,2]<=[2,2,2]T(0,2,1) last_tile_dim_replicate}",
        (4, 4),
        8,
    )


def test_axes_major_first_in_one_dim() -> None:
    got = sdy_sharding(_ts((Y, X)), _mesh(("x", 2), ("y", 4)))
    # y major: device (x, y) holds rows y*2 + x of 8.
    m = shard_map((8,), got, num_devices=8)
    assert m[0] == ((0, 1),)  # x=0,y=0
    assert m[1] == ((2, 3),)  # x=0,y=1
    assert m[4] == ((1, 2),)  # x=1,y=0


def test_unreduced_and_manual_subgroups() -> None:
    got = sdy_sharding(_ts((Y,), (), unreduced=(X,)), _mesh(("x", 2), ("y", 4)))
    assert got.last_tile_dims == ("unreduced",)
    manual = sdy_to_hlo_sharding((("x", 2), ("y", 4)), ((), ()), manual_axes=("x",))
    assert manual.last_tile_dims == ("manual", "replicated")


def test_replicated_and_maximal_meshes() -> None:
    assert sdy_sharding(_ts((), ()), _mesh(("x", 4))).kind.value == "replicated"
    maximal = sdy_sharding(_ts(()), Mesh(name="m", axes=(), device_ids=(3,)))
    assert maximal.kind.value == "maximal"
    assert maximal.device == 3


def test_device_ids_make_an_explicit_assignment() -> None:
    got = sdy_sharding(_ts((X,)), _mesh(("x", 4), ids=(3, 2, 1, 0)))
    assert got.tile_assignment is not None
    assert got.tile_assignment.devices == (3, 2, 1, 0)


def test_bad_references_fail_clearly() -> None:
    with pytest.raises(GeometryError, match="not in the mesh"):
        sdy_sharding(_ts((AxisRef(name="z"),)), _mesh(("x", 4)))
    with pytest.raises(GeometryError, match="does not divide"):
        sdy_sharding(_ts((AxisRef(name="x", sub_axis=(3, 2)),)), _mesh(("x", 4)))
    with pytest.raises(GeometryError, match="shards two dimensions"):
        sdy_sharding(_ts((X,), (X,)), _mesh(("x", 4)))
