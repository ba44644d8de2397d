"""Per-device views with the capture's target: each device's kind, physical coordinates, host
and slice beside its mesh coordinates, and traffic within a host / slice told apart from
traffic across them (the sharding pass's link domains). No jax: targets are written by hand
in the shape `hloscope.target_runtime` records them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hloscope
from hloscope.hardware import get_hardware
from hloscope.hlo import parse_file
from hloscope.hlo.model import Module
from hloscope.passes import devices, sharding
from hloscope.passes.sharding import Collective
from hloscope.records import Capture, DeviceInfo, MeshInfo, TargetInfo

DATA = Path(__file__).resolve().parent.parent / "data"
GPU = "NVIDIA H100 80GB HBM3"
# Mesh position (data d, model m) holds global device d + 4m: the model pairs straddle the
# two hosts {0..3} and {4..7}, the data rings stay in one. An identity mapping would give
# the opposite answer, so this checks that ids go through the mesh.
ACROSS = MeshInfo(
    axis_names=("data", "model"), axis_sizes=(4, 2), device_ids=(0, 4, 1, 5, 2, 6, 3, 7)
)
IDENTITY = MeshInfo(axis_names=("data", "model"), axis_sizes=(4, 2), device_ids=tuple(range(8)))


def gpu_target(n: int = 8, per_host: int = 4) -> TargetInfo:
    """Like the CUDA plugin's: coords (slice, host, index on host), host = process index."""
    return TargetInfo(
        name=f"h100x{n}" + (f",host={per_host}" if per_host != 8 else ""),
        platform="cuda",
        topology=f"1x{n // per_host}x{per_host}",
        chips_per_host=(per_host,),
        devices=tuple(
            DeviceInfo(
                id=g, kind=GPU, coords=(0, g // per_host, g % per_host), process_index=g // per_host
            )
            for g in range(n)
        ),
        hardware="h100-sxm",
    )


def tpu_target(slices: int = 1) -> TargetInfo:
    """v5e 4x2 per slice, hosts of 2x2 chips; ids as libtpu numbers them in multislice."""
    devs = []
    for s in range(slices):
        for y in range(2):
            for x in range(4):
                devs.append(
                    DeviceInfo(
                        id=(s + 1) * 100000 + y * 4 + x if slices > 1 else y * 4 + x,
                        kind="TPU v5 lite",
                        coords=(x, y, 0),
                        process_index=s * 2 + x // 2,
                        slice_index=s,
                    )
                )
    return TargetInfo(
        name="tpu-v5e:4x2" + (f",slices={slices}" if slices > 1 else ""),
        platform="tpu",
        topology="v5e:4x2",
        chips_per_host=(2, 2, 1),
        num_slices=slices,
        devices=tuple(devs),
        hardware="tpu-v5e",
    )


@pytest.fixture(scope="module")
def demo() -> Module:
    return parse_file(DATA / "collectives_demo.hlo")


def _run(module: Module, mesh: MeshInfo | None, target: TargetInfo | None) -> devices.DevicesReport:
    s = sharding.run(module, mesh=mesh, target=target)
    return devices.run(module, sharding=s, target=target)


# -- where each device is ----------------------------------------------------------------


def test_each_device_carries_its_place_through_the_mesh(demo: Module) -> None:
    r = _run(demo, ACROSS, gpu_target())
    assert r.placed
    assert (r.target, r.device_kind, r.topology, r.hosts) == ("h100x8,host=4", GPU, "1x2x4", 2)
    d1 = r.devices[1]  # mesh (0, 1) holds global device 4: host 1, index 0
    assert (d1.global_id, d1.coords, d1.physical_coords, d1.process_index, d1.slice_index) == (
        4,
        (0, 1),
        (0, 1, 0),
        1,
        0,
    )
    assert [d.process_index for d in r.devices] == [0, 1] * 4
    assert {d.kind for d in r.devices} == {GPU}
    doc = r.devices[1].to_json()
    assert (doc["physical_coords"], doc["process_index"], doc["kind"]) == ([0, 1, 0], 1, GPU)


def test_tpu_devices_show_chip_coords_hosts_and_one_slice(demo: Module) -> None:
    target = tpu_target()
    r = _run(demo, IDENTITY, target)
    assert r.placed
    assert [d.physical_coords for d in r.devices] == [d.coords for d in target.devices]
    assert [d.process_index for d in r.devices] == [0, 0, 1, 1, 0, 0, 1, 1]
    assert r.hosts == 2
    # ICI spans the hosts of a slice: the sharding pass puts all of it in one link domain.
    assert (r.link_domain, r.domains) == ("slice", 1)
    assert r.comm_matrix.domain is None
    assert r.comm_matrix.inter_bytes == 0
    assert all(d.inter_sent_bytes == 0 for d in r.devices)
    timed = sharding.run(demo, mesh=IDENTITY, target=target, hardware=get_hardware("tpu-v5e"))
    assert {c.link_scope for c in timed.collectives if c.link} == {"intra"}


# -- within a host vs across ---------------------------------------------------------------


def test_model_pairs_cross_hosts_data_rings_do_not(demo: Module) -> None:
    r = _run(demo, ACROSS, gpu_target())
    assert (r.link_domain, r.domains) == ("host", 2)
    for d in r.devices:
        # all-reduce over model, ring of 2 (2 x 1/2 x 4096 B): the partner is on the other host
        assert d.inter_bytes_by_axis["model"] == d.collective_bytes_by_axis["model"] == 4096
        assert d.inter_bytes_by_axis["data"] == 0
    assert r.by_axis_inter["model"] == 4096
    assert r.by_axis_inter["data"] == 0


def test_ring_edges_across_the_boundary(demo: Module) -> None:
    r = _run(demo, IDENTITY, gpu_target())
    # data rings {0,2,4,6}: 2 -> 4 and 6 -> 0 cross hosts {0..3} / {4..7}; 0 -> 2 does not.
    # The all-gather's ring sends 3/4 of 4 KiB, the reduce-scatter's 3/4 of 8 KiB.
    ag_rs = 3072 + 6144
    assert r.devices[2].inter_bytes_by_axis["data"] >= ag_rs
    assert r.devices[0].inter_bytes_by_axis["data"] < r.devices[2].inter_bytes_by_axis["data"]
    assert (
        r.devices[2].inter_bytes_by_axis["data"] - r.devices[0].inter_bytes_by_axis["data"]
        == ag_rs + 4 * 2048
    )  # and the permute 2 -> 4, four times round the loop
    assert any("traffic across hosts differs" in line for line in r.differences)
    assert not r.uniform


def _host_of(mesh: MeshInfo, target: TargetInfo) -> list[int]:
    by_id = {d.id: d.process_index for d in target.devices}
    return [by_id[g] for g in mesh.device_ids]


def _edges(c: Collective) -> list[tuple[int, int]]:
    """The algorithm model's edges, in plain Python (see `passes.devices`)."""
    if c.pairs:
        return [(s, t) for s, t in c.pairs if s != t]
    out: list[tuple[int, int]] = []
    for g in c.groups:
        n = len(g)
        if c.kind in ("all-to-all", "ragged-all-to-all"):
            out += [(a, b) for a in g for b in g if a != b]
        elif c.kind == "collective-broadcast":
            step = 1
            while step < n:
                out += [(g[k], g[k + step]) for k in range(min(step, n - step))]
                step *= 2
        else:
            out += [(g[k], g[(k + 1) % n]) for k in range(n)]
    return out


@pytest.mark.parametrize("mesh", [ACROSS, IDENTITY], ids=["across", "identity"])
def test_split_equals_a_plain_loop_over_edges(demo: Module, mesh: MeshInfo) -> None:
    target = gpu_target()
    s = sharding.run(demo, mesh=mesh, target=target)
    r = devices.run(demo, sharding=s, target=target)
    host = _host_of(mesh, target)
    n = s.num_devices
    inter_sent, inter_recv = np.zeros(n), np.zeros(n)
    for c in s.collectives:
        edges = _edges(c)
        if not edges or (not c.pairs and (c.group_size < 2 or c.sent_bytes == 0)):
            continue
        for v in range(n):
            out = [(a, b) for a, b in edges if a == v]
            inn = [(a, b) for a, b in edges if b == v]
            times_sent = len(out) if c.pairs else sum(v in g for g in c.groups)
            times_recv = len(inn) if c.pairs else times_sent
            if out:
                share = sum(host[a] != host[b] for a, b in out) / len(out)
                inter_sent[v] += c.sent_bytes * c.count * times_sent * share
            if inn:
                share = sum(host[a] != host[b] for a, b in inn) / len(inn)
                inter_recv[v] += c.received_bytes * c.count * times_recv * share
    assert [d.inter_sent_bytes for d in r.devices] == pytest.approx(inter_sent.tolist())
    assert [d.inter_received_bytes for d in r.devices] == pytest.approx(inter_recv.tolist())
    for d in r.devices:
        assert sum(d.inter_bytes_by_axis.values()) == pytest.approx(d.inter_sent_bytes)
        assert 0 <= d.inter_sent_bytes <= d.collective_sent_bytes + 1e-9
    # The matrix: an entry crosses exactly when its ends are on different hosts.
    m = r.comm_matrix
    want = [host[a] != host[b] for a, b in zip(m.src.tolist(), m.dst.tolist(), strict=True)]
    assert m.inter.tolist() == want
    assert any(want)
    assert not all(want)
    assert m.inter_bytes == pytest.approx(float(m.bytes[np.asarray(want)].sum()))
    doc = m.to_json()
    assert doc["inter_bytes"] + doc["intra_bytes"] == pytest.approx(doc["total_bytes"])
    assert [e["inter"] for e in doc["entries"]] == [
        host[e["src"]] != host[e["dst"]] for e in doc["entries"]
    ]


# -- when devices cannot be placed ---------------------------------------------------------


def test_an_inferred_mesh_places_nothing(demo: Module) -> None:
    r = _run(demo, None, gpu_target())
    assert not r.placed
    assert r.domains == 1
    assert all(d.physical_coords == () and d.process_index is None for d in r.devices)
    assert {d.kind for d in r.devices} == {GPU}
    assert any("not matched to h100x8,host=4's 8" in n for n in r.notes)


def test_a_mesh_naming_unknown_devices_places_nothing(demo: Module) -> None:
    mesh = MeshInfo(
        axis_names=("data", "model"), axis_sizes=(4, 2), device_ids=tuple(range(10, 18))
    )
    r = _run(demo, mesh, gpu_target())
    assert not r.placed
    assert any("names devices h100x8,host=4 does not have" in n for n in r.notes)


def test_a_multislice_program_is_one_slices(demo: Module) -> None:
    # libtpu compiles multislice per slice: 8 devices in the HLO, 16 in the target.
    target = tpu_target(slices=2)
    r = _run(demo, None, target)
    assert not r.placed
    assert (r.num_slices, r.hosts) == (2, 4)
    assert any("one slice's program: 8 devices, run by each of" in n for n in r.notes)


def test_no_target_no_places(demo: Module) -> None:
    r = _run(demo, IDENTITY, None)
    assert (r.target, r.placed, r.link_domain, r.domains) == (None, False, None, 1)
    assert r.devices[0].to_json()["physical_coords"] == []


# -- compute time ----------------------------------------------------------------------------


def test_compute_s_counts_compute_bound_kernels_flop_s_every_flop(demo: Module) -> None:
    from hloscope.hlo import print_module

    cap = Capture(
        name="demo",
        hlo=print_module(demo),
        mesh=IDENTITY,
        platform="tpu",
        device_kind="TPU v5 lite",
        device_count=8,
        target=tpu_target(),
    )
    a = hloscope.analyze(cap, "tpu-v5e")
    d = a.devices.devices[0]
    roof = a.roofline
    assert d.compute_s == roof.compute_s
    assert d.memory_s == roof.memory_s
    assert d.flop_s == pytest.approx(sum(e.compute_s * e.count for e in roof.by_kernel.values()))
    # Every kernel of this small program is memory-bound on v5e (ridge ~240 FLOP/B), so no
    # time is compute-bound, while its FLOPs still take time at peak.
    assert all(e.bound != "compute" for e in roof.by_kernel.values())
    assert d.compute_s == 0
    assert d.flops is not None
    assert d.flops > 0
    assert d.flop_s == pytest.approx(d.flops / a.hardware.peak_for("f32")[0], rel=1e-6)
    # Analysis hands the capture's target to the pass.
    assert a.devices.target == "tpu-v5e:4x2"
    assert a.devices.placed
