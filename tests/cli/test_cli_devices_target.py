"""`hloscope dump BUNDLE --view devices` on a capture with a target: the target's devices
(kind, chip coordinates, host, slice) beside the mesh, and traffic across hosts told apart.
The bundle is written here from a hand-made capture (no jax, no libtpu); the real TPU / GPU
captures are checked in tests/capture/test_targets.py when the extras are installed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from hloscope.hlo import parse_file, print_module
from hloscope.records import Capture, DeviceInfo, MeshInfo, TargetInfo

Run = Callable[..., subprocess.CompletedProcess[str]]

DATA = Path(__file__).resolve().parent.parent / "data"
GPU = "NVIDIA H100 80GB HBM3"
# Mesh position (data d, model m) holds global device d + 4m: model pairs straddle the hosts.
ACROSS = MeshInfo(
    axis_names=("data", "model"), axis_sizes=(4, 2), device_ids=(0, 4, 1, 5, 2, 6, 3, 7)
)


def gpu_target() -> TargetInfo:
    """Two hosts of four, as the CUDA plugin reports them: coords (slice, host, index)."""
    return TargetInfo(
        name="h100x8,host=4",
        platform="cuda",
        topology="1x2x4",
        chips_per_host=(4,),
        devices=tuple(
            DeviceInfo(id=g, kind=GPU, coords=(0, g // 4, g % 4), process_index=g // 4)
            for g in range(8)
        ),
        hardware="h100-sxm",
    )


def _bundle(tmp_path: Path) -> Path:
    module = parse_file(DATA / "collectives_demo.hlo")
    cap = Capture(
        name="collectives_demo",
        origin="test",
        hlo=print_module(module),
        mesh=ACROSS,
        platform="cuda",
        device_kind=GPU,
        device_count=8,
        target=gpu_target(),
    )
    return cap.save(tmp_path / "demo.hlos")


def test_devices_view_shows_the_targets_devices(hloscope: Run, tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    proc = hloscope("dump", path, "--view", "devices")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout
    assert f"target h100x8,host=4 · {GPU} · topology 1x2x4 · 2 hosts of 4 · 1 slice" in out
    assert "links: 2 hosts · within a host nvlink4 (intra), across infiniband-ndr (inter)" in out
    assert "where each device is (mesh → 1x2x4)" in out
    lines = out.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("device  id"))
    assert lines[head].split() == [
        "device",
        "id",
        "mesh",
        "data,model",
        "chip",
        "host",
        "slice",
        "sent",
        "across",
        "hosts",
    ]
    # logical device 1 is mesh (0,1): global device 4, the first GPU of host 1.
    assert lines[head + 2].split()[:6] == ["1", "4", "0,1", "0,1,0", "1", "0"]
    assert "model 4 KiB (4 KiB across hosts)" in out
    # The whole matrix (8 devices fit): cells across hosts are marked.
    assert "* crosses hosts" in out
    row0 = next(ln for ln in lines if ln.split()[:1] == ["0"] and "·" in ln)
    assert row0.split()[1:3] == ["·", "4.00*"]  # 0 -> 1: the model pair, host 0 -> 1


def test_busiest_pairs_name_their_link(hloscope: Run, tmp_path: Path) -> None:
    # Too narrow for the whole matrix: the busiest pairs, each with its hosts.
    proc = hloscope("dump", _bundle(tmp_path), "--view", "devices", env={"COLUMNS": "60"})
    assert proc.returncode == 0, proc.stderr
    rows = [ln.split() for ln in proc.stdout.splitlines()]
    link = {(r[0], r[1]): " ".join(r[-2:]) for r in rows if len(r) == 6 and r[-2] == "host"}
    assert link[("0", "1")] == "host 0→1"  # the model pair
    assert link[("1", "0")] == "host 1→0"
    assert link[("0", "2")] == "host 0"  # the data ring stays in host 0


def test_devices_json_has_places_and_the_split(hloscope: Run, tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    proc = hloscope("dump", path, "--view", "devices", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    d1 = doc["devices"][1]
    assert (d1["global_id"], d1["coords"], d1["physical_coords"]) == (4, [0, 1], [0, 1, 0])
    assert (d1["process_index"], d1["slice_index"], d1["kind"]) == (1, 0, GPU)
    assert d1["inter_bytes_by_axis"]["model"] == 4096
    assert d1["inter_bytes_by_axis"]["data"] == 0
    assert d1["compute_s"] is not None
    assert d1["flop_s"] > 0
    summary = doc["devices_summary"]
    assert (summary["target"], summary["link_domain"], summary["domains"]) == (
        "h100x8,host=4",
        "host",
        2,
    )
    assert summary["hosts"] == 2
    assert summary["placed"] is True
    m = doc["comm_matrix"]
    assert m["inter_bytes"] > 0
    assert m["intra_bytes"] > 0
    assert all(e["inter"] == (e["src"] % 2 != e["dst"] % 2) for e in m["entries"])
