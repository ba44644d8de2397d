"""HloSharding text <-> Sharding (no jax)."""

from __future__ import annotations

import pytest

from hloscope.errors import ParseError
from hloscope.hlo import ShardingKind
from hloscope.hlo.sharding import format_sharding, parse_sharding


@pytest.mark.parametrize(
    "text",
    [
        "{replicated}",
        "{manual}",
        "{unknown}",
        "{maximal device=3}",
        "{devices=[2,2]0,2,1,3}",
        "{devices=[4,1,2]<=[8] last_tile_dim_replicate}",
        "{devices=[2,1,4]<=[2,4]T(1,0) last_tile_dims={manual}}",
        "{devices=[2,2,2]<=[8] last_tile_dims={manual, replicated}}",
        "{{replicated}, {maximal device=0}, {devices=[2]0,1}}",
        "{}",
        "{replicated metadata={op_name=\"a\"}}",
        "{devices=[2]0,1 shard_as 1}",
        "{unreduced}",
    ],
)
def test_round_trip(text: str) -> None:
    s = parse_sharding(text)
    assert format_sharding(s) == text
    assert parse_sharding(format_sharding(s)) == s


def test_fields() -> None:
    s = parse_sharding("{devices=[4,1,2]<=[2,4]T(1,0) last_tile_dim_replicate}")
    assert s.kind is ShardingKind.TILED
    assert s.tile_assignment is not None
    assert s.tile_assignment.dims == (4, 1, 2)
    assert s.tile_assignment.reshape_dims == (2, 4)
    assert s.tile_assignment.transpose_perm == (1, 0)
    assert s.last_tile_dims == ("replicated",)
    m = parse_sharding("{maximal device=5}")
    assert m.kind is ShardingKind.MAXIMAL
    assert m.device == 5
    t = parse_sharding("{{replicated}, {manual}}")
    assert [e.kind for e in t.tuple_elements] == [ShardingKind.REPLICATED, ShardingKind.MANUAL]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{devices=[2,2]0,1,2}", "needs 4 devices, found 3"),
        ("{devices=[2,2]<=[3]}", "does not hold 4 devices"),
        ("{devices=[2,2]<=[2,2]T(0,0)}", "not a permutation"),
        ("{maximal}", "without device"),
        ("{replicated", "expected"),
        ("{frobnicate}", "expected"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_sharding(text)
