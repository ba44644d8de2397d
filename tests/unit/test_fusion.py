"""Kernels of a hand-written module (tests/data/cost/kernels.hlo, whose costs
tests/conformance re-checks against XLA): kinds, categories, counts, sources, what moves
between kernels, and missed fusions."""

from __future__ import annotations

from pathlib import Path

import pytest

from hloscope.hlo import parse
from hloscope.passes import cost, fusion
from hloscope.passes.fusion import FusionReport, categorize, format_shape, scopes_of

DATA = Path(__file__).resolve().parent.parent / "data" / "cost"


@pytest.fixture(scope="module")
def report() -> FusionReport:
    module = parse((DATA / "kernels.hlo").read_text())
    return fusion.run(module, cost.run(module))


def test_kernel_list_in_program_order(report: FusionReport) -> None:
    # Control flow, tuples, constants and async/collective dones are not kernels.
    assert [k.name for k in report.kernels] == [
        "mm", "scaled", "relu", "ars", "rss", "res", "i1", "ex", "lt"]


def test_custom_fusion_kind_and_contents(report: FusionReport) -> None:
    mm = report.kernel("mm")
    assert (mm.kind, mm.backend_kind, mm.category) == ("kCustom", "__ynn_fusion", "matmul")
    assert mm.opcodes == ("dot",)
    assert mm.root_opcode == "dot"
    assert mm.fused == ("d",)
    assert mm.dtype == "f32"
    assert (mm.flops, mm.bytes_accessed) == (8192, 3584)
    assert [(p.name, p.shape, p.bytes) for p in mm.inputs] == [
        ("x", "f32[8,16]", 512), ("w", "f32[16,32]", 2048)]
    assert [(p.shape, p.bytes) for p in mm.outputs] == [("f32[8,32]", 1024)]


def test_loop_fusion_sources_and_scopes(report: FusionReport) -> None:
    relu = report.kernel("relu")
    assert relu.kind == "kLoop"
    assert relu.category == "elementwise"
    assert relu.opcodes == ("constant", "broadcast", "maximum")
    assert relu.sources == ("/src/model.py:11",)
    assert relu.primary_source == "/src/model.py:11"
    assert relu.scopes == ("jit(step)/layer",)


def test_counts_follow_trip_counts(report: FusionReport) -> None:
    assert report.kernel("ex").count == 3  # in the loop body
    assert report.kernel("lt").count == 4  # the condition runs once more
    assert report.kernel("mm").count == 1
    assert report.executed_kernel_count == 6 + 3 + 3 + 4


def test_async_pair_is_one_kernel_with_its_result(report: FusionReport) -> None:
    rss = report.kernel("rss")
    assert (rss.kind, rss.category) == ("async", "collective")
    assert rss.opcodes == ("reduce-scatter",)
    assert [p.shape for p in rss.outputs] == ["f32[4,32]"]
    assert report.kernel("ars").category == "collective"


def test_unfused_elementwise_between_kernels_is_a_missed_fusion(report: FusionReport) -> None:
    assert [(m.name, m.producers, m.consumers) for m in report.missed_fusions] == [
        ("scaled", ("mm",), ("relu",))]


def test_bytes_between_kernels(report: FusionReport) -> None:
    # Entry: mm->scaled, scaled->relu(x2 reads: multiply reads mm twice), relu->loop is
    # through the while (not a kernel), ars->rss, rss->res twice: each value written once
    # and read per consumer operand. Body (x3): v is a parameter, ex feeds the tuple only.
    entry = (1024 + 2 * 1024) + (1024 + 1024) + (1024 + 1024) + (512 + 2 * 512)
    assert report.bytes_between_kernels == entry


def test_per_line_totals(report: FusionReport) -> None:
    lines = report.by_source
    assert lines["/src/model.py:10"].flops == 8192
    assert lines["/src/model.py:10"].function == "layer"
    assert lines["/src/model.py:11"].flops == 512  # the multiply and the maximum
    assert lines["/src/model.py:11"].bytes_accessed == 3072 + 2048  # scaled + relu
    assert lines["/src/train.py:30"].transcendentals == 256 * 3  # x trip count
    assert set(lines["/src/model.py:11"].kernels) == {"scaled", "relu"}


def test_json_kernels_have_the_documented_keys(report: FusionReport) -> None:
    doc = report.to_json()
    keys = {"name", "kind", "flops", "bytes_accessed", "source"}
    assert all(keys <= set(k) for k in doc["kernels"])
    assert doc["kernel_count"] == 9
    assert [k["name"] for k in report.to_json(top=2)["kernels"]] == [
        k.name for k in report.largest(2)]


def test_largest_by_bytes_per_step(report: FusionReport) -> None:
    assert report.largest(1)[0].name == "ex"  # 2048 bytes x 3 trips


@pytest.mark.parametrize(("opcode", "inner", "category"), [
    ("fusion", ("dot", "add"), "matmul"),
    ("fusion", ("convolution",), "convolution"),
    ("fusion", ("reduce", "exponential"), "reduction"),
    ("fusion", ("add", "broadcast"), "elementwise"),
    ("fusion", ("transpose", "copy"), "data movement"),
    ("all-gather-start", (), "collective"),
    ("sort", (), "other"),
])
def test_categorize(opcode: str, inner: tuple[str, ...], category: str) -> None:
    assert categorize(opcode, inner) == category


def test_custom_call_gemm_is_a_matmul() -> None:
    assert categorize("custom-call", ("custom-call",), ['"__cublas$gemm"']) == "matmul"


def test_format_shape() -> None:
    from hloscope.hlo.shapes import parse_shape

    assert format_shape(parse_shape("(f32[2,3]{1,0}, s32[])")) == "(f32[2,3], s32[])"
    assert format_shape(parse_shape("f32[<=8,?]")) == "f32[<=8,?]"


def test_scopes_leave_out_names_xla_made_and_split_joined_names() -> None:
    assert scopes_of("broadcast.22") == ()  # XLA's name for an op it made: no scope
    assert scopes_of("jit(f)/jvp(block0)/mlp/dot_general") == ("jit(f)/jvp(block0)/mlp",)
    # A combined all-reduce's op_name joins the op_names of what it sums.
    assert scopes_of("jit(f)/(jvp(head)/reduce_sum:transpose(jvp(block0))/mlp/dot_general:"
                     "reduce_sum)") == ("jit(f)/jvp(head)", "jit(f)/transpose(jvp(block0))/mlp",
                                        "jit(f)")
    assert scopes_of("jit(f)/x(a:b)/add") == ("jit(f)/x(a:b)",)  # parentheses in a name


def test_kernel_scopes_are_name_scopes_only() -> None:
    text = """HloModule m

%body (p: f32[8]) -> f32[8] {
  %p = f32[8]{0} parameter(0)
  %c = f32[] constant(1)
  %b = f32[8]{0} broadcast(%c), dimensions={}, metadata={op_name="broadcast.22"}
  ROOT %a = f32[8]{0} add(%p, %b), metadata={op_name="jit(f)/layer/add"}
}

ENTRY %main (x: f32[8]) -> f32[8] {
  %x = f32[8]{0} parameter(0)
  ROOT %k = f32[8]{0} fusion(%x), kind=kLoop, calls=%body, metadata={op_name="broadcast.23"}
}
"""
    (k,) = fusion.run(parse(text)).kernels
    assert k.scopes == ("jit(f)/layer",)
