"""HloSharding text <-> `Sharding` (`{devices=[4,1,2]<=[8] last_tile_dim_replicate}`...).

Forms read (xla/hlo/ir/hlo_sharding.cc, hlo_parser.cc): `{replicated}`, `{manual}`,
`{unknown}`, `{unreduced}`, `{maximal device=N}`, tiled with an explicit device list
(`{devices=[2,2]0,2,1,3}`) or an iota (`{devices=[4,1,2]<=[2,4]T(1,0)}`), followed by
`last_tile_dim_replicate` or `last_tile_dims={manual, replicated}`, and tuples
(`{{replicated}, {maximal device=0}}`). Items the model does not break down
(`metadata={...}`, `shard_as 1`, `shard_like 0`) are kept raw in `Sharding.extra`.
"""

from __future__ import annotations

import re

from hloscope.hlo.lexer import DIGITS, NAME_RE, Cursor
from hloscope.hlo.model import Sharding, ShardingKind, TileAssignment

_KEYWORD_KINDS = {
    "replicated": ShardingKind.REPLICATED,
    "manual": ShardingKind.MANUAL,
    "maximal": ShardingKind.MAXIMAL,
    "unknown": ShardingKind.UNKNOWN,
    "unreduced": ShardingKind.UNREDUCED,
}
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INTS_RE = re.compile(r"\s*-?" + DIGITS + r"(?:\s*,\s*-?" + DIGITS + r")*")
_MAX_DEVICES = 1 << 24

_cache: dict[str, Sharding] = {}


def parse_sharding(text: str, *, file: str | None = None) -> Sharding:
    """Parse an HloSharding as XLA prints it (the value of `sharding=`)."""
    cur = Cursor(text, file)
    sharding, pos = sharding_at(cur, cur.skip_ws(0))
    pos = cur.skip_ws(pos)
    if pos != len(text):
        cur.error(pos, "end of sharding")
    return sharding


def sharding_at(cur: Cursor, pos: int) -> tuple[Sharding, int]:
    """The sharding whose `{` is at `pos`; returns it and the position after its `}`."""
    text = cur.text
    if not text.startswith("{", pos):
        cur.error(pos, "'{' to start a sharding")
    after = cur.skip_ws(pos + 1)
    if text.startswith("{", after) or text.startswith("}", after):
        return _tuple_at(cur, after)
    return _single_at(cur, pos)


def _tuple_at(cur: Cursor, pos: int) -> tuple[Sharding, int]:
    text = cur.text
    elems: list[Sharding] = []
    while not text.startswith("}", pos):
        elem, pos = _single_at(cur, pos)
        elems.append(elem)
        pos = cur.skip_ws(pos)
        if text.startswith(",", pos):
            pos = cur.skip_ws(pos + 1)
        elif not text.startswith("}", pos):
            cur.error(pos, "',' or '}' in a tuple sharding")
    return Sharding(kind=ShardingKind.TUPLE, tuple_elements=tuple(elems)), pos + 1


class _Single:
    """Items of one `{...}` sharding as they are read."""

    __slots__ = ("device", "extra", "kind", "last_tile_dims", "tiles")

    def __init__(self) -> None:
        self.kind: ShardingKind | None = None
        self.device: int | None = None
        self.tiles: TileAssignment | None = None
        self.last_tile_dims: tuple[str, ...] = ()
        self.extra: list[str] = []


def _single_at(cur: Cursor, pos: int) -> tuple[Sharding, int]:
    text = cur.text
    pos = cur.skip_ws(pos)
    if not text.startswith("{", pos):
        cur.error(pos, "'{' to start a sharding")
    start = pos
    pos = cur.skip_ws(pos + 1)
    acc = _Single()
    while not text.startswith("}", pos):
        pos = cur.skip_ws(_item_at(cur, pos, acc))
    return _build(cur, start, acc), pos + 1


def _item_at(cur: Cursor, pos: int, acc: _Single) -> int:
    text = cur.text
    m = _WORD_RE.match(text, pos)
    if m is None:
        cur.error(pos, "a sharding item (replicated, maximal, devices=..., ...)")
    word = m.group()
    end = m.end()
    if word in _KEYWORD_KINDS:
        _set_kind(cur, pos, acc, _KEYWORD_KINDS[word])
        return end
    if word == "last_tile_dim_replicate":
        acc.last_tile_dims = ("replicated",)
        return end
    if word in ("shard_as", "shard_like"):
        _, end = cur.integer(end, f"an integer after {word}")
        acc.extra.append(text[pos:end])
        return end
    if not text.startswith("=", end):
        cur.error(end, f"'=' after {word}")
    return _keyed_item_at(cur, pos, word, end + 1, acc)


def _keyed_item_at(cur: Cursor, pos: int, word: str, vpos: int, acc: _Single) -> int:
    text = cur.text
    if word == "devices":
        _set_kind(cur, pos, acc, ShardingKind.TILED, keep=True)
        acc.tiles, end = _tile_assignment_at(cur, vpos)
        return end
    if word == "device":
        acc.device, end = cur.integer(vpos, "a device number")
        return end
    if word == "last_tile_dims":
        acc.last_tile_dims, end = _last_tile_dims_at(cur, vpos)
        return end
    # metadata={...} and anything newer: kept raw.
    end = cur.value_end(vpos)
    acc.extra.append(text[pos:end])
    return end


def _set_kind(cur: Cursor, pos: int, acc: _Single, kind: ShardingKind, keep: bool = False) -> None:
    if acc.kind is not None and not keep:
        cur.fail(pos, f"sharding has both {acc.kind.value} and {kind.value}")
    if acc.kind is None:
        acc.kind = kind


def _last_tile_dims_at(cur: Cursor, pos: int) -> tuple[tuple[str, ...], int]:
    text = cur.text
    pos = cur.expect(pos, "{", "'{' after last_tile_dims=")
    out: list[str] = []
    pos = cur.skip_ws(pos)
    while not text.startswith("}", pos):
        m = NAME_RE.match(text, pos)
        if m is None or m.group() not in ("manual", "replicated", "unreduced"):
            cur.error(pos, "manual, replicated or unreduced")
        out.append(m.group())
        pos = cur.skip_ws(m.end())
        if text.startswith(",", pos):
            pos = cur.skip_ws(pos + 1)
        elif not text.startswith("}", pos):
            cur.error(pos, "',' or '}'")
    return tuple(out), pos + 1


def int_list_at(cur: Cursor, pos: int, open_: str, close: str) -> tuple[tuple[int, ...], int]:
    """`[1,2,3]` (with the given brackets), possibly empty."""
    text = cur.text
    pos = cur.expect(pos, open_)
    m = _INTS_RE.match(text, pos)
    values: tuple[int, ...] = ()
    if m is not None:
        values = tuple(int(v) for v in m.group().split(","))
        pos = m.end()
    pos = cur.expect(pos, close, f"',' or {close!r}")
    return values, pos


def _tile_assignment_at(cur: Cursor, pos: int) -> tuple[TileAssignment, int]:
    text = cur.text
    dims, pos = int_list_at(cur, pos, "[", "]")
    total = _product(cur, pos, dims)
    after = cur.skip_ws(pos)
    if text.startswith("<=", after):
        return iota_at(cur, after + 2, dims, total)
    m = _INTS_RE.match(text, pos)
    if m is None:
        cur.error(after, "a device list or '<=[...]'")
    devices = tuple(int(v) for v in m.group().split(","))
    if len(devices) != total:
        cur.fail(pos, f"tile assignment {list(dims)} needs {total} devices, found {len(devices)}")
    return TileAssignment(dims=dims, devices=devices), m.end()


def iota_at(cur: Cursor, pos: int, dims: tuple[int, ...], total: int) -> tuple[TileAssignment, int]:
    """The `[reshape]T(perm)` after `<=` of an iota tile assignment."""
    text = cur.text
    reshape, pos = int_list_at(cur, pos, "[", "]")
    if _product(cur, pos, reshape) != total:
        cur.fail(pos, f"iota reshape {list(reshape)} does not hold {total} devices")
    perm: tuple[int, ...] = ()
    if text.startswith("T", pos):
        perm, pos = int_list_at(cur, pos + 1, "(", ")")
        if sorted(perm) != list(range(len(reshape))):
            cur.fail(pos, f"T{perm} is not a permutation of {len(reshape)} dims")
    return TileAssignment(dims=dims, reshape_dims=reshape, transpose_perm=perm), pos


def _product(cur: Cursor, pos: int, dims: tuple[int, ...]) -> int:
    n = 1
    for d in dims:
        if d < 0:
            cur.fail(pos, f"negative dimension {d}")
        n *= d
        if n > _MAX_DEVICES:
            cur.fail(pos, f"more than {_MAX_DEVICES} devices")
    return n


def _build(cur: Cursor, pos: int, acc: _Single) -> Sharding:
    kind = acc.kind
    if kind is None:
        cur.fail(pos, "sharding names no kind (replicated, maximal, manual, devices=...)")
    if kind is ShardingKind.MAXIMAL and acc.device is None:
        cur.fail(pos, "maximal sharding without device=N")
    extra = " ".join(acc.extra)
    return Sharding(kind=kind, tile_assignment=acc.tiles, last_tile_dims=acc.last_tile_dims,
                    device=acc.device, extra=extra)


def cached_sharding_at(cur: Cursor, pos: int, end: int) -> Sharding:
    """Parse the sharding spanning text[pos:end], reusing an earlier parse of the same text."""
    raw = cur.text[pos:end]
    s = _cache.get(raw)
    if s is None:
        s, stop = sharding_at(cur, pos)
        if stop != end:
            cur.error(stop, "end of sharding")
        if len(_cache) < 100_000:
            _cache[raw] = s
    return s


# --- formatting -------------------------------------------------------------------------


def format_tile_assignment(t: TileAssignment) -> str:
    dims = "[" + ",".join(map(str, t.dims)) + "]"
    if t.devices is not None:
        return dims + ",".join(map(str, t.devices))
    out = dims + "<=[" + ",".join(map(str, t.reshape_dims)) + "]"
    if t.transpose_perm:
        out += "T(" + ",".join(map(str, t.transpose_perm)) + ")"
    return out


def _format_single(s: Sharding) -> str:
    parts: list[str] = []
    if s.kind is ShardingKind.MAXIMAL:
        parts.append(f"maximal device={s.device}")
    elif s.kind is ShardingKind.TILED or s.tile_assignment is not None:
        if s.kind is not ShardingKind.TILED:
            parts.append(s.kind.value)
        if s.tile_assignment is not None:
            parts.append("devices=" + format_tile_assignment(s.tile_assignment))
    else:
        parts.append(s.kind.value)
    if s.last_tile_dims == ("replicated",):
        parts.append("last_tile_dim_replicate")
    elif s.last_tile_dims:
        parts.append("last_tile_dims={" + ", ".join(s.last_tile_dims) + "}")
    if s.device is not None and s.kind is not ShardingKind.MAXIMAL:
        parts.append(f"device={s.device}")
    if s.extra:
        parts.append(s.extra)
    return "{" + " ".join(parts) + "}"


def format_sharding(s: Sharding) -> str:
    """The HLO text of a sharding, as XLA's HloSharding::ToString writes it."""
    if s.kind is ShardingKind.TUPLE:
        return "{" + ", ".join(_format_single(e) for e in s.tuple_elements) + "}"
    return _format_single(s)


__all__ = ["format_sharding", "format_tile_assignment", "parse_sharding", "sharding_at"]


# --- shard geometry (hloscope.hlo.shards, the sharding pass's), re-exported here -------------

from hloscope.hlo.shards import (  # noqa: E402
    GeometryError,
    Shard,
    ShardTable,
    device_set,
    leaf_shardings,
    shard_map,
    shard_shape,
    shard_table,
    shards,
    tile_assignment_array,
)

__all__ += [
    "GeometryError",
    "Shard",
    "ShardTable",
    "device_set",
    "leaf_shardings",
    "shard_map",
    "shard_shape",
    "shard_table",
    "shards",
    "tile_assignment_array",
]
