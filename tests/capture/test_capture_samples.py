"""Every sample is a real JAX program that captures, saves and reloads byte for byte, and shows
in its optimized HLO what the sample is about (collectives, while loops, convolutions...).

Runs with the 8 fake CPU devices tests/conftest.py sets up; all six samples are captured once
per session (about 10 s on 2 cores).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import jax
import pytest

import hloscope
from hloscope import hlo, samples
from hloscope.bundle import load_bundle, to_bytes
from hloscope.errors import UsageError
from hloscope.hlo.sharding import parse_sharding
from hloscope.records import Capture

NAMES = samples.names()


@pytest.fixture(scope="session")
def captures() -> dict[str, Capture]:
    return {name: hloscope.capture(samples.get(name).program()) for name in NAMES}


def opcodes(cap: Capture) -> Counter[str]:
    assert cap.hlo is not None
    module = hlo.parse(cap.hlo)
    return Counter(i.opcode for _, i in module.instructions())


def test_the_issue_names_six_samples_and_the_default() -> None:
    assert set(NAMES) == {"mlp", "transformer", "scan", "moe", "ring_attention", "convnet"}
    assert samples.DEFAULT == "transformer"
    for name in NAMES:
        assert samples.describe(name), name


@pytest.mark.parametrize("name", NAMES)
def test_program_is_traced_from_abstract_inputs(name: str) -> None:
    before = len(jax.live_arrays())
    traced = samples.get(name).program()
    assert isinstance(traced, jax.stages.Traced)
    assert len(jax.live_arrays()) == before, "program() allocated arrays"
    assert all(isinstance(a, jax.core.ShapedArray) for a in jax.tree.leaves(traced.in_avals))


@pytest.mark.parametrize("name", NAMES)
def test_capture_holds_every_part(captures: dict[str, Capture], name: str) -> None:
    cap = captures[name]
    sample = samples.get(name)
    assert cap.name == f"jit_{name}_step"
    assert cap.missing == (() if sample.DEVICES > 1 else ("mesh",))
    assert cap.stablehlo is not None
    assert cap.hlo is not None
    assert cap.jaxpr is not None
    # StableHLO with debug locations that point into the sample's source.
    assert "loc(" in cap.stablehlo
    assert "#loc" in cap.stablehlo
    assert "samples/" in cap.stablehlo
    # Optimized HLO with metadata and the stack-frame tables.
    for table in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
        assert f"\n{table}\n" in cap.hlo, table
    assert 'metadata={op_name="jit(' in cap.hlo
    assert cap.xla_cost is not None
    assert cap.xla_cost.flops > 0
    assert cap.xla_cost.raw["flops"] == cap.xla_cost.flops
    assert cap.xla_cost.raw["bytes accessed"] == cap.xla_cost.bytes_accessed
    mem = cap.xla_memory
    assert mem is not None
    assert mem.peak_bytes is not None
    assert mem.argument_bytes > 0
    assert mem.output_bytes > 0
    assert mem.temp_bytes > 0
    # Parameters are donated and updated in place by SGD: XLA aliases them.
    assert mem.alias_bytes > 0
    assert cap.platform == "cpu"
    assert cap.device_count == sample.DEVICES
    assert set(cap.versions) == {"jax", "jaxlib", "hloscope", "python"}
    assert cap.versions["jax"] == jax.__version__
    assert {"lower", "compile", "record"} <= set(cap.timings_s)
    assert all(v >= 0 for v in cap.timings_s.values())
    assert cap.target is not None
    assert len(cap.target.devices) == sample.DEVICES


@pytest.mark.parametrize("name", NAMES)
def test_shardings_cover_every_input_and_output(captures: dict[str, Capture], name: str) -> None:
    cap = captures[name]
    traced = samples.get(name).program()
    assert len(cap.in_shardings) == len(jax.tree.leaves(traced.in_avals))
    assert len(cap.out_shardings) == len(jax.tree.leaves(traced.out_info))
    for s in (*cap.in_shardings, *cap.out_shardings):
        assert s.hlo is not None
        assert s.hlo.startswith("{")
        assert s.shape is not None
        parse_sharding(s.hlo)  # XLA's HloSharding syntax


@pytest.mark.parametrize("name", NAMES)
def test_bundle_round_trip_is_exact(
    captures: dict[str, Capture], name: str, tmp_path: Path
) -> None:
    cap = captures[name]
    path = cap.save(tmp_path / f"{name}.hlos")
    back = hloscope.load(path)
    assert back == cap
    for part in ("stablehlo", "hlo", "jaxpr"):
        assert getattr(back, part).encode() == getattr(cap, part).encode()
    # Deterministic: saving again gives the same bytes.
    assert to_bytes(back) == path.read_bytes()
    assert load_bundle(path) == cap


def test_transformer_has_the_four_collectives_and_its_mesh(captures: dict[str, Capture]) -> None:
    cap = captures["transformer"]
    ops = opcodes(cap)
    for kind in ("all-gather", "all-reduce", "all-to-all", "collective-permute"):
        assert ops[kind] + ops[f"{kind}-start"] > 0, kind
    assert cap.mesh is not None
    assert cap.mesh.axis_names == ("data", "model")
    assert cap.mesh.axis_sizes == (4, 2)
    assert cap.mesh.axis_types == ("Auto", "Auto")
    assert sorted(cap.mesh.device_ids) == list(range(8))
    # FSDP x TP: wqkv is sharded over data and model.
    assert any(s.spec == "P('data', None, 'model', None)" for s in cap.in_shardings)


def test_scan_is_a_while_loop_with_known_trip_count(captures: dict[str, Capture]) -> None:
    cap = captures["scan"]
    assert cap.hlo is not None
    module = hlo.parse(cap.hlo)
    loops = [i for _, i in module.instructions() if i.opcode == "while"]
    assert loops
    assert {int(w.backend_config["known_trip_count"]["n"]) for w in loops} == {4}


def test_moe_is_shard_map_with_all_to_all_over_8(captures: dict[str, Capture]) -> None:
    cap = captures["moe"]
    assert cap.stablehlo is not None
    assert "sdy.manual_computation" in cap.stablehlo
    assert opcodes(cap)["all-to-all"] > 0
    assert cap.mesh is not None
    assert cap.mesh.axis_sizes == (8,)
    assert cap.device_count == 8


def test_ring_attention_is_a_ppermute_ring_over_8(captures: dict[str, Capture]) -> None:
    cap = captures["ring_attention"]
    assert cap.stablehlo is not None
    assert "sdy.manual_computation" in cap.stablehlo
    ops = opcodes(cap)
    assert ops["collective-permute"] + ops["collective-permute-start"] > 0
    assert ops["while"] > 0
    assert cap.hlo is not None
    # A ring: each device sends to the next one.
    ring = "{0,1},{1,2},{2,3},{3,4},{4,5},{5,6},{6,7},{7,0}"
    assert ring in cap.hlo


def test_convnet_has_convolution_pooling_and_normalization(captures: dict[str, Capture]) -> None:
    ops = opcodes(captures["convnet"])
    assert ops["convolution"] > 0
    assert ops["reduce-window"] > 0
    assert ops["rsqrt"] > 0


def test_capture_matches_xla_cost_analysis_of_the_same_compile() -> None:
    compiled = samples.get("mlp").program().lower().compile()
    cap = hloscope.capture(compiled)
    raw = compiled.cost_analysis()
    assert cap.xla_cost is not None
    assert cap.xla_cost.flops == raw["flops"]
    assert cap.xla_cost.transcendentals == raw["transcendentals"]
    assert cap.xla_cost.bytes_accessed == raw["bytes accessed"]
    assert dict(cap.xla_cost.raw) == {k: float(v) for k, v in raw.items()}
    stats = compiled.memory_analysis()
    assert cap.xla_memory is not None
    assert cap.xla_memory.temp_bytes == stats.temp_size_in_bytes
    assert cap.xla_memory.peak_bytes == stats.peak_memory_in_bytes
    assert cap.hlo == compiled.as_text()


@pytest.mark.parametrize(
    ("name", "devices", "mesh"),
    [
        ("transformer", 4, (2, 2)),
        ("transformer", 2, (1, 2)),
        ("moe", 4, (4,)),
        ("ring_attention", 2, (2,)),
        ("mlp", 2, (2,)),
        ("scan", 8, (8,)),
        ("convnet", 4, (4,)),
    ],
)
def test_samples_size_their_mesh_to_a_device_count(
    name: str, devices: int, mesh: tuple[int, ...]
) -> None:
    sample = samples.get(name)
    shape = sample.mesh_shape(devices)
    assert tuple(shape.values()) == mesh
    text = sample.program(devices=devices).lower().as_text()
    axes = ", ".join(f'"{k}"={v}' for k, v in shape.items())
    assert f"sdy.mesh @mesh = <[{axes}]>" in text
    assert f"mhlo.num_partitions = {devices} : i32" in text


@pytest.mark.parametrize(("name", "devices"), [("transformer", 3), ("mlp", 0)])
def test_samples_refuse_device_counts_they_cannot_use(name: str, devices: int) -> None:
    with pytest.raises(UsageError, match="device count"):
        samples.get(name).program(devices=devices)
