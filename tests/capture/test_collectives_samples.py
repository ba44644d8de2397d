"""The collectives and per-device views of the transformer, moe and ring_attention samples on 8
fake CPU devices: every collective named by the capture's mesh axes, with bytes, count and a
why; devices with coordinates; the `dump` command's --json faces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hloscope
from hloscope.analysis import Analysis

SAMPLES = ("transformer", "moe", "ring_attention")

# Three compiles (~20 s on 2 cores), shared by the module's tests.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analyses() -> dict[str, Analysis]:
    return {name: hloscope.analyze(hloscope.capture(f"sample:{name}")) for name in SAMPLES}


@pytest.mark.parametrize("name", SAMPLES)
def test_every_collective_is_explained(analyses: dict[str, Analysis], name: str) -> None:
    a = analyses[name]
    r = a.sharding
    mesh = a.capture.mesh
    assert mesh is not None
    assert r.mesh.axis_names == mesh.axis_names
    assert not r.mesh.inferred
    assert r.collectives
    for c in r.collectives:
        assert c.axes, c.name
        assert set(c.axes) <= set(mesh.axis_names)
        assert c.bytes_per_device > 0
        assert c.count >= 1
        assert c.source.endswith(tuple(f".py:{n}" for n in range(1, 10_000))), c.source
        assert c.why.startswith(f"{c.kind} over `"), c.why


def test_transformer_gathers_fsdp_weights_over_data(analyses: dict[str, Analysis]) -> None:
    r = analyses["transformer"].sharding
    gathers = [c for c in r.collectives if c.kind == "all-gather" and c.axes == ("data",)]
    assert len(gathers) >= 16  # w1/w2 of 4 blocks, forward and backward
    from_params = [c for c in gathers if c.sharding_before and "data" in c.sharding_before]
    assert from_params
    for c in from_params:
        assert c.sharding_after is not None
        assert "data" not in c.sharding_after
        assert "operand sharded [" in c.why
        assert "needed by" in c.why
    # Tensor parallel partial sums over `model`.
    assert any(c.kind == "all-reduce" and c.axes == ("model",) for c in r.collectives)


def test_ring_attention_permutes_once_per_loop_step(analyses: dict[str, Analysis]) -> None:
    r = analyses["ring_attention"].sharding
    permutes = [c for c in r.collectives if c.kind == "collective-permute"]
    assert len(permutes) == 4  # K and V, forward and backward
    for c in permutes:
        assert c.axes == ("ring",)
        assert c.count == 8  # fori_loop over the 8 ring positions
        assert c.group_size == 8
        assert "neighbour" in c.why


def test_moe_dispatches_with_all_to_all(analyses: dict[str, Analysis]) -> None:
    r = analyses["moe"].sharding
    a2a = [c for c in r.collectives if c.kind == "all-to-all"]
    assert len(a2a) >= 2
    assert all(c.axes == ("expert",) and c.group_size == 8 for c in a2a)


@pytest.mark.parametrize("name", SAMPLES)
def test_devices_have_coords_and_traffic(analyses: dict[str, Analysis], name: str) -> None:
    a = analyses[name]
    d = a.devices
    assert len(d.devices) == 8
    mesh = a.capture.mesh
    assert mesh is not None
    for dev in d.devices:
        assert dev.coords == mesh.coords(dev.global_id)
        assert dev.collective_sent_bytes > 0
        assert set(dev.collective_bytes_by_axis) <= {c.axes_label for c in a.sharding.collectives}
        assert dev.flops is not None
    assert len(d.comm_matrix) > 0


def _dump(bundle: Path, view: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "hloscope", "dump", str(bundle), "--view", view, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def test_dump_json_faces(analyses: dict[str, Analysis], tmp_path: Path) -> None:
    bundle = analyses["ring_attention"].capture.save(tmp_path / "ring.hlos")
    doc = _dump(bundle, "collectives")
    assert doc["view"] == "collectives"
    for c in doc["collectives"]:
        assert c["axes"] == ["ring"]
        for key in ("kind", "group_size", "bytes_per_device", "count", "source", "why"):
            assert key in c
    devices = _dump(bundle, "devices")["devices"]
    assert [d["id"] for d in devices] == list(range(8))
    assert all("compute_s" in d and d["collective_bytes_by_axis"] for d in devices)
    sharding = _dump(bundle, "sharding")["sharding"]
    assert sharding["mesh"]["axis_names"] == ["ring"]


def test_dump_text_shows_the_matrix(analyses: dict[str, Analysis], tmp_path: Path) -> None:
    bundle = analyses["transformer"].capture.save(tmp_path / "t.hlos")
    out = subprocess.run(
        [sys.executable, "-m", "hloscope", "dump", str(bundle), "--view", "devices"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "communication matrix" in out.stdout
    assert "from\\to" in out.stdout  # the whole 8 x 8 matrix fits 80 columns
    assert "In SPMD every device runs the same program" in out.stdout
