"""The diff on handwritten and corpus HLO (no jax): structural matching that ignores names and
ids, kernels split / merged / added / removed, collectives added with their axes, changed
parameters, sides without optimized HLO, the JSON document and the text."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path

import pytest

from hloscope.diffing import compare
from hloscope.hlo import parse
from hloscope.passes.diff import SCHEMA, DiffReport, strip_locations
from hloscope.passes.diff_match import match
from hloscope.records import Capture, MeshInfo

DATA = Path(__file__).resolve().parent.parent / "data"
MESH = MeshInfo(axis_names=("data", "model"), axis_sizes=(4, 2), device_ids=tuple(range(8)))

# fused.hlo: a dot, then one kernel fusing an add and a multiply. split.hlo: the same program
# with the add and the multiply in two kernels, every name different. partitioned.hlo:
# fused.hlo on 8 devices with the dot's partial sums all-reduced over `model`. (XLA's own
# parser accepts all three.)
FUSED = (DATA / "diff" / "fused.hlo").read_text()
SPLIT = (DATA / "diff" / "split.hlo").read_text()
PARTITIONED = (DATA / "diff" / "partitioned.hlo").read_text()
UNPARTITIONED = FUSED.replace("is_scheduled=true", "is_scheduled=true, num_partitions=8")


def rename(text: str, seed: int = 0) -> str:
    """Every `%name` replaced by a fresh one (shuffled numbering), channel ids shifted: what a
    second compile may do."""
    names = list(dict.fromkeys(re.findall(r"%([\w.\-]+)", text)))
    fresh = [f"v{i}" for i in range(len(names))]
    random.Random(seed).shuffle(fresh)
    table = dict(zip(names, fresh, strict=True))
    text = re.sub(r"%([\w.\-]+)", lambda m: "%" + table[m.group(1)], text)
    return re.sub(r"channel_id=(\d+)", lambda m: f"channel_id={int(m.group(1)) + 17}", text)


def diff_texts(a: str, b: str, *, mesh: MeshInfo | None = None) -> DiffReport:
    return compare(Capture(name="a", origin="A", hlo=a, mesh=mesh),
                   Capture(name="b", origin="B", hlo=b, mesh=mesh), hardware="h100-sxm")


def rendered(report: DiffReport) -> str:
    from rich.console import Console

    from hloscope.views.diff import render

    buf = io.StringIO()
    render(report, Console(file=buf, width=100, no_color=True, color_system=None))
    return buf.getvalue()


# -- identity ---------------------------------------------------------------------------------


def test_a_module_against_itself_has_no_differences() -> None:
    r = diff_texts(FUSED, FUSED)
    assert r.identical
    assert r.kernels == r.collectives == r.parameters == r.lines == ()
    assert all(not row.changed for row in r.totals)
    assert "no differences" in rendered(r)


def test_names_and_channel_ids_are_not_differences() -> None:
    text = (DATA / "collectives_demo.hlo").read_text()
    r = diff_texts(text, rename(text), mesh=MESH)
    assert r.identical, (r.matching, r.unavailable)
    assert r.to_json()["identical"] is True


@pytest.mark.parametrize("name", ["tpu_tf_v5e_2x2_L4.hlo", "tpu_v5e_2x2.hlo"])
def test_matching_a_renamed_corpus_module_pairs_the_same_instructions(
        corpus: Path, name: str) -> None:
    text = (corpus / "generated" / name).read_text()
    names = list(dict.fromkeys(re.findall(r"%([\w.\-]+)", text)))
    renamed = rename(text, seed=3)
    fresh = dict(zip(names, list(dict.fromkeys(re.findall(r"%([\w.\-]+)", renamed))),
                     strict=True))
    a, b = parse(text), parse(renamed)
    m = match(a, b)
    assert m.identical
    assert len(m.a_to_b) == a.instruction_count
    # Every pair is the instruction the renaming made: matching found the truth, not just a
    # one-to-one map.
    wrong = [(x, y) for x, y in m.a_to_b.items() if fresh[x[1]] != y[1]]
    assert not wrong


def test_stack_frame_tables_in_another_order_are_not_differences() -> None:
    # frames_b.hlo: other instruction names, table ids permuted, metadata keys in another
    # order, another calling script above the same lines of the model.
    a = (DATA / "diff" / "frames_a.hlo").read_text()
    b = (DATA / "diff" / "frames_b.hlo").read_text()
    assert diff_texts(a, b).identical
    moved = b.replace("line=10 end_line=10", "line=12 end_line=12")  # exp from another line
    r = diff_texts(a, moved)
    assert r.identical  # the same program: only its Python lines moved
    assert "source metadata only" in r.notes[0]
    assert r.matching is not None
    assert r.matching.a_to_b[("main", "e")] == ("main.3", "exponential.1")
    assert r.matching.unmatched_a == ()
    assert [ln.source for ln in r.lines] == ["/src/model.py:10", "/src/model.py:12"]


def test_another_jax_version_is_said_not_a_difference() -> None:
    r = compare(Capture(name="a", hlo=FUSED, versions={"jax": "0.10.2", "jaxlib": "0.10.2"}),
                Capture(name="b", hlo=FUSED, versions={"jax": "0.10.3", "jaxlib": "0.10.2"}),
                hardware="h100-sxm")
    assert r.identical
    assert r.notes == ("A was compiled by jax 0.10.2, B by jax 0.10.3",)


def test_schedule_order_is_a_difference() -> None:
    swapped = FUSED.replace(
        '  %x = f32[8,16]{1,0} parameter(0), metadata={op_name="x"}\n'
        '  %w = f32[16,32]{1,0} parameter(1), metadata={op_name="w"}\n',
        '  %w = f32[16,32]{1,0} parameter(1), metadata={op_name="w"}\n'
        '  %x = f32[8,16]{1,0} parameter(0), metadata={op_name="x"}\n')
    r = diff_texts(FUSED, swapped)
    assert not r.identical
    assert r.matching is not None
    assert r.matching.schedule_changed == ("main",)


# -- kernels ----------------------------------------------------------------------------------


def test_a_fusion_split_in_two_kernels() -> None:
    r = diff_texts(FUSED, SPLIT)
    assert not r.identical
    (split,) = r.kernels_with("split")
    assert split.a == ("fusion",)
    assert set(split.b) == {"add_fusion", "mul_fusion"}
    assert r.kernels_with("added") == r.kernels_with("removed") == ()
    assert (r.total("kernels").a, r.total("kernels").b) == (2, 3)  # the dot, and the fusions
    assert r.matching is not None
    assert r.matching.a_to_b[("fused", "add")] == ("fused_a", "add.7")
    assert r.matching.a_to_b[("main", "dot")] == ("main.2", "dot.3")


def test_two_kernels_merged_in_one() -> None:
    (merged,) = diff_texts(SPLIT, FUSED).kernels_with("merged")
    assert set(merged.a) == {"add_fusion", "mul_fusion"}
    assert merged.b == ("fusion",)


def test_an_added_instruction_is_unmatched_and_its_kernel_added() -> None:
    extra = FUSED.replace(
        "  ROOT %fusion = f32[8,32]{1,0} fusion(%dot, %b)",
        '  %neg = f32[8,32]{1,0} negate(%dot), metadata={op_name="jit(f)/neg" '
        'source_file="/m.py" source_line=9}\n  ROOT %fusion = f32[8,32]{1,0} fusion(%neg, %b)')
    r = diff_texts(FUSED, extra)
    assert r.matching is not None
    assert r.matching.unmatched_a == ()
    assert r.matching.unmatched_b == (("main", "neg"),)
    (added,) = r.kernels_with("added")
    assert added.b == ("neg",)
    assert added.source == "/m.py:9"
    assert r.total("flops").delta == 8 * 32  # one negate per element (XLA counts it a flop)
    assert added.flops_delta == 8 * 32
    assert r.status_counts("kernels") == {"added": 1, "changed": 1}  # the fusion reads neg
    assert r.unmatched_opcodes("b") == {"negate": 1}
    assert r.unmatched_opcodes("a") == {}
    assert "negate" in rendered(r)


# -- collectives, parameters ------------------------------------------------------------------


def test_a_collective_appears_with_its_axis() -> None:
    r = diff_texts(UNPARTITIONED, PARTITIONED, mesh=MESH)
    (added,) = r.collectives_with("added")
    assert (added.kind, added.axes_b, added.axes_a) == ("all-reduce", "model", None)
    assert added.source == "/m.py:2"
    assert added.bytes_b is not None
    assert added.bytes_b > 0
    assert r.collectives_with("removed") == ()
    assert r.total("collectives").delta == 1
    assert r.total("collective_bytes[model]").b == added.total_bytes_b
    assert r.collective_groups() == (("added", "all-reduce", "model", 1, added.total_bytes_b),)
    assert r.status_counts("collectives") == {"added": 1}
    assert added.time_b is not None
    assert added.time_delta == added.time_b  # nothing on A: all of B's time is new
    assert "added 1 all-reduce over model: +" in rendered(r)
    doc = r.to_json()
    assert [c["axes_b"] for c in doc["collectives"]["added"]] == ["model"]
    assert doc["collectives"]["removed"] == []


def test_a_dtype_change_halves_parameter_bytes() -> None:
    bf16 = FUSED.replace("f32[", "bf16[")
    r = diff_texts(FUSED, bf16)
    changed = {p.label: p for p in r.parameters}
    assert set(changed) == {"x", "w", "b"}
    for p in changed.values():
        assert p.status == "changed"
        assert p.bytes_a is not None
        assert p.bytes_b is not None
        assert p.bytes_b * 2 == p.bytes_a
        assert p.bytes_delta == -p.bytes_b
    assert r.status_counts("parameters") == {"changed": 3}
    assert r.total("bytes_accessed").b * 2 == r.total("bytes_accessed").a  # type: ignore[operator]


def test_a_removed_parameter() -> None:
    fewer = FUSED.replace(
        ', b: f32[8,32]) -> f32[8,32] {', ') -> f32[8,32] {').replace(
        '  %b = f32[8,32]{1,0} parameter(2), metadata={op_name="b"}\n', '').replace(
        "fusion(%dot, %b)", "fusion(%dot, %dot)")
    r = diff_texts(FUSED, fewer)
    removed = [p for p in r.parameters if p.status == "removed"]
    assert [p.label for p in removed] == ["b"]


# -- sides without optimized HLO --------------------------------------------------------------


def test_a_side_without_optimized_hlo_is_said_not_a_crash(corpus: Path) -> None:
    mlir = (corpus / "stablehlo" / "stablehlo__testdata__abs_int32_20_20.mlir").read_text()
    r = compare(Capture(name="s", origin="x.mlir", stablehlo=mlir),
                Capture(name="a", origin="a.hlo", hlo=FUSED), hardware="h100-sxm")
    assert not r.identical
    assert "no optimized HLO" in r.unavailable["instructions"]
    assert r.unavailable["instructions"].startswith("A: ")
    doc = r.to_json()
    assert doc["totals"]["a"]["flops"] is None
    assert doc["totals"]["b"]["flops"] > 0
    text = rendered(r)
    assert "not compared: instructions, collectives, kernels" in text
    assert "\nA: x.mlir: this capture has no optimized HLO" in text


def test_two_stablehlo_files_compare_without_locations(corpus: Path) -> None:
    mlir = (corpus / "stablehlo" / "stablehlo__testdata__abs_int32_20_20.mlir").read_text()
    moved = re.sub(r"loc\(\"[^\"]*\":\d+:\d+\)", 'loc("elsewhere.py":1:1)', mlir)
    same = compare(Capture(name="s", stablehlo=mlir), Capture(name="t", stablehlo=moved),
                   hardware="h100-sxm")
    assert same.identical
    other = compare(Capture(name="s", stablehlo=mlir),
                    Capture(name="t", stablehlo=mlir.replace("stablehlo.abs", "stablehlo.negate")),
                    hardware="h100-sxm")
    assert not other.identical


def test_strip_locations() -> None:
    text = '%0 = stablehlo.abs %arg0 : tensor<2xf32> loc(#loc3)\n#loc3 = loc("a.py":1:2)\n'
    assert strip_locations(text) == "%0 = stablehlo.abs %arg0 : tensor<2xf32>"


# -- the document -----------------------------------------------------------------------------


def test_json_document_has_the_promised_keys() -> None:
    doc = diff_texts(FUSED, SPLIT).to_json()
    assert doc["schema"] == SCHEMA == "hloscope.diff/1"
    assert doc["identical"] is False
    for side in ("a", "b"):
        assert {"flops", "bytes_accessed", "step_s", "peak_bytes", "kernels", "collectives",
                "collective_bytes"} <= set(doc["totals"][side])
    for key in ("added", "removed"):
        assert isinstance(doc["collectives"][key], list)
        assert isinstance(doc["kernels"][key], list)
    assert doc["kernels"]["split"][0]["a"] == ["fusion"]
    assert doc["matching"]["instructions"] == {"a": 9, "b": 11}


def test_text_report_sections() -> None:
    text = rendered(diff_texts(FUSED, SPLIT))
    assert "kernels: 1 split" in text
    assert "fusion → add_fusion +1" in text
    assert "est. step time (h100-sxm)" in text
    for line in text.splitlines():
        assert len(line) <= 100


# -- determinism ------------------------------------------------------------------------------

# Three new instructions of one size and cost (negate and abs: a flop per element), from lines
# 7, 8 and 6 in program order: changes of equal size.
TIED = FUSED.replace(
    "  ROOT %fusion",
    '  %n1 = f32[8,32]{1,0} negate(%dot), metadata={op_name="jit(f)/n1" source_file="/m.py" '
    'source_line=7}\n'
    '  %n2 = f32[8,32]{1,0} negate(%b), metadata={op_name="jit(f)/n2" source_file="/m.py" '
    'source_line=8}\n'
    '  %n3 = f32[8,32]{1,0} abs(%dot), metadata={op_name="jit(f)/n3" source_file="/m.py" '
    'source_line=6}\n'
    "  ROOT %fusion")


def test_equal_changes_are_listed_in_a_fixed_order() -> None:
    import dataclasses
    import json

    from hloscope.diffing import analysis_for, side_of
    from hloscope.passes import diff as diff_pass

    first = diff_texts(FUSED, TIED)
    added = first.kernels_with("added")
    assert [k.b for k in added] == [("n3",), ("n1",), ("n2",)]  # by line, not program order
    assert len({(k.flops_b, k.bytes_b, k.time_b) for k in added}) == 1  # all tied
    # Fresh analyses: byte-identical JSON and text.
    again = diff_texts(FUSED, TIED)
    assert json.dumps(first.to_json()) == json.dumps(again.to_json())
    assert rendered(first) == rendered(again)
    # The order never depends on the order the reports list kernels in.
    a, b = (side_of(analysis_for(Capture(name=n, origin=n.upper(), hlo=t), None))
            for n, t in (("a", FUSED), ("b", TIED)))
    assert b.fusion is not None
    flipped = dataclasses.replace(
        b, fusion=dataclasses.replace(b.fusion, kernels=tuple(reversed(b.fusion.kernels))))
    assert diff_pass.run(a, flipped).kernels == diff_pass.run(a, b).kernels
