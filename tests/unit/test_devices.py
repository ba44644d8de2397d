"""Per-device breakdown: traffic per device and per mesh axis, the sparse communication
matrix, and where devices differ (group membership, uneven shards, maximal shardings)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hloscope.hlo import parse, parse_file
from hloscope.passes import devices, sharding
from hloscope.records import MeshInfo, ShardingInfo

DATA = Path(__file__).resolve().parent.parent / "data"
MESH = MeshInfo(axis_names=("data", "model"), axis_sizes=(4, 2), device_ids=tuple(range(8)))


@pytest.fixture(scope="module")
def demo() -> devices.DevicesReport:
    module = parse_file(DATA / "collectives_demo.hlo")
    return devices.run(module, sharding=sharding.run(module, mesh=MESH))


def test_every_device_with_coords(demo: devices.DevicesReport) -> None:
    assert [d.id for d in demo.devices] == list(range(8))
    assert demo.devices[5].coords == (2, 1)
    assert demo.axis_names == ("data", "model")
    assert demo.notes[0].startswith("In SPMD every device runs the same program")


def test_bytes_per_axis(demo: devices.DevicesReport) -> None:
    d0 = demo.devices[0]
    # data: all-gather 3072 + all-to-all 3072 + reduce-scatter 6144 + permute 4 x 2048
    assert d0.collective_bytes_by_axis["data"] == 3072 + 3072 + 6144 + 4 * 2048
    assert d0.collective_bytes_by_axis["model"] == 4096
    assert d0.collective_bytes_by_axis["data+model"] == 64  # broadcast
    assert d0.collective_sent_bytes == sum(d0.collective_bytes_by_axis.values())
    assert demo.by_axis["model"] == 4096


def test_comm_matrix_follows_the_algorithms(demo: devices.DevicesReport) -> None:
    dense = demo.comm_matrix.dense()
    # all-reduce over model, ring of 2: 0 -> 1 and 1 -> 0, 4096 B each.
    assert dense[0, 1] >= 4096
    # 0 -> 2: the permute four times (trip count); the data-axis rings, where 2 follows 0 in
    # {0,2,4,6} (all-gather 3072, reduce-scatter 6144); the all-to-all's 1/3 of its 3072 to
    # each peer; and the broadcast tree from 5 over {5,0,1,2,...}: 5 -> 0, then 0 -> 2 (64).
    assert dense[0, 2] == 4 * 2048 + 3072 + 6144 + 3072 / 3 + 64
    assert dense[0, 0] == 0
    assert len(demo.comm_matrix) == int((dense > 0).sum())
    for i in range(8):
        assert demo.comm_matrix.row(i).tolist() == dense[i].tolist()


def test_maximal_sharding_pins_a_device(demo: devices.DevicesReport) -> None:
    assert demo.devices[5].pinned == ("p3",)
    assert demo.devices[5].notes == ("alone holds p3 (maximal sharding)",)
    assert any("device 5 alone holds p3" in d for d in demo.differences)
    assert not demo.uniform


def test_vectorized_figures_equal_a_plain_loop(corpus: Path) -> None:
    module = parse_file(corpus / "generated" / "tpu_tf_v5e_16x16_L4.hlo")
    s = sharding.run(module)
    r = devices.run(module, sharding=s)
    n = s.num_devices
    sent = np.zeros(n)
    received = np.zeros(n)
    for c in s.collectives:
        if c.pairs:
            for src, dst in c.pairs:
                if src != dst:
                    sent[src] += c.sent_bytes * c.count
                    received[dst] += c.received_bytes * c.count
        elif c.group_size > 1 and c.sent_bytes:
            for g in c.groups:
                for dev in g:
                    sent[dev] += c.sent_bytes * c.count
                    received[dev] += c.received_bytes * c.count
    assert [d.collective_sent_bytes for d in r.devices] == pytest.approx(sent.tolist())
    assert [d.collective_received_bytes for d in r.devices] == pytest.approx(received.tolist())
    # With no broadcasts, every device's row of the matrix sums to what it sends.
    rows = np.zeros(n)
    np.add.at(rows, r.comm_matrix.src, r.comm_matrix.bytes)
    assert rows.tolist() == pytest.approx(sent.tolist())


def test_uneven_shards_pad() -> None:
    module = parse("""HloModule m, num_partitions=4

ENTRY %e (p: f32[3,6]) -> f32[3,6] {
  ROOT %p = f32[3,6]{1,0} parameter(0), sharding={devices=[4,1]<=[4]}
}
""")
    info = ShardingInfo(hlo="{devices=[4,1]<=[4]}", shape="f32[10,6]")
    r = devices.run(module, sharding=sharding.run(module, in_shardings=(info,)), shardings=(info,))
    # 10 rows over 4: tiles of 3, device 3 holds 1 row + 2 rows of padding (2 x 6 x 4 B).
    assert [d.padding_bytes for d in r.devices] == [0, 0, 0, 48]
    assert any("uneven shards" in d for d in r.differences)


def test_a_symmetric_program_is_uniform() -> None:
    module = parse((DATA / "devices_allreduce.hlo").read_text())
    r = devices.run(module, sharding=sharding.run(module))
    assert r.uniform
    assert r.differences == ()
    assert {d.collective_sent_bytes for d in r.devices} == {2 * 3 / 4 * 64}


def test_json_keys(demo: devices.DevicesReport) -> None:
    doc = demo.to_json()
    d = doc["devices"][0]
    for key in ("id", "coords", "compute_s", "collective_bytes_by_axis"):
        assert key in d
    assert doc["comm_matrix"]["pairs"] == len(demo.comm_matrix)
