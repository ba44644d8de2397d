"""The collectives inventory on a handwritten module (tests/data/collectives_demo.hlo, accepted
by XLA's own parser): one collective per async pair, groups -> mesh axes, bytes per kind,
trip counts, time estimates over a link, and the why sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from hloscope.hardware import Hardware, Link
from hloscope.hlo import parse, parse_file
from hloscope.passes import sharding
from hloscope.passes.sharding import Collective, ShardingReport
from hloscope.records import MeshInfo, TargetInfo

DATA = Path(__file__).resolve().parent.parent / "data"
MESH = MeshInfo(axis_names=("data", "model"), axis_sizes=(4, 2), device_ids=tuple(range(8)))


@pytest.fixture(scope="module")
def report() -> ShardingReport:
    return sharding.run(parse_file(DATA / "collectives_demo.hlo"), mesh=MESH)


def _by_name(r: ShardingReport) -> dict[str, Collective]:
    return {c.name: c for c in r.collectives}


def test_each_collective_once(report: ShardingReport) -> None:
    names = sorted(c.name for c in report.collectives)
    # all-gather-start/-done and async-start/-done are one collective each; the reduce-scatter
    # inside the async computation is not counted again.
    assert names == ["a2a", "ag-start", "ar", "ar1", "bc", "cp", "rs-start"]
    c = _by_name(report)
    assert c["rs-start"].kind == "reduce-scatter"
    assert c["rs-start"].instruction == "rs"
    assert c["rs-start"].is_async
    assert c["ag-start"].is_async
    assert not c["ar"].is_async
    assert dict(report.by_kind) == {
        "all-gather": 1,
        "all-reduce": 2,
        "all-to-all": 1,
        "collective-broadcast": 1,
        "collective-permute": 1,
        "reduce-scatter": 1,
    }


def test_groups_name_mesh_axes(report: ShardingReport) -> None:
    c = _by_name(report)
    assert c["ag-start"].axes == ("data",)  # iota [2,4]<=[4,2]T(1,0): {0,2,4,6},{1,3,5,7}
    assert c["ag-start"].groups == ((0, 2, 4, 6), (1, 3, 5, 7))
    assert c["ar"].axes == ("model",)  # explicit {{0,1},{2,3},...}
    assert c["a2a"].axes == ("data",)  # mesh['axis_0'=4,'axis_1'=2] {'axis_0'}
    assert c["bc"].axes == ("data", "model")
    assert c["bc"].axes_label == "data+model"
    assert c["cp"].axes == ("data",)  # pairs move +1 along data
    assert c["cp"].group_size == 4
    assert c["ar1"].mode == "cross-replica"  # no channel_id, one replica: a group of one
    assert c["ar1"].group_size == 1
    assert c["ar1"].bytes_per_device == 0
    assert not report.mesh.inferred


def test_bytes_per_kind(report: ShardingReport) -> None:
    c = _by_name(report)
    # all-gather ring: (n-1)/n x output; output f32[32,32] = 4096 B, n = 4.
    assert c["ag-start"].in_bytes == 1024
    assert c["ag-start"].out_bytes == 4096
    assert c["ag-start"].bytes_per_device == 3072
    # all-reduce ring: 2 (n-1)/n x B, n = 2.
    assert c["ar"].bytes_per_device == 4096
    # reduce-scatter: (n-1)/n x input (f32[64,32] = 8192 B).
    assert c["rs-start"].bytes_per_device == 6144
    assert c["rs-start"].out_bytes == 2048
    # all-to-all: (n-1)/n x input.
    assert c["a2a"].bytes_per_device == 3072
    # permute: the whole buffer to one peer.
    assert c["cp"].bytes_per_device == 2048
    assert c["bc"].bytes_per_device == 64


def test_loop_trip_count_multiplies(report: ShardingReport) -> None:
    c = _by_name(report)
    assert c["cp"].count == 4  # known_trip_count 4
    assert c["cp"].total_bytes == 4 * 2048
    assert c["ar"].count == 1
    assert report.total_bytes == sum(x.bytes_per_device * x.count for x in report.collectives)
    assert report.by_axis["data"].count == 1 + 1 + 4 + 1  # ag, a2a, cp x4, rs


def test_source_and_why(report: ShardingReport) -> None:
    c = _by_name(report)
    ag = c["ag-start"]
    # Full path in the data, as every report keeps it; the `why` prose uses the file name.
    assert ag.source == "/src/model.py:42"
    assert (ag.source_file, ag.source_line) == ("/src/model.py", 42)
    assert ag.sharding_before == "[data, replicated]"
    assert ag.sharding_after == "[replicated, replicated]"
    assert ag.why.startswith(
        "all-gather over `data`: operand sharded [data, replicated] → [replicated, replicated]"
    )
    assert "needed by dot at model.py:43" in ag.why
    assert ag.serves[0].name == "dot"
    assert ag.operand_from is not None
    assert ag.operand_from.name == "p1"
    assert "sums partial results" in c["ar"].why
    assert "from dot" in c["ar"].why
    assert "neighbour +1 along `data`" in c["cp"].why
    assert "next iteration of loop" in c["cp"].why
    assert "no data moves" in c["ar1"].why


def test_estimates_over_a_link() -> None:
    module = parse_file(DATA / "collectives_demo.hlo")
    link = Link(name="nvlink4", scope="intra", bytes_per_s=25e9, count=18, latency_s=1e-6)
    hw = Hardware(
        name="test-gpu",
        description="",
        peak_flops={"f32": 1e12},
        hbm_bytes_per_s=1e12,
        hbm_capacity_bytes=1e10,
        links=(link,),
    )
    r = sharding.run(module, mesh=MESH, hardware=hw)
    ag = _by_name(r)["ag-start"]
    # ring all-gather: (n-1) alpha + (n-1)/n B_out / bw, bw = 18 x 25 GB/s (switched fabric)
    assert ag.estimated_s == pytest.approx(3 * 1e-6 + 3072 / (18 * 25e9))
    assert ag.link == "nvlink4"
    assert ag.estimate is not None
    assert "3.07 KB" in ag.estimate
    cp = _by_name(r)["cp"]
    assert cp.total_s == pytest.approx(4 * (1e-6 + 2048 / (18 * 25e9)))
    assert r.total_s == pytest.approx(sum(c.total_s or 0.0 for c in r.collectives))


def test_groups_across_slices_use_the_inter_link() -> None:
    module = parse_file(DATA / "collectives_demo.hlo")
    ici = Link(name="ici", scope="intra", bytes_per_s=100e9, count=6)
    dcn = Link(name="dcn", scope="inter", bytes_per_s=6.25e9, count=1)
    hw = Hardware(
        name="test-tpu",
        description="",
        peak_flops={"bf16": 1e12},
        hbm_bytes_per_s=1e12,
        hbm_capacity_bytes=1e10,
        links=(ici, dcn),
    )
    # Two slices of 4 devices: 0-3 and 4-7. `model` groups ({0,1}...) stay inside a slice;
    # `data` groups ({0,2,4,6}) cross.
    target = TargetInfo(name="tpu", platform="tpu", num_slices=2)
    r = sharding.run(module, mesh=MESH, hardware=hw, target=target)
    c = _by_name(r)
    assert c["ar"].link == "ici"
    assert c["ag-start"].link == "dcn"
    # ICI is a torus: a ring over one axis drives 2 of the 6 links.
    assert c["ar"].estimated_s == pytest.approx(4096 / (2 * 100e9))


def test_gpu_hosts_split_nvlink_from_infiniband() -> None:
    module = parse_file(DATA / "collectives_demo.hlo")
    nvlink = Link(name="nvlink4", scope="intra", bytes_per_s=25e9, count=18)
    ib = Link(name="infiniband-ndr", scope="inter", bytes_per_s=50e9, count=1)
    hw = Hardware(
        name="test-gpu",
        description="",
        peak_flops={"bf16": 1e12},
        hbm_bytes_per_s=1e12,
        hbm_capacity_bytes=1e10,
        links=(nvlink, ib),
    )
    # Two hosts of 4 GPUs: ids 0-3 and 4-7.
    target = TargetInfo(name="h100x8", platform="cuda", chips_per_host=(4,))
    c = _by_name(sharding.run(module, mesh=MESH, hardware=hw, target=target))
    assert c["ar"].link == "nvlink4"  # {0,1}: one host
    assert c["ag-start"].link == "infiniband-ndr"  # {0,2,4,6}: two hosts


def test_tpu_async_collective_fusions_count_once(corpus: Path) -> None:
    module = parse_file(corpus / "generated" / "tpu_tf_v5e_2x2_L4.hlo")
    r = sharding.run(module)
    starts = [c for c in r.collectives if c.opcode == "fusion"]
    # 23 AsyncCollectiveStart fusions, each with its done twin: counted once, by the start.
    assert len(starts) == 23
    assert all(c.kind == "all-gather" and c.is_async for c in starts)
    channels = [c.channel_id for c in r.collectives if c.kind == "all-gather"]
    assert len(channels) == len(set(channels))


def test_inferred_mesh_without_a_capture() -> None:
    module = parse_file(DATA / "collectives_demo.hlo")
    r = sharding.run(module)
    # The only tiled entry sharding is [4,1,2]<=[8]: axes 4 x 2, named honestly.
    assert r.mesh.inferred
    assert r.mesh.axis_names == ("axis_0", "axis_1")
    assert r.mesh.axis_sizes == (4, 2)
    assert _by_name(r)["ar"].axes == ("axis_1",)
    assert any("inferred" in n for n in r.notes)


def test_sub_axis_groups() -> None:
    text = (DATA / "collectives_subaxis.hlo").read_text()
    mesh = MeshInfo(axis_names=("data",), axis_sizes=(16,), device_ids=tuple(range(16)))
    (c,) = sharding.run(parse(text), mesh=mesh).collectives
    # {0, 8}: the 2-way major factor of `data` (Shardy's "data":(1)2).
    assert c.axes_label == "data:(1)2"
    assert c.group_size == 2


def test_send_recv_pair_counts_once_and_host_transfers_are_marked() -> None:
    text = (DATA / "collectives_sendrecv.hlo").read_text()
    r = sharding.run(parse(text))
    kinds = sorted((c.kind, c.mode) for c in r.collectives)
    assert kinds == [("send", "cross-partition"), ("send", "host transfer")]
    peer = next(c for c in r.collectives if c.mode != "host transfer")
    assert peer.pairs == ((0, 1),)
    assert peer.bytes_per_device == 16
    host = next(c for c in r.collectives if c.mode == "host transfer")
    assert host.axes_label == "host"
    assert host.estimated_s is None


def test_json_has_the_documented_keys(report: ShardingReport) -> None:
    doc = report.to_json()
    entry = doc["collectives"][0]
    for key in ("kind", "axes", "group_size", "bytes_per_device", "count", "source", "why"):
        assert key in entry
    assert isinstance(entry["axes"], list)
    assert doc["mesh"]["axis_names"] == ["data", "model"]


def test_mesh_form_with_device_ids() -> None:
    # XLA 0.10.2 prints this form for large meshes (seen at 512 and 1024 CPU devices): mesh
    # position p holds device iota([4,2]).T(1,0).flat[p], so position (a0, a1) is device
    # 2*a1 + a0 and the groups over axis_0 are {0,1}, {2,3}, {4,5}, {6,7}. (At 512 devices the
    # same reading puts the all-gather of an embedding sharded P("model", "data") on `model`,
    # as its operand's sharding says.)
    module = parse_file(DATA / "collectives_mesh_device_ids.hlo")
    (c,) = sharding.run(module, mesh=MESH).collectives
    assert sorted(c.groups) == [(0, 1), (2, 3), (4, 5), (6, 7)]
    assert c.axes == ("model",)


def test_entry_values_keep_their_hlo_shape_spelling() -> None:
    """Per-device shapes of the entry's values as HLO spells them: bounded dynamic dims keep
    their `<=`, layouts are left out."""
    text = """HloModule m, num_partitions=2

ENTRY %main (p: s32[<=8,4], q: f32[4,2]) -> (s32[<=8,4], f32[4,2]) {
  %p = s32[<=8,4]{1,0} parameter(0), sharding={devices=[1,2]<=[2]}
  %q = f32[4,2]{1,0} parameter(1), sharding={replicated}
  ROOT %t = (s32[<=8,4]{1,0}, f32[4,2]{1,0}) tuple(%p, %q), sharding={SHARDINGS}
}
""".replace("SHARDINGS", "{devices=[1,2]<=[2]}, {replicated}")
    values = sharding.run(parse(text)).values
    assert [(v.role, v.local_shape) for v in values] == [
        ("parameter", "s32[<=8,4]"), ("parameter", "f32[4,2]"),
        ("output", "s32[<=8,4]"), ("output", "f32[4,2]"),
    ]


def test_mesh_coordinates_are_row_major_on_both_mesh_types() -> None:
    from hloscope.passes.sharding_mesh import MeshView

    info = MeshInfo(axis_names=("a", "b", "c"), axis_sizes=(2, 3, 2),
                    device_ids=tuple(reversed(range(12))))
    view = MeshView(axis_names=info.axis_names, axis_sizes=info.axis_sizes)
    assert info.size == view.size == 12
    assert view.coords(7) == (1, 0, 1)  # 7 = 1*6 + 0*2 + 1
    assert info.coords(4) == view.coords(7)  # device 4 sits at position 7
    assert [view.coords(p) for p in range(12)] == [
        (a, b, c) for a in range(2) for b in range(3) for c in range(2)
    ]
