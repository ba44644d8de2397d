"""Per device: in SPMD every device runs the same partitioned program, so compute and memory
traffic are the same everywhere; devices differ in which collective groups they belong to
(and so the bytes they send and receive per mesh axis), in padding of uneven shards, and in
maximal shardings that pin a value to one device. This pass says which, and builds the
device × device communication matrix (sparse) from the groups and permute pairs.

Vectorized over devices with numpy: a 1024-device program takes well under a second beyond
parsing (`benchmarks/devices.py`).

The matrix follows the algorithm model of `sharding_cost`: ring collectives send to the next
device of the group, all-to-all to every other member, broadcasts down a binomial tree,
permutes and send/recv along their pairs. Bytes are per step (× executions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hloscope.hlo.model import Module, Sharding, ShardingKind

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from hloscope.passes.cost import CostReport
    from hloscope.passes.roofline import RooflineReport
    from hloscope.passes.sharding import Collective, ShardingReport
    from hloscope.records import ShardingInfo

    IntArray = npt.NDArray[np.int64]
    FloatArray = npt.NDArray[np.float64]
else:
    IntArray = FloatArray = Any

SPMD_NOTE = (
    "In SPMD every device runs the same program: compute and memory traffic are the same on "
    "every device; devices differ only where shown (collective groups, uneven shards and "
    "padding, maximal shardings)."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceBreakdown:
    """One device's share of a step."""

    id: int
    """Logical device id (position in the device assignment)."""
    global_id: int
    """Global device id (`jax.Device.id`)."""
    coords: tuple[int, ...]
    """Mesh coordinates, in the mesh's axis order."""
    flops: float | None
    """Executed FLOPs per step (× trip counts); same on every device."""
    memory_bytes: float | None
    """Bytes read + written per step (memory traffic); same on every device."""
    compute_s: float | None
    """Estimated seconds in compute-bound kernels (roofline; needs a hardware)."""
    memory_s: float | None
    """Estimated seconds in memory-bound kernels."""
    collective_s: float | None
    """Estimated seconds in the collectives this device takes part in."""
    collective_sent_bytes: float
    collective_received_bytes: float
    collective_bytes_by_axis: Mapping[str, float]
    """Bytes sent per step, by the mesh-axis label of the collective."""
    received_bytes_by_axis: Mapping[str, float]
    collectives: int
    """Collectives (instructions) this device takes part in."""
    padding_bytes: int = 0
    """Bytes of padding in this device's shards of the program's inputs and outputs (uneven
    splits); needs the global shapes a capture records."""
    pinned: tuple[str, ...] = ()
    """Values a maximal sharding pins to this device."""
    peak_bytes: int | None = None
    """Peak live bytes (the memory pass; same on every device)."""

    @property
    def received_bytes(self) -> float:
        return self.collective_received_bytes

    @property
    def notes(self) -> tuple[str, ...]:
        """What sets this device apart, in words."""
        out = [f"alone holds {name} (maximal sharding)" for name in self.pinned]
        if self.padding_bytes:
            out.append(f"pads {self.padding_bytes} B of uneven shards")
        return tuple(out)

    @property
    def estimated_s(self) -> float | None:
        parts = [p for p in (self.compute_s, self.memory_s, self.collective_s) if p is not None]
        return sum(parts) if parts else None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "global_id": self.global_id,
            "coords": list(self.coords),
            "flops": self.flops,
            "memory_bytes": self.memory_bytes,
            "compute_s": self.compute_s,
            "memory_s": self.memory_s,
            "collective_s": self.collective_s,
            "estimated_s": self.estimated_s,
            "collective_sent_bytes": self.collective_sent_bytes,
            "collective_received_bytes": self.collective_received_bytes,
            "collective_bytes_by_axis": dict(self.collective_bytes_by_axis),
            "received_bytes_by_axis": dict(self.received_bytes_by_axis),
            "collectives": self.collectives,
            "padding_bytes": self.padding_bytes,
            "pinned": list(self.pinned),
            "peak_bytes": self.peak_bytes,
        }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CommMatrix:
    """Bytes sent from device to device per step, sparse (only pairs that talk)."""

    num_devices: int
    src: IntArray = field(repr=False)
    dst: IntArray = field(repr=False)
    bytes: FloatArray = field(repr=False)

    def __len__(self) -> int:
        return int(self.src.shape[0])

    @property
    def total_bytes(self) -> float:
        return float(self.bytes.sum())

    def top(self, k: int) -> list[tuple[int, int, float]]:
        import numpy as np

        order = np.argsort(-self.bytes, kind="stable")[:k]
        return [(int(self.src[i]), int(self.dst[i]), float(self.bytes[i])) for i in order]

    def row(self, device: int) -> FloatArray:
        """Bytes `device` sends to each device (a dense row; entries are sorted by source)."""
        import numpy as np

        lo = int(np.searchsorted(self.src, device, side="left"))
        hi = int(np.searchsorted(self.src, device, side="right"))
        out = np.zeros(self.num_devices, dtype=np.float64)
        out[self.dst[lo:hi]] = self.bytes[lo:hi]
        return out

    def __getitem__(self, device: int) -> FloatArray:
        return self.row(device)

    def dense(self) -> FloatArray:
        """The full matrix (for small device counts)."""
        import numpy as np

        out = np.zeros((self.num_devices, self.num_devices), dtype=np.float64)
        out[self.src, self.dst] = self.bytes
        return out

    def to_json(self, *, limit: int | None = 10_000) -> dict[str, Any]:
        n = len(self)
        rows = self.top(n if limit is None else min(n, limit))
        return {
            "num_devices": self.num_devices,
            "pairs": n,
            "total_bytes": self.total_bytes,
            "entries": [{"src": s, "dst": d, "bytes": b} for s, d, b in rows],
            "truncated": limit is not None and n > limit,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DevicesReport:
    devices: tuple[DeviceBreakdown, ...]
    comm_matrix: CommMatrix
    axis_names: tuple[str, ...]
    axis_sizes: tuple[int, ...]
    mesh_inferred: bool
    uniform: bool
    """True when every device has the same figures (no differences found)."""
    differences: tuple[str, ...]
    """Where devices differ, in words."""
    by_axis: Mapping[str, float]
    """Bytes sent per step by the busiest device, per mesh-axis label."""
    hardware: str | None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "axis_names": list(self.axis_names),
            "axis_sizes": list(self.axis_sizes),
            "mesh_inferred": self.mesh_inferred,
            "hardware": self.hardware,
            "uniform": self.uniform,
            "differences": list(self.differences),
            "by_axis": dict(self.by_axis),
            "devices": [d.to_json() for d in self.devices],
            "comm_matrix": self.comm_matrix.to_json(),
            "notes": list(self.notes),
        }


# --- traffic per device and the matrix --------------------------------------------------------


class _Accumulator:
    def __init__(self, n: int) -> None:
        import numpy as np

        self.n = n
        self.sent = np.zeros(n)
        self.received = np.zeros(n)
        self.seconds = np.zeros(n)
        self.member = np.zeros(n, dtype=np.int64)
        self.sent_by: dict[str, FloatArray] = {}
        self.recv_by: dict[str, FloatArray] = {}
        # Edge sets by (algorithm family, groups or pairs): collectives over the same groups
        # share one set and add their bytes to its weight.
        self._edges_of: dict[tuple[Any, ...], tuple[IntArray, IntArray]] = {}
        self._weight: dict[tuple[Any, ...], float] = {}

    def axis(self, label: str) -> tuple[FloatArray, FloatArray]:
        import numpy as np

        if label not in self.sent_by:
            self.sent_by[label] = np.zeros(self.n)
            self.recv_by[label] = np.zeros(self.n)
        return self.sent_by[label], self.recv_by[label]

    def add(self, c: Collective) -> None:
        import numpy as np

        if c.pairs or c.kind in ("collective-permute", "send", "recv"):
            arr = np.asarray(c.pairs, dtype=np.int64).reshape(-1, 2)
            arr = arr[(arr[:, 0] != arr[:, 1]) & (arr < self.n).all(axis=1)]
            senders, receivers = arr[:, 0], arr[:, 1]
            members = np.unique(arr)
            self._edges(("pairs", c.pairs), lambda: (senders, receivers), c.sent_bytes * c.count)
        else:
            groups = _rect(c.groups)
            if groups.size == 0 or groups.shape[1] < 2 or c.sent_bytes == 0:
                return
            groups = groups[(groups < self.n).all(axis=1)]
            senders = receivers = members = groups.reshape(-1)
            per_edge = c.sent_bytes * c.count
            if c.kind in ("all-to-all", "ragged-all-to-all"):
                per_edge = c.sent_bytes * c.count / max(1, groups.shape[1] - 1)
            self._edges((_family(c.kind), c.groups), lambda: _group_edges(c.kind, groups), per_edge)
        sent_ax, recv_ax = self.axis(c.axes_label)
        # bincount, not np.add.at: ~20x faster, and a device appears once per group.
        out_n = np.bincount(senders, minlength=self.n)[: self.n] * (c.sent_bytes * c.count)
        in_n = np.bincount(receivers, minlength=self.n)[: self.n] * (c.received_bytes * c.count)
        self.sent += out_n
        self.received += in_n
        sent_ax += out_n
        recv_ax += in_n
        hits = np.bincount(members, minlength=self.n)[: self.n] > 0
        self.member += hits
        if c.total_s is not None:
            self.seconds += hits * c.total_s

    def _edges(self, key: tuple[Any, ...], make: Any, weight: float) -> None:
        if key not in self._edges_of:
            self._edges_of[key] = make()
            self._weight[key] = 0.0
        self._weight[key] += weight

    def matrix(self) -> CommMatrix:
        import numpy as np

        if not self._edges_of:
            empty = np.zeros(0, dtype=np.int64)
            return CommMatrix(num_devices=self.n, src=empty, dst=empty, bytes=np.zeros(0))
        keys_ = list(self._edges_of)
        src = np.concatenate([self._edges_of[k][0] for k in keys_])
        dst = np.concatenate([self._edges_of[k][1] for k in keys_])
        weight = np.concatenate(
            [np.full(self._edges_of[k][0].shape[0], self._weight[k]) for k in keys_]
        )
        keys = src * self.n + dst
        uniq, inverse = np.unique(keys, return_inverse=True)
        sums = np.bincount(inverse, weights=weight).astype(np.float64)
        keep = sums > 0
        return CommMatrix(
            num_devices=self.n,
            src=(uniq // self.n)[keep],
            dst=(uniq % self.n)[keep],
            bytes=sums[keep],
        )


def _rect(groups: tuple[tuple[int, ...], ...]) -> IntArray:
    import numpy as np

    if not groups:
        return np.zeros((0, 0), dtype=np.int64)
    size = max(len(g) for g in groups)
    # Ragged groups (rare): pad with the group's first id, which adds no new pair.
    return (
        np.asarray([tuple(g) + (g[0],) * (size - len(g)) for g in groups], dtype=np.int64)
        if any(len(g) != size for g in groups)
        else np.asarray(groups, dtype=np.int64)
    )


def _family(kind: str) -> str:
    if kind in ("all-to-all", "ragged-all-to-all"):
        return "pairwise"
    return "tree" if kind == "collective-broadcast" else "ring"


def _group_edges(kind: str, groups: IntArray) -> tuple[IntArray, IntArray]:
    """Edges of the algorithm model inside each group ([G, S] ids)."""
    import numpy as np

    size = groups.shape[1]
    if kind in ("all-to-all", "ragged-all-to-all"):
        i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        off = i != j
        return groups[:, i[off]].reshape(-1), groups[:, j[off]].reshape(-1)
    if kind == "collective-broadcast":
        src_idx, dst_idx = [], []
        step = 1
        while step < size:
            for k in range(min(step, size - step)):
                src_idx.append(k)
                dst_idx.append(k + step)
            step *= 2
        return groups[:, src_idx].reshape(-1), groups[:, dst_idx].reshape(-1)
    # rings: each member sends to the next one of its group
    return groups.reshape(-1), np.roll(groups, -1, axis=1).reshape(-1)


# --- where devices differ ----------------------------------------------------------------------


def _pinned(module: Module, n: int) -> dict[int, list[str]]:
    """Values whose sharding is maximal (held by one device)."""
    out: dict[int, list[str]] = {}
    entry = module.entry_computation
    for ins in entry.instructions:
        if ins.sharding is None or not (ins.opcode == "parameter" or ins.is_root):
            continue
        for i, s in enumerate(_leaves(ins.sharding)):
            if s.kind is ShardingKind.MAXIMAL and s.device is not None and s.device < n:
                label = ins.op_name or ins.name
                suffix = f"[{i}]" if ins.sharding.kind is ShardingKind.TUPLE else ""
                out.setdefault(s.device, []).append(label + suffix)
    return out


def _leaves(s: Sharding) -> list[Sharding]:
    if s.kind is ShardingKind.TUPLE:
        return [x for e in s.tuple_elements for x in _leaves(e)]
    return [s]


def _padding(infos: Sequence[ShardingInfo], n: int) -> tuple[IntArray, list[str]]:
    """Padding bytes per device over the capture's input/output shardings, and the values
    whose split is uneven."""
    import numpy as np

    from hloscope.hlo.model import ELEMENT_BITS
    from hloscope.hlo.sharding import parse_sharding
    from hloscope.hlo.shards import GeometryError, shard_table

    pad = np.zeros(n, dtype=np.int64)
    uneven: list[str] = []
    for info in infos:
        if not info.hlo or not info.shape:
            continue
        etype, dims = _shape_of(info.shape)
        bits = ELEMENT_BITS.get(etype, 0)
        if dims is None or not bits:
            continue
        try:
            table = shard_table(dims, parse_sharding(info.hlo), num_devices=n)
        except (GeometryError, ValueError):
            continue
        tile = 1
        for t in table.tile_shape:
            tile *= t
        padded = (tile - table.valid_elements) * max(bits, 8) // 8
        if padded.any():
            np.add.at(pad, table.devices[table.devices < n], padded[table.devices < n])
            uneven.append(f"{info.spec or info.hlo} on {info.shape}")
    return pad, uneven


def _shape_of(text: str) -> tuple[str, tuple[int, ...] | None]:
    """`f32[8,128]` -> ('f32', (8, 128))."""
    head, _, rest = text.partition("[")
    if not rest:
        return head, ()
    body = rest.split("]", 1)[0]
    try:
        return head, tuple(int(x) for x in body.split(",") if x.strip())
    except ValueError:
        return head, None


# --- the pass --------------------------------------------------------------------------------


def run(
    module: Module,
    *,
    sharding: ShardingReport,
    cost: CostReport | None = None,
    roofline: RooflineReport | None = None,
    shardings: Sequence[ShardingInfo] = (),
    peak_bytes: int | None = None,
) -> DevicesReport:
    """Per-device breakdown of a partitioned `module`.

    `sharding`: the collectives (`passes.sharding.run`); `cost`: FLOPs and bytes per step;
    `roofline`: compute / memory seconds on the chosen hardware; `shardings`: the capture's
    input and output shardings with global shapes (for padding of uneven splits);
    `peak_bytes`: the memory pass's peak."""
    import numpy as np

    mesh = sharding.mesh
    n = sharding.num_devices
    acc = _Accumulator(n)
    for c in sharding.collectives:
        acc.add(c)
    pinned = _pinned(module, n)
    pad, uneven = _padding(shardings, n)
    flops = cost.executed.flops if cost is not None else None
    mem_bytes = cost.executed.bytes_accessed if cost is not None else None
    compute_s = roofline.compute_s if roofline is not None else None
    memory_s = roofline.memory_s if roofline is not None else None
    timed = sharding.total_s is not None
    ids = np.arange(n, dtype=np.int64)
    coords = mesh.coords_of(ids).tolist() if mesh.axis_sizes else [[] for _ in range(n)]
    labels = sorted(acc.sent_by)
    sent_cols = {k: acc.sent_by[k].tolist() for k in labels}
    recv_cols = {k: acc.recv_by[k].tolist() for k in labels}
    sent, recv = acc.sent.tolist(), acc.received.tolist()
    secs, member, pads = acc.seconds.tolist(), acc.member.tolist(), pad.tolist()
    devices = tuple(
        DeviceBreakdown(
            id=i,
            global_id=mesh.global_id(i),
            coords=tuple(coords[i]),
            flops=flops,
            memory_bytes=mem_bytes,
            compute_s=compute_s,
            memory_s=memory_s,
            collective_s=secs[i] if timed else None,
            collective_sent_bytes=sent[i],
            collective_received_bytes=recv[i],
            collective_bytes_by_axis={k: sent_cols[k][i] for k in labels},
            received_bytes_by_axis={k: recv_cols[k][i] for k in labels},
            collectives=member[i],
            padding_bytes=pads[i],
            pinned=tuple(pinned.get(i, ())),
            peak_bytes=peak_bytes,
        )
        for i in range(n)
    )
    differences = _differences(acc, pad, uneven, pinned, n)
    notes = [SPMD_NOTE, *sharding.notes]
    if not shardings:
        notes.append(
            "no global input/output shapes (bare HLO): padding of uneven shards is not computed"
        )
    return DevicesReport(
        devices=devices,
        comm_matrix=acc.matrix(),
        axis_names=mesh.axis_names,
        axis_sizes=mesh.axis_sizes,
        mesh_inferred=mesh.inferred,
        uniform=not differences,
        differences=tuple(differences),
        by_axis={k: float(acc.sent_by[k].max()) for k in labels},
        hardware=sharding.hardware,
        notes=tuple(notes),
    )


def _differences(
    acc: _Accumulator, pad: IntArray, uneven: list[str], pinned: Mapping[int, list[str]], n: int
) -> list[str]:
    import numpy as np

    out: list[str] = []
    if n > 1 and (np.ptp(acc.sent) > 0 or np.ptp(acc.received) > 0):
        lo, hi = int(np.argmin(acc.sent)), int(np.argmax(acc.sent))
        out.append(
            f"collective traffic differs: device {hi} sends {acc.sent[hi]:,.0f} B per step, "
            f"device {lo} {acc.sent[lo]:,.0f} B (group membership and permute pairs)"
        )
    if n > 1 and np.ptp(acc.member) > 0:
        out.append(
            f"devices take part in {int(acc.member.min())} to {int(acc.member.max())} collectives"
        )
    if pad.any():
        holders = int((pad > 0).sum())
        out.append(
            f"uneven shards: {holders} device(s) pad up to {int(pad.max())} B "
            f"({'; '.join(uneven[:3])})"
        )
    for dev, names in sorted(pinned.items()):
        out.append(f"device {dev} alone holds {', '.join(names[:4])} (maximal sharding)")
    return out
