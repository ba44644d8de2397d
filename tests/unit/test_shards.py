"""Shard geometry without jax: XLA's tiling rule (TileOffsetForDevice / TileLimitForDevice in
xla/hlo/ir/hlo_sharding.cc: tiles of ceil(n/k), the last ones short or empty), every sharding
form, and a property: the shards of each copy partition the array exactly.

Agreement with jax's `devices_indices_map` on even splits is tested in
tests/capture/test_sharding_geometry.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hloscope.hlo.model import Shape, Sharding, ShardingKind, TileAssignment
from hloscope.hlo.sharding import parse_sharding
from hloscope.hlo.shards import (
    GeometryError,
    device_set,
    leaf_shardings,
    shard_map,
    shard_shape,
    shard_table,
    shards,
    tile_assignment_array,
)


def test_uneven_split_pads_the_last_tile() -> None:
    # 10 rows over 4 devices: tiles of 3, the last holds 1 row and 2 of padding.
    got = shards((10, 6), parse_sharding("{devices=[4,1]<=[4]}"))
    assert [s.index for s in got] == [
        ((0, 3), (0, 6)),
        ((3, 6), (0, 6)),
        ((6, 9), (0, 6)),
        ((9, 10), (0, 6)),
    ]
    assert [s.padding for s in got] == [(0, 0), (0, 0), (0, 0), (2, 0)]
    assert all(s.tile_shape == (3, 6) for s in got)
    assert [s.padded for s in got] == [False, False, False, True]


def test_a_tile_can_be_empty() -> None:
    # 5 over 4: tiles of 2; device 3 starts past the end and holds nothing but padding.
    got = shard_map((5,), parse_sharding("{devices=[4]<=[4]}"))
    assert got == {0: ((0, 2),), 1: ((2, 4),), 2: ((4, 5),), 3: ((5, 5),)}
    table = shard_table((5,), parse_sharding("{devices=[4]<=[4]}"))
    assert table.padding[:, 0].tolist() == [0, 0, 1, 2]
    assert table.valid_elements.tolist() == [2, 2, 1, 0]


def test_iota_transpose_places_devices() -> None:
    # [4,2]<=[2,4]T(1,0): iota(8) as 2x4, transposed to 4x2.
    ta = parse_sharding("{devices=[4,2]<=[2,4]T(1,0)}").tile_assignment
    assert ta is not None
    assert tile_assignment_array(ta).tolist() == [[0, 4], [1, 5], [2, 6], [3, 7]]
    got = shard_map((8, 4), parse_sharding("{devices=[4,2]<=[2,4]T(1,0)}"))
    assert got[4] == ((0, 2), (2, 4))
    assert got[1] == ((2, 4), (0, 2))


def test_explicit_device_list() -> None:
    got = shard_map((4, 4), parse_sharding("{devices=[2,2]3,1,0,2}"))
    assert got == {
        3: ((0, 2), (0, 2)),
        1: ((0, 2), (2, 4)),
        0: ((2, 4), (0, 2)),
        2: ((2, 4), (2, 4)),
    }


def test_last_tile_dim_replicate_copies_each_tile() -> None:
    table = shard_table((8,), parse_sharding("{devices=[2,2]<=[4] last_tile_dim_replicate}"))
    assert table.starts[:, 0].tolist() == [0, 0, 4, 4]
    assert table.replica.tolist() == [0, 1, 0, 1]
    assert not table.partial


def test_last_tile_dims_manual_and_unreduced() -> None:
    manual = shard_table((8,), parse_sharding("{devices=[2,2]<=[4] last_tile_dims={manual}}"))
    assert manual.manual_index is not None
    assert manual.manual_index.tolist() == [0, 1, 0, 1]
    assert manual.subgroups == {"manual": 2}
    unreduced = shard_table(
        (8, 2), parse_sharding("{devices=[2,1,2,2]<=[8] last_tile_dims={unreduced, replicated}}")
    )
    assert unreduced.partial
    assert sorted(unreduced.devices.tolist()) == list(range(8))
    assert unreduced.starts[:, 0].tolist() == [0, 0, 0, 0, 4, 4, 4, 4]


def test_replicated_manual_unreduced_name_every_device() -> None:
    for text, partial in (("{replicated}", False), ("{manual}", False), ("{unreduced}", True)):
        table = shard_table((3, 5), parse_sharding(text), num_devices=4)
        assert table.devices.tolist() == [0, 1, 2, 3]
        assert (table.stops == [3, 5]).all()
        assert table.partial is partial


def test_maximal_is_held_by_one_device() -> None:
    s = parse_sharding("{maximal device=3}")
    assert shard_map((4,), s, num_devices=8) == {3: ((0, 4),)}
    assert device_set(s, num_devices=8) == (3,)


def test_tuple_sharding_per_leaf() -> None:
    shape = Shape(
        element_type="tuple",
        tuple_shapes=(Shape(element_type="f32", dims=(8,)), Shape(element_type="s32", dims=())),
    )
    s = parse_sharding("{{devices=[2]<=[2]}, {maximal device=1}}")
    leaves = leaf_shardings(shape, s)
    assert [p for p, _, _ in leaves] == [(0,), (1,)]
    assert leaves[1][2].kind is ShardingKind.MAXIMAL
    with pytest.raises(GeometryError, match="tuple"):
        shard_table((8,), s)
    assert device_set(s, num_devices=4) == (0, 1)


def test_errors_are_geometry_errors() -> None:
    with pytest.raises(GeometryError, match="tiles 2 dimensions"):
        shard_table((8,), parse_sharding("{devices=[2,2]<=[4]}"))
    with pytest.raises(GeometryError, match="no geometry"):
        shard_table((8,), parse_sharding("{unknown}"))
    with pytest.raises(GeometryError, match="twice"):
        shard_table(
            (8,),
            Sharding(
                kind=ShardingKind.TILED, tile_assignment=TileAssignment(dims=(2,), devices=(1, 1))
            ),
        )
    with pytest.raises(GeometryError, match="program has 2"):
        shard_table((8,), parse_sharding("{devices=[4]<=[4]}"), num_devices=2)


def test_shard_shape_is_the_ceiling_tile() -> None:
    assert shard_shape((10, 7), parse_sharding("{devices=[4,2]<=[8]}")) == (3, 4)
    assert shard_shape((10, 7), parse_sharding("{replicated}")) == (10, 7)


# --- property: each copy's shards partition the array ---------------------------------------


@st.composite
def tiled(draw: st.DrawFn) -> tuple[tuple[int, ...], Sharding]:
    rank = draw(st.integers(1, 3))
    grid = [draw(st.sampled_from([1, 2, 3, 4])) for _ in range(rank)]
    replicas = draw(st.sampled_from([1, 1, 2, 3]))
    dims = grid + ([replicas] if replicas > 1 else [])
    total = int(np.prod(dims))
    devices = draw(st.permutations(list(range(total))))
    shape = tuple(draw(st.integers(0, 11)) for _ in range(rank))
    sharding = Sharding(
        kind=ShardingKind.TILED,
        tile_assignment=TileAssignment(dims=tuple(dims), devices=tuple(devices)),
        last_tile_dims=("replicated",) if replicas > 1 else (),
    )
    return shape, sharding


@settings(max_examples=300, deadline=None)
@given(tiled())
def test_every_copy_covers_the_array_exactly_once(case: tuple[tuple[int, ...], Sharding]) -> None:
    shape, sharding = case
    table = shard_table(shape, sharding)
    for r in np.unique(table.replica):
        covered = np.zeros(shape, dtype=np.int64)
        for a, b in zip(
            table.starts[table.replica == r], table.stops[table.replica == r], strict=True
        ):
            covered[tuple(slice(x, y) for x, y in zip(a, b, strict=True))] += 1
        assert (covered == 1).all()
    # Every buffer is one tile: valid part + padding.
    tile = np.asarray(table.tile_shape)
    assert ((table.stops - table.starts) + table.padding == tile).all()


def test_tile_index_matches_position_in_grid() -> None:
    s = parse_sharding("{devices=[2,3]<=[3,2]T(1,0)}")
    table = shard_table((4, 6), s)
    arr = tile_assignment_array(s.tile_assignment)  # type: ignore[arg-type]
    for i, j in itertools.product(range(2), range(3)):
        row = table.devices.tolist().index(int(arr[i, j]))
        assert table.tile_index[row].tolist() == [i, j]
