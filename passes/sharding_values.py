"""The entry's parameters and outputs with their shardings, in mesh-axis words, and where a
split is uneven (padding), for the `sharding` view.

The partitioned program holds per-device shapes; the global shapes come from the capture
(`Capture.in_shardings` / `out_shardings`), matched by position when their counts agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hloscope.hlo.model import Instruction, Module, Shape, Sharding, ShardingKind
from hloscope.hlo.shapes import format_shape

if TYPE_CHECKING:
    from hloscope.passes.sharding_mesh import MeshView
    from hloscope.records import ShardingInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardedValue:
    """An entry parameter or output and how it is laid out over the devices."""

    role: str
    """`parameter` or `output`."""
    index: int
    """Parameter number, or output tuple index."""
    name: str
    """Instruction name (parameters) or `ROOT[i]` (outputs)."""
    label: str
    """What jax called it (`params['w1']`, the op_name), or the name."""
    local_shape: str
    """The per-device shape in the partitioned program (`f32[256,32]`)."""
    sharding: str
    """HloSharding text."""
    dims: tuple[str, ...] | None
    """Per dimension, the mesh axes that split it (`data`, `(data, model)`, `replicated`)."""
    global_shape: str | None = None
    """The unsharded shape, when the capture recorded it."""
    holders: int = 0
    """Devices holding a piece (1 for a maximal sharding)."""
    pinned_device: int | None = None
    """The device of a maximal sharding."""
    padded_devices: int = 0
    """Devices whose shard is padded (uneven split; needs the global shape)."""
    max_padding_elements: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "index": self.index,
            "name": self.name,
            "label": self.label,
            "local_shape": self.local_shape,
            "sharding": self.sharding,
            "dims": list(self.dims) if self.dims is not None else None,
            "global_shape": self.global_shape,
            "holders": self.holders,
            "pinned_device": self.pinned_device,
            "padded_devices": self.padded_devices,
            "max_padding_elements": self.max_padding_elements,
        }


def sharded_values(
    module: Module,
    mesh: MeshView,
    n: int,
    in_infos: Sequence[ShardingInfo] = (),
    out_infos: Sequence[ShardingInfo] = (),
) -> tuple[tuple[ShardedValue, ...], list[str]]:
    """The entry's parameters and outputs that carry a sharding, and notes."""
    entry = module.entry_computation
    params = [entry.by_name[p] for p in entry.parameters if p in entry.by_name]
    notes: list[str] = []
    if in_infos and len(in_infos) != len(params):
        notes.append(
            f"the capture lists {len(in_infos)} input shardings for {len(params)} "
            "entry parameters: global shapes not matched"
        )
        in_infos = ()
    out: list[ShardedValue] = []
    for i, p in enumerate(params):
        if p.sharding is None:
            continue
        info = in_infos[i] if in_infos else None
        out.append(
            _value(
                "parameter",
                p.parameter_number if p.parameter_number is not None else i,
                p.name,
                p.op_name or p.name,
                p.shape,
                p.sharding,
                mesh,
                n,
                info,
            )
        )
    root = entry.root_instruction
    if root.sharding is not None:
        leaves = _leaf_shardings(root)
        if out_infos and len(out_infos) != len(leaves):
            out_infos = ()
        for j, (shape, s) in enumerate(leaves):
            info = out_infos[j] if out_infos else None
            name = f"ROOT[{j}]" if root.shape.is_tuple else "ROOT"
            out.append(_value("output", j, name, name, shape, s, mesh, n, info))
    return tuple(out), notes


def _leaf_shardings(root: Instruction) -> list[tuple[Shape, Sharding]]:
    from hloscope.hlo.shards import GeometryError, leaf_shardings

    assert root.sharding is not None
    try:
        return [(shape, s) for _, shape, s in leaf_shardings(root.shape, root.sharding)]
    except GeometryError:
        return []


def _value(
    role: str,
    index: int,
    name: str,
    label: str,
    shape: Shape,
    sharding: Sharding,
    mesh: MeshView,
    n: int,
    info: ShardingInfo | None,
) -> ShardedValue:
    from hloscope.hlo.sharding import format_sharding
    from hloscope.hlo.shards import GeometryError, device_set
    from hloscope.passes.sharding_why import dims_label

    leaf = (
        sharding.tuple_elements[0]
        if sharding.kind is ShardingKind.TUPLE and len(sharding.tuple_elements) == 1
        else sharding
    )
    rank = shape.rank if shape.is_array else 0
    dims = dims_label(leaf, rank, mesh) if shape.is_array else None
    try:
        holders = len(device_set(leaf, num_devices=n))
    except GeometryError:
        holders = 0
    padded, worst = _padding(info, leaf, n)
    return ShardedValue(
        role=role,
        index=index,
        name=name,
        label=label,
        local_shape=format_shape(shape, layout=False),
        sharding=format_sharding(sharding),
        dims=dims,
        global_shape=info.shape if info is not None else None,
        holders=holders,
        pinned_device=leaf.device if leaf.kind is ShardingKind.MAXIMAL else None,
        padded_devices=padded,
        max_padding_elements=worst,
    )


def _padding(info: ShardingInfo | None, sharding: Sharding, n: int) -> tuple[int, int]:
    from hloscope.hlo.shards import GeometryError, shard_table

    if info is None or not info.shape or sharding.kind is not ShardingKind.TILED:
        return 0, 0
    dims = _dims_of(info.shape)
    if dims is None:
        return 0, 0
    try:
        table = shard_table(dims, sharding, num_devices=n)
    except GeometryError:
        return 0, 0
    tile = 1
    for t in table.tile_shape:
        tile *= t
    pad = tile - table.valid_elements
    return int((pad > 0).sum()), int(pad.max(initial=0))


def _dims_of(text: str) -> tuple[int, ...] | None:
    """`f32[8,128]` -> (8, 128); None when not an array shape."""
    _, _, rest = text.partition("[")
    if not rest:
        return () if text and "[" not in text else None
    try:
        return tuple(int(x) for x in rest.split("]", 1)[0].split(",") if x.strip())
    except ValueError:
        return None

