"""Shardy (`#sdy.sharding<@mesh, [{"x"}, {"y":(2)4}]>`) -> an HloSharding in our IR, so shard
geometry has one implementation (`hloscope.hlo.shards`).

How Shardy names devices (Shardy's sharding_representation doc): a mesh is a list of named
axes, row-major; a tensor dimension is sharded by a list of axis references, major first; a
sub-axis `"x":(m)k` of an axis of size `n` is the middle factor when `n` is reshaped to
`[m, k, n/(m*k)]`. Axes that shard no dimension replicate the data, except `unreduced` axes
(each device holds a partial sum) and the manual axes of an enclosing `manual_computation`.

The conversion cuts every mesh axis into the factors its references need, orders the factors
as an iota reshape, and lists, per tensor dimension, the factors that shard it; what is left
becomes trailing subgroup dimensions. That is how XLA converts Shardy shardings when it
partitions (checked against XLA's conversion in tests/capture/test_sharding_sdy.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from hloscope.hlo.model import Sharding, ShardingKind, TileAssignment
from hloscope.hlo.shards import GeometryError

if TYPE_CHECKING:
    # The StableHLO reader's values (jax-free); only their fields are read here.
    from hloscope.stablehlo.shardy import Mesh, TensorSharding


class _Ref(Protocol):
    """An axis reference: `hloscope.stablehlo.shardy._Ref` or a whole manual axis."""

    @property
    def name(self) -> str: ...
    @property
    def sub_axis(self) -> tuple[int, int] | None: ...


class _WholeAxis:
    """A whole-axis reference (the manual axes are named, not referenced)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def sub_axis(self) -> tuple[int, int] | None:
        return None


def _bounds(ref: _Ref, n: int) -> tuple[int, int]:
    """The reference as `[lo, hi)` in the axis's multiplicative scale, major side first:
    a whole axis is [1, n], `(m)k` is [m, m*k]."""
    if ref.sub_axis is None:
        return 1, n
    pre, size = ref.sub_axis
    lo, hi = pre, pre * size
    if lo < 1 or size < 1 or n % hi:
        raise GeometryError(f'sub-axis "{ref}" does not divide axis "{ref.name}" of size {n}')
    return lo, hi


class _Refined:
    """Mesh axes cut into factors (major first) at every sub-axis boundary in use."""

    def __init__(self, mesh_axes: Sequence[tuple[str, int]], refs: Iterable[_Ref]) -> None:
        self.sizes = dict(mesh_axes)
        cuts: dict[str, set[int]] = {name: {1, n} for name, n in mesh_axes}
        for r in refs:
            if r.name not in self.sizes:
                raise GeometryError(f'sharding names axis "{r.name}", not in the mesh')
            cuts[r.name].update(_bounds(r, self.sizes[r.name]))
        self.factors: list[int] = []
        # axis -> [(lo, hi, factor index)], in the axis's own scale
        self.pieces: dict[str, list[tuple[int, int, int]]] = {}
        for name, _ in mesh_axes:
            points = sorted(cuts[name])
            for lo, hi in itertools.pairwise(points):
                if hi % lo:
                    raise GeometryError(f'sub-axes of "{name}" overlap unevenly')
                self.pieces.setdefault(name, []).append((lo, hi, len(self.factors)))
                self.factors.append(hi // lo)
            self.pieces.setdefault(name, [])

    def of(self, ref: _Ref) -> list[int]:
        lo, hi = _bounds(ref, self.sizes[ref.name])
        return [i for a, b, i in self.pieces[ref.name] if lo <= a and b <= hi]


def sdy_sharding(
    sharding: TensorSharding, mesh: Mesh, *, manual_axes: Sequence[str] = ()
) -> Sharding:
    """The HloSharding of a Shardy tensor sharding on its mesh (`sharding.inline_mesh`
    when it has one). `manual_axes`: the axes of an enclosing `sdy.manual_computation`."""
    m = sharding.inline_mesh or mesh
    return sdy_to_hlo_sharding(
        tuple((a.name, a.size) for a in m.axes),
        tuple(d.axes for d in sharding.dims),
        unreduced_axes=sharding.unreduced,
        manual_axes=manual_axes,
        device_ids=m.device_ids or None,
    )


def sdy_to_hlo_sharding(
    mesh_axes: Sequence[tuple[str, int]],
    dim_axes: Sequence[Sequence[_Ref]],
    *,
    unreduced_axes: Sequence[_Ref] = (),
    manual_axes: Sequence[str] = (),
    device_ids: Sequence[int] | None = None,
) -> Sharding:
    """The HloSharding a Shardy tensor sharding denotes.

    `mesh_axes`: the mesh's `(name, size)` in order; `dim_axes`: per tensor dimension, the
    axes sharding it (major first); `unreduced_axes`: axes along which copies are partial
    sums; `manual_axes`: axes made manual by an enclosing `sdy.manual_computation`;
    `device_ids`: the mesh's explicit device order, when it has one (`device_ids=[...]`).
    Replicated axes need no argument: every axis not named is replicated.
    A mesh with no axes and one device id (`<[], device_ids=[3]>`) is a maximal sharding."""
    if not mesh_axes:
        if device_ids is not None and len(device_ids) == 1:
            return Sharding(kind=ShardingKind.MAXIMAL, device=int(device_ids[0]))
        return Sharding(kind=ShardingKind.REPLICATED)
    manual_refs = [_WholeAxis(a) for a in manual_axes]
    all_refs = [r for d in dim_axes for r in d] + list(unreduced_axes) + manual_refs
    mesh = _Refined(mesh_axes, all_refs)
    used: set[int] = set()
    dims: list[int] = []
    perm: list[int] = []
    for refs in dim_axes:
        factors = [f for r in refs for f in mesh.of(r)]
        if used.intersection(factors) or len(set(factors)) < len(factors):
            raise GeometryError(f"an axis shards two dimensions ({', '.join(map(str, refs))})")
        used.update(factors)
        perm.extend(factors)
        dims.append(_product(mesh.factors[f] for f in factors))

    def take(refs: Sequence[_Ref]) -> list[int]:
        got = [f for r in refs for f in mesh.of(r) if f not in used]
        used.update(got)
        return got

    groups = [("manual", take(manual_refs)), ("unreduced", take(list(unreduced_axes)))]
    groups.insert(1, ("replicated", [f for f in range(len(mesh.factors)) if f not in used]))
    types: list[str] = []
    for kind, factors in groups:
        size = _product(mesh.factors[f] for f in factors)
        if size > 1:
            types.append(kind)
            dims.append(size)
        perm.extend(factors)
    return _assemble(mesh.factors, dims, perm, types, device_ids, len(dim_axes))


def _product(xs: Iterable[int]) -> int:
    n = 1
    for x in xs:
        n *= x
    return n


def _assemble(
    factors: list[int],
    dims: list[int],
    perm: list[int],
    types: list[str],
    device_ids: Sequence[int] | None,
    rank: int,
) -> Sharding:
    data_sharded = any(d > 1 for d in dims[:rank])
    if not data_sharded and types in ([], ["replicated"]):
        return Sharding(kind=ShardingKind.REPLICATED)
    if not data_sharded and types == ["manual"]:
        return Sharding(kind=ShardingKind.MANUAL)
    if not data_sharded and types == ["unreduced"]:
        return Sharding(kind=ShardingKind.UNREDUCED)
    # Size-1 factors carry nothing; dropping them keeps the iota small.
    keep = [f for f in perm if factors[f] > 1]
    order = sorted(keep)
    reshape = tuple(factors[f] for f in order)
    tperm = tuple(order.index(f) for f in keep)
    if device_ids is not None and list(device_ids) != list(range(len(device_ids))):
        import numpy as np

        iota = np.arange(len(device_ids)).reshape(reshape or (1,)).transpose(tperm or (0,))
        devices = tuple(int(device_ids[int(i)]) for i in iota.reshape(-1))
        ta = TileAssignment(dims=tuple(dims), devices=devices)
    else:
        identity = tperm == tuple(range(len(tperm)))
        ta = TileAssignment(
            dims=tuple(dims),
            reshape_dims=reshape if not identity else (),
            transpose_perm=tperm if not identity else (),
        )
    return Sharding(kind=ShardingKind.TILED, tile_assignment=ta, last_tile_dims=tuple(types))
