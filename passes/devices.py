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

With the capture's target (`TargetInfo`), each device also carries its place: device kind,
physical (chip) coordinates, core, host (process index) and slice; and traffic is split into
bytes on links within a link domain and bytes across domains. The domains are the sharding
pass's (`sharding._domains`: the slice on TPU, where ICI spans the hosts of a slice; the host
elsewhere, where NVLink stays in the box), so the split and the link each collective is timed
on come from one decision. A device's bytes of one collective split by the share of its
edges in the algorithm model (the matrix's edges) whose ends lie in different domains.
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
    from hloscope.passes.sharding_mesh import MeshView
    from hloscope.records import DeviceInfo, ShardingInfo, TargetInfo

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
    """Estimated seconds in network-bound collectives, on this device's own links: the
    roofline's rule per device, so compute + memory + collective is this device's step and,
    on a device that takes part in every collective, exactly the roofline's step."""
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
    flop_s: float | None = None
    """Seconds the step's FLOPs take at the hardware's peak (Σ per kernel FLOPs / peak for its
    dtype, × executions), whatever bounds each kernel. `compute_s` counts compute-bound
    kernels only, so it is 0 where every kernel is memory-bound (small programs on TPU)."""
    kind: str = ""
    """Device kind (`TPU v5 lite`, `NVIDIA H100 80GB HBM3`); from the target when known."""
    physical_coords: tuple[int, ...] = ()
    """The chip's coordinates in the target's topology (TPU x,y,z; the CUDA plugin's
    slice, host, index on host); empty when unknown (no target, or ids not placed)."""
    core_on_chip: int | None = None
    process_index: int | None = None
    """The host (process) the device belongs to, from the target."""
    slice_index: int | None = None
    inter_sent_bytes: float = 0.0
    """Bytes sent per step over links across link domains (hosts or slices; see
    `DevicesReport.link_domain`); the rest of `collective_sent_bytes` stays inside one."""
    inter_received_bytes: float = 0.0
    inter_bytes_by_axis: Mapping[str, float] = field(default_factory=dict)
    """`inter_sent_bytes` by mesh-axis label."""

    @property
    def received_bytes(self) -> float:
        return self.collective_received_bytes

    @property
    def intra_sent_bytes(self) -> float:
        return self.collective_sent_bytes - self.inter_sent_bytes

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
            "flop_s": self.flop_s,
            "kind": self.kind,
            "physical_coords": list(self.physical_coords),
            "core_on_chip": self.core_on_chip,
            "process_index": self.process_index,
            "slice_index": self.slice_index,
            "intra_sent_bytes": self.intra_sent_bytes,
            "inter_sent_bytes": self.inter_sent_bytes,
            "inter_received_bytes": self.inter_received_bytes,
            "inter_bytes_by_axis": dict(self.inter_bytes_by_axis),
        }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CommMatrix:
    """Bytes sent from device to device per step, sparse (only pairs that talk)."""

    num_devices: int
    src: IntArray = field(repr=False)
    dst: IntArray = field(repr=False)
    bytes: FloatArray = field(repr=False)
    domain: IntArray | None = field(default=None, repr=False)
    """Link domain (host or slice) of each device, when the target splits the devices into
    more than one; None: every pair talks within one domain (or the target is unknown)."""

    def __len__(self) -> int:
        return int(self.src.shape[0])

    @property
    def total_bytes(self) -> float:
        return float(self.bytes.sum())

    @property
    def inter(self) -> npt.NDArray[np.bool_]:
        """Per entry: whether the pair's ends lie in different link domains."""
        import numpy as np

        if self.domain is None:
            return np.zeros(self.src.shape[0], dtype=bool)
        return self.domain[self.src] != self.domain[self.dst]  # type: ignore[no-any-return]

    @property
    def inter_bytes(self) -> float:
        return float(self.bytes[self.inter].sum())

    def crosses(self, src: int, dst: int) -> bool:
        return self.domain is not None and bool(self.domain[src] != self.domain[dst])

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
        inter = self.inter_bytes
        return {
            "num_devices": self.num_devices,
            "pairs": n,
            "total_bytes": self.total_bytes,
            "intra_bytes": self.total_bytes - inter,
            "inter_bytes": inter,
            "entries": [
                {"src": s, "dst": d, "bytes": b, "inter": self.crosses(s, d)} for s, d, b in rows
            ],
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
    target: str | None = None
    """The capture's `--target` (`tpu-v5e:4x4`, `h100x16`), when it has one."""
    device_kind: str = ""
    topology: str = ""
    chips_per_host: tuple[int, ...] = ()
    num_slices: int = 1
    hosts: int | None = None
    """Hosts (distinct slice, process index) among the target's devices."""
    placed: bool = False
    """Whether each device's physical place (coords, host, slice) is known."""
    link_domain: str | None = None
    """What one `intra` link domain is: `slice` (TPU: ICI spans a slice's hosts) or `host`;
    None without a target."""
    domains: int = 1
    """Link domains the program's devices fall in (1: all traffic on intra links)."""
    by_axis_inter: Mapping[str, float] = field(default_factory=dict)
    """Bytes sent per step across link domains by the busiest device, per mesh-axis label."""

    def to_json(self) -> dict[str, Any]:
        return {
            "axis_names": list(self.axis_names),
            "axis_sizes": list(self.axis_sizes),
            "mesh_inferred": self.mesh_inferred,
            "hardware": self.hardware,
            "target": self.target,
            "device_kind": self.device_kind,
            "topology": self.topology,
            "chips_per_host": list(self.chips_per_host),
            "num_slices": self.num_slices,
            "hosts": self.hosts,
            "placed": self.placed,
            "link_domain": self.link_domain,
            "domains": self.domains,
            "by_axis_inter": dict(self.by_axis_inter),
            "uniform": self.uniform,
            "differences": list(self.differences),
            "by_axis": dict(self.by_axis),
            "devices": [d.to_json() for d in self.devices],
            "comm_matrix": self.comm_matrix.to_json(),
            "notes": list(self.notes),
        }


# --- traffic per device and the matrix --------------------------------------------------------


class _Accumulator:
    def __init__(self, n: int, domain: IntArray | None = None) -> None:
        import numpy as np

        self.n = n
        self.domain = domain
        self.sent = np.zeros(n)
        self.received = np.zeros(n)
        self.inter_sent = np.zeros(n)
        self.inter_received = np.zeros(n)
        self.seconds = np.zeros(n)
        self.member = np.zeros(n, dtype=np.int64)
        # (collective name, its network seconds per step on each device), for the step split.
        self.timed: list[tuple[str, FloatArray]] = []
        self.sent_by: dict[str, FloatArray] = {}
        self.recv_by: dict[str, FloatArray] = {}
        self.inter_by: dict[str, FloatArray] = {}
        # Edge sets by (algorithm family, groups or pairs): collectives over the same groups
        # share one set and add their bytes to its weight.
        self._edges_of: dict[tuple[Any, ...], tuple[IntArray, IntArray]] = {}
        self._weight: dict[tuple[Any, ...], float] = {}
        self._cross_of: dict[tuple[Any, ...], tuple[FloatArray, FloatArray]] = {}

    def axis(self, label: str) -> tuple[FloatArray, FloatArray]:
        import numpy as np

        if label not in self.sent_by:
            self.sent_by[label] = np.zeros(self.n)
            self.recv_by[label] = np.zeros(self.n)
            self.inter_by[label] = np.zeros(self.n)
        return self.sent_by[label], self.recv_by[label]

    def add(self, c: Collective) -> None:
        import numpy as np

        if c.pairs or c.kind in ("collective-permute", "send", "recv"):
            arr = np.asarray(c.pairs, dtype=np.int64).reshape(-1, 2)
            arr = arr[(arr[:, 0] != arr[:, 1]) & (arr < self.n).all(axis=1)]
            senders, receivers = arr[:, 0], arr[:, 1]
            members = np.unique(arr)
            key: tuple[Any, ...] = ("pairs", c.pairs)
            self._edges(key, lambda: (senders, receivers), c.sent_bytes * c.count)
        else:
            groups = _rect(c.groups)
            if groups.size == 0 or groups.shape[1] < 2 or c.sent_bytes == 0:
                return
            groups = groups[(groups < self.n).all(axis=1)]
            senders = receivers = members = groups.reshape(-1)
            per_edge = c.sent_bytes * c.count
            if c.kind in ("all-to-all", "ragged-all-to-all"):
                per_edge = c.sent_bytes * c.count / max(1, groups.shape[1] - 1)
            key = (_family(c.kind), c.groups)
            self._edges(key, lambda: _group_edges(c.kind, groups), per_edge)
        sent_ax, recv_ax = self.axis(c.axes_label)
        # bincount, not np.add.at: ~20x faster, and a device appears once per group.
        out_n = np.bincount(senders, minlength=self.n)[: self.n] * (c.sent_bytes * c.count)
        in_n = np.bincount(receivers, minlength=self.n)[: self.n] * (c.received_bytes * c.count)
        self.sent += out_n
        self.received += in_n
        sent_ax += out_n
        recv_ax += in_n
        if self.domain is not None:
            out_x, in_x = self._crossing(key)
            self.inter_sent += out_n * out_x
            self.inter_received += in_n * in_x
            self.inter_by[c.axes_label] += out_n * out_x
        hits = np.bincount(members, minlength=self.n)[: self.n] > 0
        self.member += hits
        if c.total_s is not None:
            self.seconds += hits * c.total_s
            self.timed.append((c.name, (hits * c.total_s).astype(np.float64)))

    def _edges(self, key: tuple[Any, ...], make: Any, weight: float) -> None:
        if key not in self._edges_of:
            self._edges_of[key] = make()
            self._weight[key] = 0.0
        self._weight[key] += weight

    def _crossing(self, key: tuple[Any, ...]) -> tuple[FloatArray, FloatArray]:
        """Per device, the share of its outgoing and of its incoming edges (of this edge set)
        that cross link domains; 0 where it has none."""
        import numpy as np

        if key not in self._cross_of:
            assert self.domain is not None
            src, dst = self._edges_of[key]
            cross = self.domain[src] != self.domain[dst]
            shares = []
            for ends in (src, dst):
                total = np.bincount(ends, minlength=self.n)[: self.n].astype(np.float64)
                crossing = np.bincount(ends[cross], minlength=self.n)[: self.n]
                shares.append(np.divide(crossing, total, out=np.zeros(self.n), where=total > 0))
            self._cross_of[key] = (shares[0], shares[1])
        return self._cross_of[key]

    def matrix(self) -> CommMatrix:
        import numpy as np

        if not self._edges_of:
            empty = np.zeros(0, dtype=np.int64)
            return CommMatrix(
                num_devices=self.n, src=empty, dst=empty, bytes=np.zeros(0), domain=self.domain
            )
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
            domain=self.domain,
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


# --- where devices are ----------------------------------------------------------------------


def _placement(
    mesh: MeshView, target: TargetInfo | None, n: int, host_transfers: int
) -> tuple[list[DeviceInfo | None], str | None]:
    """The target's device at each logical id, and a note when they cannot be matched.

    Logical id i is mesh position i (jax's device assignment is the mesh's devices in order),
    so only the capture's own mesh maps ids to devices: an inferred mesh names no devices.
    (`MeshView.global_id` is the id itself where the mesh's ids equal the positions.)"""
    if target is None or not target.devices:
        return [None] * n, None
    if mesh.inferred and target.num_slices > 1 and n * target.num_slices == len(target.devices):
        # libtpu compiles a multislice program per slice; what crosses slices leaves as
        # send/recv to the host (megascale runtime).
        return [None] * n, (
            f"this HLO is one slice's program: {n} devices, run by each of {target.name}'s "
            f"{target.num_slices} slices; the {host_transfers} host transfers (send/recv) "
            "carry what crosses slices and are not in the matrix; the physical device behind "
            "each id in a slice is not recorded"
        )
    if mesh.inferred:
        return [None] * n, (
            f"the program's {n} devices are not matched to {target.name}'s "
            f"{len(target.devices)} (the capture's mesh does not cover them): physical "
            "places and host / slice links are not shown"
        )
    by_id = {d.id: d for d in target.devices}
    out = [by_id.get(mesh.global_id(i)) for i in range(n)]
    if any(d is None for d in out):
        return [None] * n, (
            f"the mesh names devices {target.name} does not have: physical places and "
            "host / slice links are not shown"
        )
    return out, None


def _link_domains(
    mesh: MeshView, target: TargetInfo | None, n: int, placed: bool
) -> IntArray | None:
    """The sharding pass's link domains (the same decision that picks each collective's
    link), or None when all devices share one or the devices are not placed."""
    from hloscope.passes.sharding import _domains

    if target is None or not placed:
        return None
    domain = _domains(mesh, target, n)
    if domain is None or (domain < 0).any() or len(set(domain.tolist())) < 2:
        return None
    return domain


def _hosts(target: TargetInfo) -> int | None:
    if not target.devices:
        return None
    return len({(d.slice_index, d.process_index) for d in target.devices})


def _step_split(
    roofline: RooflineReport, timed: Sequence[tuple[str, FloatArray]], n: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per device, the roofline's compute / memory / collective seconds with each collective
    re-decided on that device's own network time: the roofline rule (a collective kernel takes
    max(local roofline time, network time), filed under whichever is larger) applied per
    device. A device in every group gets exactly the roofline's split, so the per-device step
    and the module step are one figure; a device outside a collective's groups keeps only the
    kernel's local time."""
    import numpy as np

    buckets = {b: np.full(n, v) for b, v in (("compute", roofline.compute_s),
                                             ("memory", roofline.memory_s),
                                             ("collective", roofline.collective_s))}
    for name, net in timed:
        est = roofline.by_kernel.get(name)
        if est is None:
            continue
        buckets[est.bound] -= est.total_s
        local = max(est.compute_s, est.memory_s) * est.count
        local_bound = "compute" if est.compute_s > est.memory_s else "memory"
        takes_net = net >= local
        buckets["collective"] += np.where(takes_net, net, 0.0)
        buckets[local_bound] += np.where(takes_net, 0.0, local)
    # Subtracting and re-adding floats leaves ~1e-19 s residues: clamp them.
    comp, mem, coll = (np.maximum(buckets[b], 0.0) for b in ("compute", "memory", "collective"))
    return comp, mem, coll


def _flop_s(roofline: RooflineReport | None) -> float | None:
    if roofline is None:
        return None
    return sum(e.compute_s * e.count for e in roofline.by_kernel.values())


# --- the pass --------------------------------------------------------------------------------


def run(
    module: Module,
    *,
    sharding: ShardingReport,
    cost: CostReport | None = None,
    roofline: RooflineReport | None = None,
    shardings: Sequence[ShardingInfo] = (),
    peak_bytes: int | None = None,
    target: TargetInfo | None = None,
) -> DevicesReport:
    """Per-device breakdown of a partitioned `module`.

    `sharding`: the collectives (`passes.sharding.run`); `cost`: FLOPs and bytes per step;
    `roofline`: compute / memory seconds on the chosen hardware; `shardings`: the capture's
    input and output shardings with global shapes (for padding of uneven splits);
    `peak_bytes`: the memory pass's peak; `target`: the capture's target (each device's
    kind, physical place, host and slice; links within a host / slice vs across)."""
    import numpy as np

    mesh = sharding.mesh
    n = sharding.num_devices
    host_transfers = sum(c.mode == "host transfer" for c in sharding.collectives)
    places, place_note = _placement(mesh, target, n, host_transfers)
    placed = target is not None and all(p is not None for p in places)
    domain = _link_domains(mesh, target, n, placed)
    acc = _Accumulator(n, domain)
    for c in sharding.collectives:
        acc.add(c)
    pinned = _pinned(module, n)
    pad, uneven = _padding(shardings, n)
    flops = cost.executed.flops if cost is not None else None
    mem_bytes = cost.executed.bytes_accessed if cost is not None else None
    timed = sharding.total_s is not None
    comp_d = mem_d = coll_d = None
    if roofline is not None:
        comp_d, mem_d, coll_d = (a.tolist() for a in _step_split(roofline, acc.timed, n))
    flop_s = _flop_s(roofline)
    ids = np.arange(n, dtype=np.int64)
    coords = mesh.coords_of(ids).tolist() if mesh.axis_sizes else [[] for _ in range(n)]
    labels = sorted(acc.sent_by)
    sent_cols = {k: acc.sent_by[k].tolist() for k in labels}
    recv_cols = {k: acc.recv_by[k].tolist() for k in labels}
    split = domain is not None
    inter_cols = {k: acc.inter_by[k].tolist() for k in labels} if split else {}
    sent, recv = acc.sent.tolist(), acc.received.tolist()
    inter_sent, inter_recv = acc.inter_sent.tolist(), acc.inter_received.tolist()
    secs, member, pads = acc.seconds.tolist(), acc.member.tolist(), pad.tolist()
    fallback_kind = target.devices[0].kind if target is not None and target.devices else ""
    devices = tuple(
        DeviceBreakdown(
            id=i,
            global_id=mesh.global_id(i),
            coords=tuple(coords[i]),
            flops=flops,
            memory_bytes=mem_bytes,
            compute_s=comp_d[i] if comp_d is not None else None,
            memory_s=mem_d[i] if mem_d is not None else None,
            collective_s=(coll_d[i] if coll_d is not None else secs[i]) if timed else None,
            collective_sent_bytes=sent[i],
            collective_received_bytes=recv[i],
            collective_bytes_by_axis={k: sent_cols[k][i] for k in labels},
            received_bytes_by_axis={k: recv_cols[k][i] for k in labels},
            collectives=member[i],
            padding_bytes=pads[i],
            pinned=tuple(pinned.get(i, ())),
            peak_bytes=peak_bytes,
            flop_s=flop_s,
            **_place_fields(places[i], fallback_kind),
            inter_sent_bytes=inter_sent[i],
            inter_received_bytes=inter_recv[i],
            inter_bytes_by_axis={k: inter_cols[k][i] for k in labels} if split else {},
        )
        for i in range(n)
    )
    link_domain = _domain_word(target)
    differences = _differences(acc, pad, uneven, pinned, n)
    if split and n > 1 and np.ptp(acc.inter_sent) > 0:
        hi, lo = int(np.argmax(acc.inter_sent)), int(np.argmin(acc.inter_sent))
        differences.append(
            f"traffic across {link_domain}s differs: device {hi} sends "
            f"{acc.inter_sent[hi]:,.0f} B per step to other {link_domain}s, device {lo} "
            f"{acc.inter_sent[lo]:,.0f} B (ring neighbours and pairs across the boundary)"
        )
    notes = [SPMD_NOTE, *sharding.notes]
    if place_note is not None:
        notes.append(place_note)
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
        target=target.name if target is not None else None,
        device_kind=_device_kind(places, fallback_kind),
        topology=target.topology if target is not None else "",
        chips_per_host=target.chips_per_host if target is not None else (),
        num_slices=target.num_slices if target is not None else 1,
        hosts=_hosts(target) if target is not None else None,
        placed=placed,
        link_domain=link_domain,
        domains=len(set(domain.tolist())) if domain is not None else 1,
        by_axis_inter={k: float(acc.inter_by[k].max()) for k in labels} if split else {},
    )


def _place_fields(d: DeviceInfo | None, kind: str) -> dict[str, Any]:
    if d is None:
        return {"kind": kind}
    return {
        "kind": d.kind or kind,
        "physical_coords": d.coords,
        "core_on_chip": d.core_on_chip,
        "process_index": d.process_index,
        "slice_index": d.slice_index,
    }


def _device_kind(places: Sequence[DeviceInfo | None], fallback: str) -> str:
    kinds = sorted({p.kind for p in places if p is not None and p.kind})
    return " + ".join(kinds) if kinds else fallback


def _domain_word(target: TargetInfo | None) -> str | None:
    """What `sharding._domains` groups devices by: slices on TPU and in multislice, hosts
    elsewhere (the label only; the grouping itself is the sharding pass's)."""
    if target is None:
        return None
    return "slice" if target.platform == "tpu" or target.num_slices > 1 else "host"


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
