"""Shardy (`sdy`) shardings and meshes as plain values.

Decoded from the `sdy.*Attr` classes by the reader (`reader.py`); kept free of jax so the
sharding pass and the TUI can use them without MLIR. `str()` of each value writes Shardy's own
syntax (`#sdy.sharding<@mesh, [{"x":(1)2, ?}p1, {}], replicated={"y"}>`).
"""

from __future__ import annotations

from dataclasses import dataclass


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True, kw_only=True)
class MeshAxis:
    name: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Mesh:
    """`sdy.mesh @name = <["data"=2, "model"=4], device_ids=[...]>`."""

    name: str
    """Symbol name without `@` ("" for a mesh written inline in a sharding)."""
    axes: tuple[MeshAxis, ...]
    device_ids: tuple[int, ...] = ()
    """Explicit device order; empty means iota over the axes (device i at row-major index i).
    A mesh with no axes and one device id is a maximal (single device) mesh."""

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def axis_sizes(self) -> tuple[int, ...]:
        return tuple(a.size for a in self.axes)

    @property
    def size(self) -> int:
        """Number of devices in the mesh."""
        if not self.axes:
            return len(self.device_ids) or 1
        n = 1
        for a in self.axes:
            n *= a.size
        return n

    def axis_size(self, name: str) -> int:
        for a in self.axes:
            if a.name == name:
                return a.size
        raise KeyError(name)

    def devices(self) -> tuple[int, ...]:
        """Device ids in row-major order of the axes (iota when `device_ids` is empty)."""
        return self.device_ids or tuple(range(self.size))

    def attr_text(self) -> str:
        """`<["data"=2, "model"=4]>` as in `sdy.mesh @mesh = ...` (and `mesh<...>` inline)."""
        axes = ", ".join(f"{_quote(a.name)}={a.size}" for a in self.axes)
        ids = f", device_ids=[{', '.join(map(str, self.device_ids))}]" if self.device_ids else ""
        return f"<[{axes}]{ids}>"

    def __str__(self) -> str:
        return f"sdy.mesh @{self.name} = {self.attr_text()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AxisRef:
    """A mesh axis or a sub-axis of it: `"x"` or `"x":(pre_size)size`.

    Shardy reshapes an axis of size n into factors, major to minor; the sub-axis `"x":(m)k`
    is the factor of size k whose major factors multiply to m (its pre-size): x becomes
    [m, k, n // (m * k)] and the sub-axis is the middle one."""

    name: str
    sub_axis: tuple[int, int] | None = None
    """(pre_size, size) for a sub-axis; None for the whole axis."""

    def size(self, mesh: Mesh) -> int:
        """Number of shards this axis (or sub-axis) contributes."""
        return self.sub_axis[1] if self.sub_axis else mesh.axis_size(self.name)

    def __str__(self) -> str:
        if self.sub_axis is None:
            return _quote(self.name)
        return f"{_quote(self.name)}:({self.sub_axis[0]}){self.sub_axis[1]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DimSharding:
    """How one tensor dimension is split: major-to-minor axes, e.g. `{"data", "model"}`."""

    axes: tuple[AxisRef, ...] = ()
    is_closed: bool = True
    """False for an open dimension (`{"x", ?}`): propagation may shard it further."""
    priority: int | None = None
    """`p<N>` propagation priority (0 is highest) when given."""

    def __str__(self) -> str:
        items = [str(a) for a in self.axes]
        if not self.is_closed:
            items.append("?")
        text = "{" + ", ".join(items) + "}"
        return text if self.priority is None else f"{text}p{self.priority}"


def _axes_text(axes: tuple[AxisRef, ...]) -> str:
    return "{" + ", ".join(str(a) for a in axes) + "}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TensorSharding:
    """`#sdy.sharding<@mesh, [{"data"}, {}], replicated={"model"}, unreduced={...}>`."""

    mesh: str
    """Name of the `sdy.mesh` symbol it refers to; "" when the mesh is written inline."""
    dims: tuple[DimSharding, ...]
    """One per tensor dimension (none for a scalar)."""
    replicated: tuple[AxisRef, ...] = ()
    """Axes the tensor is explicitly replicated over."""
    unreduced: tuple[AxisRef, ...] = ()
    """Axes over which the tensor holds partial values still to be reduced."""
    inline_mesh: Mesh | None = None
    """The mesh when written inline (`<mesh<["a"=2]>, [...]>`)."""

    @property
    def sharded_axes(self) -> tuple[AxisRef, ...]:
        """Every axis that splits some dimension, major dimension first."""
        return tuple(a for d in self.dims for a in d.axes)

    def shards_per_dim(self, mesh: Mesh) -> tuple[int, ...]:
        """Number of pieces each dimension is split into on `mesh`."""
        out = []
        for d in self.dims:
            n = 1
            for a in d.axes:
                n *= a.size(mesh)
            out.append(n)
        return tuple(out)

    @property
    def is_replicated(self) -> bool:
        """True when no dimension is split (the tensor is whole on every device)."""
        return not self.sharded_axes

    def __str__(self) -> str:
        mesh = f"mesh{self.inline_mesh.attr_text()}" if self.inline_mesh else f"@{self.mesh}"
        text = f"<{mesh}, [{', '.join(str(d) for d in self.dims)}]"
        if self.replicated:
            text += f", replicated={_axes_text(self.replicated)}"
        if self.unreduced:
            text += f", unreduced={_axes_text(self.unreduced)}"
        return f"#sdy.sharding{text}>"


@dataclass(frozen=True, slots=True, kw_only=True)
class ManualComputation:
    """An `sdy.manual_computation` (what `shard_map` lowers to): inside its body the
    `manual_axes` are handled by the program (collectives are explicit) and values have the
    per-device shapes."""

    op: int
    """Id of the `sdy.manual_computation` op in `StableModule.ops`."""
    in_shardings: tuple[TensorSharding, ...]
    out_shardings: tuple[TensorSharding, ...]
    manual_axes: tuple[str, ...]
    body: tuple[int, ...] = ()
    """Ids of the ops in its region (nested ones included), in order."""
