"""The device mesh the sharding pass names axes with: the capture's, or one inferred from the
module when it came from a bare HLO file.

Logical device ids (the numbers in tile assignments, replica groups and permute pairs) are
positions in the program's device assignment; jax builds that assignment from
`mesh.devices.flat`, so logical id `p` sits at mesh position `p` (row-major) and is global
device `mesh.device_ids[p]`.

Inference, for a module with no mesh beside it (axes named `axis_0`, ... and marked
`inferred`): the tile assignments of the entry's shardings each cut the device count into
major-to-minor factors (the user's mesh axes, merged where a sharding uses two together);
the cuts that agree form the mesh. With no tiled entry sharding, the replica groups' own
structure is used: `mesh[...]` forms (whose `axis_i` names are per instruction, so only their
sizes count), iota forms, and strided explicit groups. Collectives over a finer split show
as sub-axes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hloscope.hlo.model import GroupsForm, Module, ReplicaGroups, Sharding, ShardingKind
from hloscope.records import mesh_coords

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from hloscope.records import MeshInfo

    IntArray = npt.NDArray[np.int64]
else:
    IntArray = Any


@dataclass(frozen=True, slots=True, kw_only=True)
class MeshView:
    """Axes over the program's logical device ids."""

    axis_names: tuple[str, ...]
    axis_sizes: tuple[int, ...]
    device_ids: tuple[int, ...] = ()
    """Global device id at each mesh position; empty when they equal the positions."""
    inferred: bool = False
    """True when the axes were inferred from the module (no mesh was given)."""
    source: str = ""
    """Where the axes come from, in words."""

    @property
    def size(self) -> int:
        return math.prod(self.axis_sizes)

    def strides(self) -> tuple[int, ...]:
        out = []
        step = 1
        for s in reversed(self.axis_sizes):
            out.append(step)
            step *= s
        return tuple(reversed(out))

    def coords_of(self, ids: IntArray) -> IntArray:
        """Mesh coordinates of logical ids: shape `ids.shape + (axes,)`."""
        import numpy as np

        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((*ids.shape, len(self.axis_sizes)), dtype=np.int64)
        for a, (size, stride) in enumerate(zip(self.axis_sizes, self.strides(), strict=True)):
            out[..., a] = (ids // stride) % size
        return out

    def coords(self, logical: int) -> tuple[int, ...]:
        return mesh_coords(logical, self.axis_sizes)

    def global_id(self, logical: int) -> int:
        return self.device_ids[logical] if self.device_ids else logical

    def describe(self) -> str:
        text = " × ".join(f"{n}={s}" for n, s in zip(self.axis_names, self.axis_sizes, strict=True))
        return f"{text} (inferred)" if self.inferred else text

    def to_json(self) -> dict[str, Any]:
        return {
            "axis_names": list(self.axis_names),
            "axis_sizes": list(self.axis_sizes),
            "inferred": self.inferred,
            "source": self.source,
        }


def mesh_for(module: Module, mesh: MeshInfo | None, n: int | None = None) -> MeshView:
    """The capture's mesh when it covers the program's `n` devices (default: the header's
    partitions × replicas), else an inferred one."""
    if n is None:
        n = max(1, module.num_partitions) * max(1, module.replica_count)
    if mesh is not None and mesh.size == n and mesh.axis_names:
        ids = tuple(mesh.device_ids)
        identity = ids == tuple(range(len(ids)))
        return MeshView(
            axis_names=tuple(mesh.axis_names),
            axis_sizes=tuple(mesh.axis_sizes),
            device_ids=() if identity or len(ids) != n else ids,
            source="the capture's mesh",
        )
    return infer_mesh(module, n)


def infer_mesh(module: Module, n: int) -> MeshView:
    """Axes for `n` devices from the module's own structure (see the module docstring)."""
    if n <= 1:
        return MeshView(axis_names=(), axis_sizes=(), inferred=True, source="one device")
    cuts: set[int] = set()
    used = []
    for label, factors in (
        ("tile assignments of the entry's shardings", _entry_sharding_factors(module)),
        ("replica groups", _group_factors(module, n)),
    ):
        added = False
        for f in factors:
            if _product(f) != n:
                continue
            trial = cuts | _cuts(f)
            if _is_chain(trial, n):
                added |= trial != cuts
                cuts = trial
        if added:
            used.append(label)
        if cuts and label.startswith("tile"):
            break  # the shardings name the user's mesh; groups finer than it are sub-axes
    sizes = _factors_from_cuts(cuts, n)
    return MeshView(
        axis_names=tuple(f"axis_{i}" for i in range(len(sizes))),
        axis_sizes=tuple(sizes),
        inferred=True,
        source=("from " + " and ".join(used)) if used else "device count only",
    )


def _product(xs: Iterable[int]) -> int:
    n = 1
    for x in xs:
        n *= x
    return n


def _cuts(factors: Sequence[int]) -> set[int]:
    """Boundaries of major-to-minor factors as prefix products (1 and n excluded)."""
    out = set()
    acc = 1
    for f in factors[:-1]:
        acc *= f
        out.add(acc)
    total = acc * (factors[-1] if factors else 1)
    return {c for c in out if 1 < c < total}


def _is_chain(cuts: set[int], n: int) -> bool:
    points = [1, *sorted(cuts), n]
    return all(b % a == 0 for a, b in itertools.pairwise(points))


def _factors_from_cuts(cuts: set[int], n: int) -> list[int]:
    points = [1, *sorted(cuts), n]
    return [b // a for a, b in itertools.pairwise(points)]


def _tile_factors(sharding: Sharding) -> list[list[int]]:
    out: list[list[int]] = []
    if sharding.kind is ShardingKind.TUPLE:
        for e in sharding.tuple_elements:
            out.extend(_tile_factors(e))
        return out
    ta = sharding.tile_assignment
    if sharding.kind is not ShardingKind.TILED or ta is None or ta.devices is not None:
        return out
    perm = ta.transpose_perm
    if perm and list(perm) != sorted(perm):
        out.append([d for d in ta.reshape_dims if d > 1])
    else:
        out.append([d for d in ta.dims if d > 1])
    return out


def _entry_sharding_factors(module: Module) -> list[list[int]]:
    entry = module.entry_computation
    out: list[list[int]] = []
    for ins in entry.instructions:
        if ins.sharding is not None and (ins.opcode == "parameter" or ins.is_root):
            out.extend(_tile_factors(ins.sharding))
    return out


def _group_factors(module: Module, n: int) -> list[list[int]]:
    out: list[list[int]] = []
    seen: set[tuple[int, ...]] = set()
    for _, ins in module.instructions():
        rg = ins.replica_groups
        if rg is None or not rg.groups:
            continue
        f = _factors_of_groups(rg, n)
        if f and tuple(f) not in seen:
            seen.add(tuple(f))
            out.append(f)
    return out


def _factors_of_groups(rg: ReplicaGroups, n: int) -> list[int]:
    if rg.form is GroupsForm.MESH and rg.mesh_axes:
        return [s for _, s in rg.mesh_axes if s > 1]
    if rg.form is GroupsForm.IOTA:
        perm = rg.transpose_perm
        dims = rg.reshape_dims if perm and list(perm) != sorted(perm) else rg.iota_dims
        return [d for d in dims if d > 1]
    # Explicit: a group {c, c+s, c+2s, ...} of size k with the same shape everywhere is the
    # middle factor of [n/(k*s), k, s].
    g = sorted(rg.groups[0])
    k = len(g)
    if k < 2 or k * len(rg.groups) != n:
        return []
    stride = g[1] - g[0]
    if stride <= 0 or any(b - a != stride for a, b in itertools.pairwise(g)):
        return []
    if n % (k * stride):
        return []
    return [f for f in (n // (k * stride), k, stride) if f > 1]


@dataclass(frozen=True, slots=True, kw_only=True)
class AxisSpan:
    """Which mesh axes a set of device groups spans."""

    axes: tuple[str, ...]
    """Names of the axes whose coordinate varies within a group, mesh order."""
    label: str
    """`model`, `data+model`, a sub-axis `data:(1)4` (Shardy's notation: the 4-way major
    factor of `data`), `-` for none."""
    exact: bool = True
    """False when a group is not the full product of per-axis pieces (e.g. a diagonal)."""


def span_of_groups(mesh: MeshView, groups: IntArray) -> AxisSpan:
    """Axes spanned by `groups` ([G, S] logical ids)."""
    import numpy as np

    if groups.size == 0 or groups.shape[1] < 2 or not mesh.axis_sizes:
        return AxisSpan(axes=(), label="-")
    coords = mesh.coords_of(groups)  # [G, S, A]
    varies = (coords.max(axis=1) != coords.min(axis=1)).any(axis=0)
    names: list[str] = []
    parts: list[str] = []
    pieces = 1
    first = coords[0]
    for a, name in enumerate(mesh.axis_names):
        if not varies[a]:
            continue
        values = np.unique(first[:, a])
        pieces *= len(values)
        names.append(name)
        parts.append(_axis_piece(name, mesh.axis_sizes[a], values))
    exact = pieces == groups.shape[1]
    label = "+".join(parts) if parts else "-"
    return AxisSpan(axes=tuple(names), label=label if exact else f"~{label}", exact=exact)


def span_of_pairs(mesh: MeshView, pairs: IntArray) -> AxisSpan:
    """Axes along which permute pairs ([P, 2] logical ids) move data."""
    if pairs.size == 0 or not mesh.axis_sizes:
        return AxisSpan(axes=(), label="-")
    src = mesh.coords_of(pairs[:, 0])
    dst = mesh.coords_of(pairs[:, 1])
    differs = (src != dst).any(axis=0)
    names = tuple(n for a, n in enumerate(mesh.axis_names) if differs[a])
    return AxisSpan(axes=names, label="+".join(names) if names else "-")


def _axis_piece(name: str, size: int, values: IntArray) -> str:
    k = len(values)
    if k == size:
        return name
    steps = {int(b - a) for a, b in itertools.pairwise(values)}
    if len(steps) == 1:
        stride = steps.pop()
        if size % (k * stride) == 0:
            return f"{name}:({size // (k * stride)}){k}"
    return f"{name}[{k} of {size}]"
