"""Shard geometry: which piece of an array each device holds under an HloSharding.

XLA's rule (`HloSharding::TileOffsetForDevice` / `TileLimitForDevice`): a dimension of size
`n` split `k` ways is cut into tiles of `ceil(n / k)`; tile `i` covers
`[min(i*t, n), min((i+1)*t, n))`. Every device's buffer is one full tile, so the last tiles of
an uneven split are short and the device pads them; a tile can even be empty. jax refuses
uneven splits (`devices_indices_map` raises), so on even splits the two agree exactly and this
module also answers the uneven case the way the SPMD partitioner lays it out.

Device ids here are *logical* ids: positions in the program's device assignment, the numbers
that appear in tile assignments and replica groups. `MeshInfo.device_ids` maps them to global
device ids.

numpy is imported inside the functions: importing the IR stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hloscope.hlo.model import Shape, Sharding, ShardingKind, TileAssignment

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    IntArray = npt.NDArray[np.int64]
else:
    IntArray = Any


class GeometryError(ValueError):
    """A sharding that does not fit the shape (rank mismatch, devices out of range), or one
    with no geometry (`{unknown}`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Shard:
    """The piece of one array a device holds."""

    device: int
    """Logical device id (position in the device assignment)."""
    index: tuple[tuple[int, int], ...]
    """Per dimension, the `[start, stop)` range of the global array this device holds."""
    tile_shape: tuple[int, ...]
    """The device's buffer shape: one full tile (`ceil(n / k)` per dimension)."""
    padding: tuple[int, ...]
    """Per dimension, elements of the buffer past the end of the array (uneven splits)."""
    tile_index: tuple[int, ...]
    """Position of this tile in the grid of data tiles."""
    replica: int = 0
    """Which copy, among devices holding the same tile (replicated subgroup index)."""
    partial: bool = False
    """True when the device holds a partial sum (`unreduced` axes): the array is the sum of
    the copies, not any one of them."""
    manual_index: int | None = None
    """Index in a `manual` subgroup: the device holds its own data there (shard_map), which
    the global ranges do not describe."""

    @property
    def shape(self) -> tuple[int, ...]:
        """Valid (unpadded) extent per dimension."""
        return tuple(b - a for a, b in self.index)

    @property
    def padded(self) -> bool:
        return any(self.padding)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ShardTable:
    """Every device's shard of one array, as numpy arrays (one row per holding device), for
    analyses over 1000+ devices. `shards()` turns it into `Shard` values."""

    dims: tuple[int, ...]
    tile_shape: tuple[int, ...]
    grid: tuple[int, ...]
    """Tiles per data dimension."""
    devices: IntArray
    """[k] logical device ids, ascending."""
    tile_index: IntArray
    """[k, rank] tile position of each device."""
    starts: IntArray
    """[k, rank]"""
    stops: IntArray
    """[k, rank]"""
    replica: IntArray
    """[k] copy index among devices holding the same tile."""
    manual_index: IntArray | None = None
    """[k] index in the manual subgroup, when the sharding has one."""
    partial: bool = False
    subgroups: Mapping[str, int] = field(default_factory=dict)
    """Trailing subgroup sizes by type (`replicated`, `manual`, `unreduced`)."""

    @property
    def padding(self) -> IntArray:
        """[k, rank] padded elements per dimension."""
        import numpy as np

        tile = np.asarray(self.tile_shape, dtype=np.int64).reshape(1, -1)
        out: IntArray = tile - (self.stops - self.starts)
        return out

    @property
    def valid_elements(self) -> IntArray:
        """[k] elements each device holds that belong to the array."""
        import numpy as np

        out: IntArray = np.prod(self.stops - self.starts, axis=1, dtype=np.int64)
        return out

    def __len__(self) -> int:
        return int(self.devices.shape[0])

    def shards(self) -> tuple[Shard, ...]:
        pad = self.padding.tolist()
        starts = self.starts.tolist()
        stops = self.stops.tolist()
        tidx = self.tile_index.tolist()
        reps = self.replica.tolist()
        manual = self.manual_index.tolist() if self.manual_index is not None else None
        out = []
        for row, dev in enumerate(self.devices.tolist()):
            out.append(
                Shard(
                    device=dev,
                    index=tuple(zip(starts[row], stops[row], strict=True)),
                    tile_shape=self.tile_shape,
                    padding=tuple(pad[row]),
                    tile_index=tuple(tidx[row]),
                    replica=reps[row],
                    partial=self.partial,
                    manual_index=manual[row] if manual is not None else None,
                )
            )
        return tuple(out)


def _prod(xs: Sequence[int]) -> int:
    n = 1
    for x in xs:
        n *= x
    return n


def tile_assignment_array(ta: TileAssignment) -> IntArray:
    """The device id at every tile position, shaped `ta.dims`.

    Iota form `<=[r...]T(p...)`: iota over `reshape_dims`, transposed by `transpose_perm`,
    reshaped to `dims`."""
    import numpy as np

    total = _prod(ta.dims)
    if ta.devices is not None:
        if len(ta.devices) != total:
            raise GeometryError(
                f"tile assignment {list(ta.dims)} needs {total} devices, lists {len(ta.devices)}"
            )
        arr: IntArray = np.asarray(ta.devices, dtype=np.int64).reshape(ta.dims)
        return arr
    reshape = ta.reshape_dims or (total,)
    if _prod(reshape) != total:
        raise GeometryError(
            f"iota tile assignment reshapes {list(reshape)} into {list(ta.dims)}: sizes differ"
        )
    perm = ta.transpose_perm or tuple(range(len(reshape)))
    if sorted(perm) != list(range(len(reshape))):
        raise GeometryError(f"transpose {list(perm)} is not a permutation of {len(reshape)} dims")
    iota = np.arange(total, dtype=np.int64).reshape(reshape).transpose(perm)
    out: IntArray = iota.reshape(ta.dims)
    return out


def _replicated_table(dims: tuple[int, ...], devices: IntArray, partial: bool) -> ShardTable:
    import numpy as np

    k = int(devices.shape[0])
    rank = len(dims)
    starts = np.zeros((k, rank), dtype=np.int64)
    stops = np.tile(np.asarray(dims, dtype=np.int64).reshape(1, rank), (k, 1))
    return ShardTable(
        dims=dims,
        tile_shape=dims,
        grid=(1,) * rank,
        devices=devices,
        tile_index=np.zeros((k, rank), dtype=np.int64),
        starts=starts,
        stops=stops,
        replica=np.arange(k, dtype=np.int64),
        partial=partial,
    )


def shard_table(
    dims: Sequence[int], sharding: Sharding, *, num_devices: int | None = None
) -> ShardTable:
    """Each device's shard of an array of shape `dims` under a non-tuple `sharding`.

    `num_devices` is the size of the device assignment; replicated, manual and unreduced
    shardings need it (they name no devices), tiled ones default to their tile count.
    A maximal sharding's table holds its one device; other devices hold nothing."""
    import numpy as np

    dims = tuple(int(d) for d in dims)
    kind = sharding.kind
    if kind is ShardingKind.TUPLE:
        raise GeometryError("a tuple sharding has one geometry per element; use leaf_shardings")
    if kind is ShardingKind.UNKNOWN:
        raise GeometryError("an {unknown} sharding has no geometry")
    if kind is ShardingKind.MAXIMAL:
        if sharding.device is None:
            raise GeometryError("maximal sharding without a device")
        return _replicated_table(dims, np.asarray([sharding.device], dtype=np.int64), False)
    if kind in (ShardingKind.REPLICATED, ShardingKind.MANUAL, ShardingKind.UNREDUCED):
        n = num_devices if num_devices is not None else 1
        table = _replicated_table(
            dims, np.arange(n, dtype=np.int64), kind is ShardingKind.UNREDUCED
        )
        if kind is ShardingKind.MANUAL:
            return _with(table, manual_index=np.arange(n, dtype=np.int64), subgroups={"manual": n})
        return table
    if sharding.tile_assignment is None:
        raise GeometryError("tiled sharding without a tile assignment")
    return _tiled_table(dims, sharding, num_devices)


def _with(table: ShardTable, **changes: Any) -> ShardTable:
    from dataclasses import replace

    return replace(table, **changes)


def _tiled_table(dims: tuple[int, ...], sharding: Sharding, num_devices: int | None) -> ShardTable:
    import numpy as np

    assert sharding.tile_assignment is not None
    ta = sharding.tile_assignment
    types = sharding.last_tile_dims
    rank = len(dims)
    if len(ta.dims) != rank + len(types):
        raise GeometryError(
            f"sharding tiles {len(ta.dims) - len(types)} dimensions, the array has {rank}"
            f" (tile assignment {list(ta.dims)}, subgroups {list(types)})"
        )
    arr = tile_assignment_array(ta)
    flat = arr.reshape(-1)
    total = int(flat.shape[0])
    if num_devices is not None and (flat.max(initial=0) >= num_devices or flat.min() < 0):
        raise GeometryError(
            f"tile assignment names device {int(flat.max())}, the program has {num_devices}"
        )
    order = np.argsort(flat, kind="stable")
    if np.unique(flat).shape[0] != total:
        raise GeometryError("tile assignment names a device twice")
    # Position of each device in the grid, rows sorted by device id.
    pos = np.stack(np.unravel_index(order, ta.dims), axis=1).astype(np.int64)
    grid = tuple(int(d) for d in ta.dims[:rank])
    tile_index = pos[:, :rank]
    tile = tuple(-(-n // k) if k else 0 for n, k in zip(dims, grid, strict=True))
    tile_arr = np.asarray(tile, dtype=np.int64).reshape(1, rank)
    dims_arr = np.asarray(dims, dtype=np.int64).reshape(1, rank)
    starts = np.minimum(tile_index * tile_arr, dims_arr)
    stops = np.minimum((tile_index + 1) * tile_arr, dims_arr)
    sub = pos[:, rank:]
    subgroups = {t: int(s) for t, s in zip(types, ta.dims[rank:], strict=True)}
    replica = np.zeros(total, dtype=np.int64)
    manual = None
    for j, t in enumerate(types):
        if t == "replicated":
            replica = sub[:, j].copy()
        elif t == "manual":
            manual = sub[:, j].copy()
    return ShardTable(
        dims=dims,
        tile_shape=tile,
        grid=grid,
        devices=flat[order],
        tile_index=tile_index,
        starts=starts,
        stops=stops,
        replica=replica,
        manual_index=manual,
        partial="unreduced" in types and subgroups.get("unreduced", 1) > 1,
        subgroups=subgroups,
    )


def shards(
    dims: Sequence[int], sharding: Sharding, *, num_devices: int | None = None
) -> tuple[Shard, ...]:
    """`shard_table(...).shards()`: one `Shard` per holding device, by device id."""
    return shard_table(dims, sharding, num_devices=num_devices).shards()


def shard_map(
    dims: Sequence[int], sharding: Sharding, *, num_devices: int | None = None
) -> Mapping[int, tuple[tuple[int, int], ...]]:
    """Device id -> per-dimension `[start, stop)`: the analogue of jax's
    `Sharding.devices_indices_map(shape)` (jax gives slices, keyed by Device)."""
    return {s.device: s.index for s in shards(dims, sharding, num_devices=num_devices)}


def leaf_shardings(
    shape: Shape, sharding: Sharding
) -> tuple[tuple[tuple[int, ...], Shape, Sharding], ...]:
    """(tuple index, leaf shape, leaf sharding) for every array leaf of `shape`. A tuple
    sharding lists one sharding per leaf (XLA's flattened order); a non-tuple sharding on a
    tuple shape applies to every leaf."""
    leaves = [(p, s) for p, s in shape.leaves()]
    if sharding.kind is not ShardingKind.TUPLE:
        return tuple((p, s, sharding) for p, s in leaves)
    elems = _flatten(sharding)
    if len(elems) != len(leaves):
        # XLA allows one sharding for an empty tuple.
        if not leaves and len(elems) == 1:
            return ()
        raise GeometryError(
            f"tuple sharding has {len(elems)} elements, the shape has {len(leaves)} leaves"
        )
    return tuple((p, s, e) for (p, s), e in zip(leaves, elems, strict=True))


def _flatten(sharding: Sharding) -> list[Sharding]:
    if sharding.kind is not ShardingKind.TUPLE:
        return [sharding]
    out: list[Sharding] = []
    for e in sharding.tuple_elements:
        out.extend(_flatten(e))
    return out


def shard_shape(dims: Sequence[int], sharding: Sharding) -> tuple[int, ...]:
    """The per-device buffer shape (one full tile) of an array under a non-tuple sharding."""
    if sharding.kind is not ShardingKind.TILED or sharding.tile_assignment is None:
        return tuple(dims)
    rank = len(dims)
    grid = sharding.tile_assignment.dims[:rank]
    return tuple(-(-n // k) if k else 0 for n, k in zip(dims, grid, strict=True))


def sharded_dims(sharding: Sharding, rank: int) -> tuple[int, ...]:
    """Ways each of the `rank` data dimensions is split (1 = whole)."""
    if sharding.kind is not ShardingKind.TILED or sharding.tile_assignment is None:
        return (1,) * rank
    return tuple(sharding.tile_assignment.dims[:rank])


def device_set(sharding: Sharding, *, num_devices: int) -> tuple[int, ...]:
    """Devices that hold some of the data (all of them, except for maximal shardings)."""
    if sharding.kind is ShardingKind.TUPLE:
        found: set[int] = set()
        for e in _flatten(sharding):
            found.update(device_set(e, num_devices=num_devices))
        return tuple(sorted(found))
    if sharding.kind is ShardingKind.MAXIMAL and sharding.device is not None:
        return (sharding.device,)
    if sharding.kind is ShardingKind.TILED and sharding.tile_assignment is not None:
        return tuple(sorted(int(d) for d in tile_assignment_array(sharding.tile_assignment).flat))
    return tuple(range(num_devices))
