"""Deviceless targets: samples compiled for TPU topologies (libtpu) and GPU boards (the CUDA
PJRT plugin) on a machine with neither, checked against the program and against XLA.

Needs the extras (`pip install -e '.[tpu,cuda]'`); without them these tests skip and the
summary (`-ra`) says which pip command is missing. Each capture runs in a worker process
(1-12 s here).
"""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path

import pytest

import hloscope
from hloscope import compile_targets as ct
from hloscope.records import Capture

pytestmark = [pytest.mark.jax, pytest.mark.slow]

TARGETS = ("tpu-v5e:2x2", "tpu-v5p:4x4x4", "h100x8")
PROGRAMS = ("sample:mlp", "sample:transformer")
PARTITIONED = [(t, p) for t in TARGETS for p in PROGRAMS]
COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")


def _need(target: str) -> ct.TargetSpec:
    spec = ct.parse_target(target)
    why = ct.missing_backend(spec.platform)
    if why is not None:
        pytest.skip(f"{target} needs {why}")
    return spec


def _capture(target: str, program: str) -> Capture:
    _need(target)
    return hloscope.capture(program, target=target)


def _module(cap: Capture) -> hloscope.hlo.Module:
    from hloscope import hlo

    assert cap.hlo is not None
    return hlo.parse(cap.hlo)


# One test item per capture (each is a compile in a worker, 1-12 s), so pytest-xdist never
# compiles the same one twice; the checks below each say what they found wrong.


@pytest.mark.parametrize(("target", "program"), PARTITIONED)
def test_sample_on_target(target: str, program: str) -> None:
    spec = ct.parse_target(target)
    cap = _capture(target, program)
    check_recorded_target(cap, spec)
    if spec.platform == "tpu":
        check_tpu_coords_and_hosts(cap, spec)
    else:
        check_gpu_board(cap)
    check_hardware_entry(cap, spec)
    check_cost_provenance(cap, spec)
    check_entry_parameters_are_shards(cap)
    check_collectives_along_mesh_axes(cap, program)
    check_devices_view(cap, spec)


# -- what the capture records ----------------------------------------------------------------


def check_recorded_target(cap: Capture, spec: ct.TargetSpec) -> None:
    info = cap.target
    assert info is not None
    assert (info.name, info.platform, info.topology) == (spec.name, spec.platform, spec.topology)
    assert (info.chips_per_host, info.num_slices, info.hardware) == (
        spec.chips_per_host, spec.num_slices, spec.hardware,
    )
    assert cap.device_count == len(info.devices) == spec.device_count
    assert cap.device_kind == spec.device_kind
    assert {d.kind for d in info.devices} == {spec.device_kind}
    places = {(d.slice_index, d.coords, d.core_on_chip) for d in info.devices}
    assert len(places) == spec.device_count, "two devices share a physical place"
    # The mesh's devices come first, in its order: HLO device i is info.devices[i].
    assert cap.mesh is not None
    assert tuple(d.id for d in info.devices[: cap.mesh.size]) == cap.mesh.device_ids


def check_tpu_coords_and_hosts(cap: Capture, spec: ct.TargetSpec) -> None:
    info = cap.target
    assert info is not None
    grid = (*spec.dims, 1)[:3]
    assert {d.coords for d in info.devices} == {
        (x, y, z) for x in range(grid[0]) for y in range(grid[1]) for z in range(grid[2])
    }
    # A host holds a chips_per_host block of chips (libtpu's process_index).
    hosts: dict[int, set[tuple[int, ...]]] = {}
    for d in info.devices:
        block = tuple(c // h for c, h in zip(d.coords, spec.chips_per_host, strict=True))
        hosts.setdefault(d.process_index, set()).add(block)
    assert len(hosts) == spec.hosts
    assert all(len(blocks) == 1 for blocks in hosts.values()), hosts


def check_gpu_board(cap: Capture) -> None:
    info = cap.target
    assert info is not None
    # The CUDA plugin's coords are (slice, host, index on host): one board of 8.
    assert sorted(d.coords for d in info.devices) == [(0, 0, i) for i in range(8)]
    assert {d.process_index for d in info.devices} == {0}


def check_hardware_entry(cap: Capture, spec: ct.TargetSpec) -> None:
    from hloscope.hardware import default_hardware

    # What analyze(cap) uses for the roofline when no --hardware is given.
    assert default_hardware(cap).name == spec.hardware


# -- XLA's figures ---------------------------------------------------------------------------


def check_cost_provenance(cap: Capture, spec: ct.TargetSpec) -> None:
    from hloscope import _jaxapi

    assert cap.xla_cost is not None
    assert cap.hlo is not None
    carved = _jaxapi.hlo_cost_of_text(cap.hlo)
    if spec.platform == "tpu":
        # Both exist on TPU: HloCostAnalysis on the text counts the flops TPU counts, which
        # is what makes it a stand-in where the executable reports nothing (GPU).
        assert cap.xla_cost.source == "compiled.cost_analysis"
        assert carved["flops"] == cap.xla_cost.flops
    else:
        assert cap.xla_cost.source == "hlo_module_cost_analysis"
        assert cap.xla_cost.flops == carved["flops"] > 0
        assert any("HloCostAnalysis" in n for n in cap.notes), cap.notes


# -- the program, partitioned ----------------------------------------------------------------


def _tiles(hlo_sharding: str | None, rank: int) -> tuple[int, ...]:
    """Shards per dimension of an HloSharding text (`{devices=[4,1,2]<=[8]
    last_tile_dim_replicate}` -> (4, 1)); replicated / maximal -> all 1."""
    m = re.search(r"devices=\[([\d,]+)\]", hlo_sharding or "")
    if m is None:
        return (1,) * rank
    return tuple(int(n) for n in m.group(1).split(","))[:rank]


def check_entry_parameters_are_shards(cap: Capture) -> None:
    entry = _module(cap).entry_computation
    params = [entry.by_name[p].shape.dims for p in entry.parameters]
    assert len(params) == len(cap.in_shardings)
    for got, sharding in zip(params, cap.in_shardings, strict=True):
        assert sharding.shape is not None
        dims = tuple(int(d) for d in re.findall(r"\d+", sharding.shape.split("[", 1)[1]))
        want = tuple(
            math.ceil(d / t) for d, t in zip(dims, _tiles(sharding.hlo, len(dims)), strict=True)
        )
        assert got == want, f"{sharding.shape} sharded {sharding.hlo}"
    # Something really is split: the batch over `data`.
    assert any(_tiles(s.hlo, 2)[0] > 1 for s in cap.in_shardings)


def _unravel(index: int, sizes: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for s in reversed(sizes):
        out.append(index % s)
        index //= s
    return tuple(reversed(out))


def _axes_of_group(group: tuple[int, ...], sizes: tuple[int, ...]) -> frozenset[int]:
    """The mesh axes along which a replica group's devices differ (HLO device i is mesh
    position i)."""
    coords = [_unravel(d, sizes) for d in group]
    return frozenset(a for a in range(len(sizes)) if len({c[a] for c in coords}) > 1)


def check_collectives_along_mesh_axes(cap: Capture, program: str) -> None:
    assert cap.mesh is not None
    sizes, names = cap.mesh.axis_sizes, cap.mesh.axis_names
    found: dict[str, set[str]] = {}
    for _, ins in _module(cap).instructions():
        kind = next((k for k in COLLECTIVES if ins.opcode.startswith(k)), None)
        if kind is None or ins.opcode.endswith("-done") or ins.replica_groups is None:
            continue
        for group in ins.replica_groups.groups:
            axes = _axes_of_group(group, sizes)
            # A group lies along mesh axes (whole ones or a Shardy sub-axis of one): never
            # more devices than those axes hold; the groups partition the devices.
            assert 1 < len(group) <= math.prod(sizes[a] for a in axes), (ins.name, group)
            found.setdefault(kind, set()).update(names[a] for a in axes)
        members = sorted(d for g in ins.replica_groups.groups for d in g)
        assert members == list(range(cap.mesh.size)), ins.name
    # Data-parallel gradients are reduced over `data`; the transformer's tensor-parallel
    # layers also communicate over `model`.
    reduced = found.get("all-reduce", set()) | found.get("reduce-scatter", set())
    assert "data" in reduced, found
    if program == "sample:transformer":
        assert "model" in set().union(*found.values()), found


# -- the per-device view -----------------------------------------------------------------------


def check_devices_view(cap: Capture, spec: ct.TargetSpec) -> None:
    """`dump --view devices` shows the target's devices: each HLO device's chip, host and
    slice (HLO device i is mesh position i), its kind, and the links it talks over."""
    import io

    from rich.console import Console

    from hloscope.views import ViewOptions
    from hloscope.views import devices as view

    info = cap.target
    assert info is not None
    assert cap.mesh is not None
    a = hloscope.analyze(cap)
    r = a.devices
    assert (r.target, r.placed, r.hosts, r.device_kind) == (
        spec.name, True, spec.hosts, spec.device_kind,
    )
    by_id = {d.id: d for d in info.devices}
    for d in r.devices:
        assert d.global_id == cap.mesh.device_ids[d.id]
        place = by_id[d.global_id]
        assert (d.physical_coords, d.process_index, d.slice_index, d.kind) == (
            place.coords, place.process_index, place.slice_index, place.kind,
        )
    # One slice (ICI spans its hosts) or one GPU board: every byte on the intra link.
    assert (r.link_domain, r.domains) == ("slice" if spec.platform == "tpu" else "host", 1)
    assert r.comm_matrix.inter_bytes == 0
    # Compute: compute_s is the roofline's compute-bound time (0 when every kernel is
    # memory-bound); flop_s, the FLOPs at peak, is never 0 for a program with FLOPs.
    d0 = r.devices[0]
    assert d0.compute_s == a.roofline.compute_s
    assert d0.flops is not None
    assert d0.flops > 0
    assert d0.flop_s is not None
    assert d0.flop_s > 0
    out = io.StringIO()
    view.render(a, Console(file=out, width=120, color_system=None), ViewOptions(top=64))
    text = out.getvalue()
    assert f"target {spec.name} · {spec.device_kind}" in text
    # The placement table's first row: device 0, its global id, mesh coords, chip coords.
    d = r.devices[0]
    cells = [str(d.id), str(d.global_id), ",".join(map(str, d.coords)),
             ",".join(map(str, info.devices[0].coords))]
    assert any(line.split()[:4] == cells for line in text.splitlines()), text


def test_devices_split_traffic_across_two_gpu_hosts() -> None:
    _need("h100x16")
    cap = hloscope.capture("sample:mlp", target="h100x16")
    a = hloscope.analyze(cap)
    r = a.devices
    assert (r.hosts, r.link_domain, r.domains, r.placed) == (2, "host", 2, True)
    host = [d.process_index for d in r.devices]
    assert host == [0] * 8 + [1] * 8
    m = r.comm_matrix
    assert m.inter.tolist() == [host[s] != host[t] for s, t in zip(m.src, m.dst, strict=True)]
    assert 0 < m.inter_bytes < m.total_bytes
    # The same decision as the collectives' links: a label moves bytes across hosts exactly
    # when its collectives are timed on the inter-host link.
    crossing = {k for d in r.devices for k, v in d.inter_bytes_by_axis.items() if v > 0}
    timed_inter = {
        c.axes_label for c in a.sharding.collectives if c.link_scope == "inter" and c.sent_bytes
    }
    assert crossing == timed_inter
    assert crossing


# -- targets beyond the three ----------------------------------------------------------------


def test_multislice_puts_slices_on_the_first_axis() -> None:
    cap = _capture("tpu-v5e:2x2,slices=2", "sample:mlp")
    info = cap.target
    assert info is not None
    assert cap.mesh is not None
    assert info.num_slices == 2
    assert cap.device_count == 8
    by_position = {i: d.slice_index for i, d in enumerate(info.devices)}
    # data=8: the first half of the data axis on slice 0, the second on slice 1 (DCN).
    assert [by_position[i] for i in range(8)] == [0] * 4 + [1] * 4
    # libtpu compiles one slice's program (4 devices); the devices view says so rather than
    # placing the ids on chips it cannot tell apart.
    r = hloscope.analyze(cap).devices
    assert r.num_slices == 2
    assert not r.placed
    assert any("one slice's program: 4 devices" in n for n in r.notes), r.notes


def test_mesh_option_resizes_the_programs_mesh() -> None:
    _need("tpu-v5e:4x4")
    cap = hloscope.capture("sample:transformer", target="tpu-v5e:4x4", mesh="data=4,model=4")
    assert cap.mesh is not None
    assert dict(zip(cap.mesh.axis_names, cap.mesh.axis_sizes, strict=True)) == {
        "data": 4, "model": 4,
    }
    with pytest.raises(hloscope.UsageError, match="--mesh names axes x but the program's mesh"):
        hloscope.capture("sample:transformer", target="tpu-v5e:4x4", mesh="x=16")


def test_single_device_program_compiles_for_the_target() -> None:
    _need("h100")
    cap = hloscope.capture("sample:mlp", target="h100")
    assert (cap.device_count, cap.device_kind) == (1, "NVIDIA H100 80GB HBM3")


# -- the trap --------------------------------------------------------------------------------


def test_a_cpu_compile_of_a_tpu_lowering_is_refused() -> None:
    import jax
    import jax.numpy as jnp

    lowered = jax.jit(jnp.sin).trace(jax.ShapeDtypeStruct((8,), jnp.float32)).lower(
        lowering_platforms=("tpu",)
    )
    with pytest.raises(hloscope.UsageError, match="lowered for tpu but compiled by XLA for cpu"):
        hloscope.capture(lowered)


def test_a_factory_on_jax_devices_is_refused_for_a_target(tmp_path: Path) -> None:
    _need("tpu-v5e:2x2")
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import jax
        import jax.numpy as jnp
        from jax.sharding import NamedSharding, PartitionSpec as P

        def on_jax_devices():
            mesh = jax.make_mesh((1,), ("data",), devices=jax.devices()[:1])
            x = jax.ShapeDtypeStruct((8, 4), jnp.float32, sharding=NamedSharding(mesh, P()))
            return jax.jit(lambda a: a * 2).trace(x)

        def on_target_devices():
            import hloscope
            devices = hloscope.target_devices()
            mesh = jax.make_mesh((len(devices),), ("data",), devices=devices)
            x = jax.ShapeDtypeStruct((8, 4), jnp.float32, sharding=NamedSharding(mesh, P("data")))
            return jax.jit(lambda a: a * 2).trace(x)
    """))
    with pytest.raises(hloscope.UsageError, match=r"refusing the capture: .* compiled for cpu"):
        hloscope.capture(f"{script}:on_jax_devices", target="tpu-v5e:2x2")
    cap = hloscope.capture(f"{script}:on_target_devices", target="tpu-v5e:2x2")
    assert (cap.device_count, cap.device_kind) == (4, "TPU v5 lite")


def test_a_worker_that_dies_is_one_line(tmp_path: Path) -> None:
    _need("tpu-v5e:2x2")
    script = tmp_path / "die.py"
    script.write_text("import os\n\ndef die():\n    print('about to go')\n    os._exit(7)\n")
    with pytest.raises(hloscope.CaptureError, match=r"exited with 7 and no result; its last "
                       r"output: about to go$"):
        hloscope.capture(f"{script}:die", target="tpu-v5e:2x2")
