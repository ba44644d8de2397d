"""The diff on real captures (8 fake CPU devices): known edits to the samples are reported
precisely, and a program compiled twice reports no differences.

- FSDP -> data parallel (`hloscope.samples.transformer:data_parallel`): the FSDP all-gathers
  over `data` go, with their source lines; the other way they appear.
- a transformer without its last layer: exactly that layer's kernels and parameters go.
- f32 -> bf16: bytes halve.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hloscope
from hloscope.passes.diff import DiffReport
from hloscope.records import Capture

# Three transformer compiles (~25 s on 2 cores), shared by the module's tests.
pytestmark = pytest.mark.slow


def transformer(layers: int) -> Any:
    """The transformer sample's step with another layer count."""
    import jax

    from hloscope.samples import _blocks, _common, transformer

    shape = transformer.mesh_shape()
    mesh = _common.make_mesh(tuple(shape.values()), tuple(shape))
    c = _blocks.Config(layers=layers)
    step = jax.jit(_common.sgd_step(_blocks.unrolled_loss(mesh), name="transformer"),
                   donate_argnums=0)
    return step.trace(_blocks.params(c, mesh), *_blocks.batch(c, mesh))


@pytest.fixture(scope="module")
def fsdp() -> Capture:
    return hloscope.capture("sample:transformer")


@pytest.fixture(scope="module")
def dp() -> Capture:
    return hloscope.capture("hloscope.samples.transformer:data_parallel")


@pytest.fixture(scope="module")
def fsdp_vs_dp(fsdp: Capture, dp: Capture) -> DiffReport:
    return hloscope.diff(fsdp, dp, hardware="h100-sxm")


def test_a_capture_against_itself(fsdp: Capture) -> None:
    r = hloscope.diff(fsdp, fsdp)
    assert r.identical
    assert r.matching is not None
    assert not r.matching.unmatched_a


def test_fsdp_to_data_parallel_removes_the_gathers_over_data(
        fsdp: Capture, dp: Capture, fsdp_vs_dp: DiffReport) -> None:
    r = fsdp_vs_dp
    assert not r.identical
    before = hloscope.analyze(fsdp).sharding.collectives
    after = hloscope.analyze(dp).sharding.collectives
    # Data parallel keeps the tensor-parallel all-reduces over model and one gradient
    # all-reduce over data; everything else FSDP needed goes.
    assert {(c.kind, c.axes) for c in after} == {("all-reduce", ("model",)),
                                                  ("all-reduce", ("data",))}
    removed = r.collectives_with("removed")
    assert sorted(c.name_a or "" for c in removed) == sorted(
        c.name for c in before if c.kind != "all-reduce")
    gathers_over_data = {c.name for c in before if c.kind == "all-gather" and "data" in c.axes}
    assert len(gathers_over_data) >= 16  # w1/w2 of 4 blocks, forward and backward
    assert gathers_over_data <= {c.name_a for c in removed}
    assert all(c.axes_a and c.axes_a.startswith("data") for c in removed
               if c.name_a in gathers_over_data)
    assert all(c.source.rpartition(":")[0].endswith(".py") for c in removed)
    assert r.collectives_with("added") == ()
    # The gradient all-reduce over data stays (one op, resized), found across the rename;
    # the 21 over model are the same.
    (resized,) = r.collectives_with("resized")
    assert (resized.kind, resized.axes_a, resized.axes_b) == ("all-reduce", "data", "data")
    assert len(r.collectives) == len(removed) + 1
    assert r.total("collectives[data]").b == 1
    bytes_data = r.total("collective_bytes[data]")
    assert bytes_data.a is not None
    assert bytes_data.b is not None
    assert bytes_data.b < bytes_data.a


def test_data_parallel_to_fsdp_adds_gathers_with_their_axis(fsdp: Capture, dp: Capture) -> None:
    r = hloscope.diff(dp, fsdp, hardware="h100-sxm")
    added = {c.name_b: c for c in r.collectives_with("added")}
    truth = {c.name: c for c in hloscope.analyze(fsdp).sharding.collectives
             if c.kind != "all-reduce"}
    assert added.keys() == truth.keys()
    for name, c in added.items():
        assert (c.kind, c.axes_b) == (truth[name].kind, truth[name].axes_label)
        assert c.source
        assert c.op_name
    assert sum(c.kind == "all-gather" and c.axes_b == "data" for c in added.values()) >= 16


def test_fsdp_to_data_parallel_replicates_the_weights(fsdp_vs_dp: DiffReport) -> None:
    params = {p.label: p for p in fsdp_vs_dp.parameters}
    w1 = params["params['layers'][0]['w1']"]
    assert (w1.layout_a, w1.layout_b) == ("data, model", "-, model")
    assert w1.bytes_a is not None
    assert w1.bytes_b == 4 * w1.bytes_a  # data=4
    assert (w1.global_a, w1.global_b) == ("f32[128,512]", "f32[128,512]")
    # Only weights split over data change; the norm scales were replicated already.
    assert all("ln" not in label for label in params)
    assert all(p.status == "changed" for p in params.values())


def test_removing_a_layer_removes_its_kernels_and_parameters(fsdp: Capture) -> None:
    three = hloscope.capture(transformer(3))
    r = hloscope.diff(fsdp, three, hardware="h100-sxm")
    fusion = hloscope.analyze(fsdp).fusion

    def scopes(k: Any) -> list[str]:
        # Not XLA's own names of ops it made (`broadcast.22`), nor the combined gradient
        # all-reduce's list of every op it sums (`(a:b:...)`).
        return [s for s in k.scopes if "/" in s and ":" not in s]

    in_block3 = {k.name for k in fusion.kernels
                 if scopes(k) and all("block3" in s for s in scopes(k))}
    removed = r.kernels_with("removed")
    assert len(in_block3) > 40
    assert in_block3 <= {name for k in removed for name in k.a}
    assert r.kernels_with("added") == ()
    # What goes is the layer: the kernels removed carry the FLOPs the program lost (XLA
    # also rearranges a few kernels at the layer's boundary: the head, the gradient sums).
    lost = -(r.total("flops").delta or 0.0)
    assert lost > 0
    assert sum(k.flops_a for k in removed) == pytest.approx(lost, rel=0.01)
    gone = sorted(p.label for p in r.parameters)
    assert gone == sorted(f"params['layers'][3]['{w}']"
                          for w in ("ln1", "ln2", "w1", "w2", "wo", "wqkv"))
    assert all(p.status == "removed" for p in r.parameters)


def _elementwise(dtype: Any) -> Any:
    import jax
    import jax.numpy as jnp

    def f(x: jax.Array, y: jax.Array) -> jax.Array:
        return jnp.tanh(x) * y + 1.0

    s = jax.ShapeDtypeStruct((512, 1024), dtype)
    return jax.jit(f).trace(s, s)


def test_a_dtype_change_halves_the_bytes() -> None:
    import jax.numpy as jnp

    r = hloscope.diff(_elementwise(jnp.float32), _elementwise(jnp.bfloat16))
    assert not r.identical
    for key in ("bytes_accessed", "peak_bytes"):
        row = r.total(key)
        assert row.a is not None
        assert row.b is not None
        assert row.b * 2 == row.a, key
    assert {(p.label, p.shape_a, p.shape_b) for p in r.parameters} == {
        ("x", "f32[512,1024]", "bf16[512,1024]"), ("y", "f32[512,1024]", "bf16[512,1024]")}
    (k,) = r.kernels_with("changed")
    assert k.bytes_b * 2 == k.bytes_a


def test_the_same_program_compiled_twice_has_no_differences(
        fsdp: Capture, tmp_path: Path) -> None:
    import jax

    first = hloscope.capture("sample:mlp")
    jax.clear_caches()
    again = hloscope.capture("sample:mlp")
    assert first.timings_s != again.timings_s
    assert hloscope.diff(first, again).identical
    # The transformer (collectives, channel ids, async pairs) in a fresh process: other
    # stack frames above the program's own lines, other timings.
    out = tmp_path / "transformer.hlos"
    subprocess.run([sys.executable, "-m", "hloscope", "capture", "sample:transformer", "-o",
                    str(out)], check=True, capture_output=True, timeout=600)
    r = hloscope.diff(fsdp, out)
    assert r.identical, r.to_json()["matching"]
    assert r.matching is not None
    assert len(r.matching.a_to_b) == r.matching.instructions_a


def test_the_report_is_the_same_on_every_run(fsdp: Capture, dp: Capture,
                                             fsdp_vs_dp: DiffReport) -> None:
    import dataclasses
    import json

    from hloscope.diffing import analysis_for, side_of
    from hloscope.passes import diff as diff_pass

    # FSDP -> DP removes many all-gathers of one size (w1/w2 of each block): equal changes.
    sizes = [c.total_delta for c in fsdp_vs_dp.collectives_with("removed")]
    assert len(sizes) > len(set(sizes))
    again = hloscope.diff(fsdp, dp, hardware="h100-sxm")  # fresh analyses
    assert json.dumps(again.to_json()) == json.dumps(fsdp_vs_dp.to_json())
    # Nor does the order depend on the order the reports list collectives and kernels in.
    from hloscope.hardware import get_hardware

    hw = get_hardware("h100-sxm")
    a, b = (side_of(analysis_for(c, hw)) for c in (fsdp, dp))

    def flipped(s: Any) -> Any:
        return dataclasses.replace(
            s, fusion=dataclasses.replace(s.fusion, kernels=s.fusion.kernels[::-1]),
            sharding=dataclasses.replace(s.sharding, collectives=s.sharding.collectives[::-1]))

    def changes(r: DiffReport) -> list[Any]:
        # Within one change, kernels are named in program order (which flipping reverses).
        return [(c.status, c.what if len(c.a) + len(c.b) <= 2 else "", sorted(c.a),
                 sorted(c.b), c.flops_a, c.flops_b, c.bytes_a, c.bytes_b, c.time_a, c.time_b)
                for c in r.kernels]

    straight, turned = diff_pass.run(a, b), diff_pass.run(flipped(a), flipped(b))
    assert turned.collectives == straight.collectives
    assert changes(turned) == changes(straight)
    assert turned.lines == straight.lines
    assert json.dumps(straight.to_json()) == json.dumps(fsdp_vs_dp.to_json())

