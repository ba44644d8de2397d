"""The cost rule table on small hand-written modules (no jax).

Every expected figure below is what XLA's own HloCostAnalysis (jaxlib 0.10.2, CPU client)
returns for that instruction carved out alone; `tests/conformance/test_cost_corpus.py`
re-checks these files against XLA, so a drift in XLA shows up there, not as a silent change
here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hloscope.hlo import parse
from hloscope.hlo.model import Shape
from hloscope.passes import cost
from hloscope.passes.cost import OpCost
from hloscope.passes.cost_rules import (
    WindowDim,
    parse_window,
    shape_size,
    transpose_is_bitcast,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "cost"


@pytest.fixture(scope="module")
def rules() -> cost.CostReport:
    return cost.run(parse((DATA / "rules.hlo").read_text()))


@pytest.fixture(scope="module")
def control() -> cost.CostReport:
    return cost.run(parse((DATA / "control.hlo").read_text()))


def _c(report: cost.CostReport, name: str, comp: str | None = None) -> tuple[float, ...]:
    c = report.cost_of(name, comp)
    return (c.flops, c.transcendentals, c.bytes_accessed)


@pytest.mark.parametrize(("name", "comp", "expected"), [
    ("add", "main", (32, 0, 384)),             # elementwise: one flop per element
    ("exp", "main", (0, 32, 256)),             # transcendental
    ("dot", "main", (65536, 0, 14336)),        # 2 * 16*64 * 32
    ("red", "main", (1008, 0, 4164)),          # (16*64 - 16) applications of the add
    ("tr", "main", (0, 0, 0)),                 # a transpose that is a bitcast
    ("tr2", "main", (0, 0, 8192)),             # a real transpose
    ("srt", "main", (160, 0, 512)),            # n*ceil(log2 n); the result's leaves written
    ("cc", "main", (-1, 0, -1)),               # custom call: XLA's "unknown" -1
    ("tup", "main", (0, 0, 40)),               # a tuple writes its 5-pointer index table
    ("gte", "main", (0, 0, 0)),
    ("fdus", "main", (0, 0, 132)),             # DUS root: writes the update, reads update+index
    ("floop", "main", (128, 128, 1168)),       # slice/broadcast reads, body flops
    ("sum", "add_f32", (1, 0, 12)),
    ("sl", "loop_body", (0, 0, 256)),          # slice: 2 x result
    ("dus", "dus_body", (0, 0, 132)),
])
def test_instruction_costs(rules: cost.CostReport, name: str, comp: str,
                           expected: tuple[float, ...]) -> None:
    assert _c(rules, name, comp) == expected


def test_module_total_is_the_entry_sum(rules: cost.CostReport) -> None:
    assert rules.total == OpCost(flops=66863, transcendentals=160, bytes_accessed=29183)
    assert rules.executed == rules.total  # no loops


def test_custom_call_is_reported_unknown(rules: cost.CostReport) -> None:
    assert rules.unknown_ops == {"custom-call:my_kernel": 1}


@pytest.mark.parametrize(("name", "comp", "expected"), [
    ("conv", "main", (46464, 0, 6592)),        # 2 * 3 * 16 * (22 * 22) valid positions
    ("loop", "main", (6, 4, 117)),             # body + condition, once (XLA's convention)
    ("sel", "main", (12, 4, 144)),             # the costliest branch, property by property
    ("st", "main", (0, 4, 32)),                # async-start: the wrapped computation
    ("dn", "main", (0, 0, 40)),                # async-done: the start's 3 pointers + result
    ("bn", "main", (0, 0, 8352)),              # batch-norm: XLA has no flops rule
    ("init", "main", (0, 0, 16)),
])
def test_control_flow_costs(control: cost.CostReport, name: str, comp: str,
                            expected: tuple[float, ...]) -> None:
    assert _c(control, name, comp) == expected


def test_executed_multiplies_loops_by_trip_count(control: cost.CostReport) -> None:
    body = control.by_computation["body"]
    cond = control.by_computation["cond"]
    loop = control.cost_of("loop", "main")
    assert loop == body + cond
    extra = body.scaled(5) + cond.scaled(6)  # 6 trips: body x6, condition x7
    got = control.executed
    want = control.total + extra
    assert (got.flops, got.transcendentals, got.bytes_accessed) == pytest.approx(
        (want.flops, want.transcendentals, want.bytes_accessed))
    assert control.counts["body"] == 6
    assert control.counts["cond"] == 7
    assert control.unknown_trip_counts == ()


def test_unknown_trip_count_counts_once_and_is_named() -> None:
    text = (DATA / "control.hlo").read_text().replace(
        ', backend_config={"known_trip_count":{"n":"6"}}', "")
    report = cost.run(parse(text))
    assert report.executed == report.total
    assert report.unknown_trip_counts == ("loop",)


def test_conditional_branches_are_listed(control: cost.CostReport) -> None:
    branches = dict(control.conditionals["sel"])
    assert set(branches) == {"branch_a", "branch_b"}
    assert branches["branch_a"] == OpCost(transcendentals=4, bytes_accessed=32)
    assert branches["branch_b"] == OpCost(flops=12, bytes_accessed=144)
    sel = control.cost_of("sel", "main")  # the costliest of each property
    assert (sel.flops, sel.transcendentals, sel.bytes_accessed) == (12, 4, 144)


def test_batch_norm_is_reported_unknown(control: cost.CostReport) -> None:
    assert control.unknown_ops == {"batch-norm-training": 1}


def test_repeated_names_are_keyed_by_computation(control: cost.CostReport) -> None:
    # `p`, `iv`, `x` exist in several computations.
    assert "cond/p" in control.per_instruction
    assert "body/p" in control.per_instruction
    assert control.key_of("body", "x") == "body/x"
    assert control.cost_of("next") == control.cost_of("next", "body")  # unique name
    with pytest.raises(KeyError):
        control.cost_of("x")  # ambiguous without its computation


def test_devices_from_partitions() -> None:
    text = "HloModule m, num_partitions=4\n\nENTRY e {\n  p = f32[8] parameter(0)\n" \
           "  ROOT n = f32[8] negate(p)\n}\n"
    report = cost.run(parse(text))
    assert report.devices == 4
    assert report.all_devices == report.executed.scaled(4)


def test_to_json_has_the_documented_keys(control: cost.CostReport) -> None:
    doc = control.to_json()
    assert doc["total"]["flops"] == control.total.flops
    assert doc["executed"]["flops"] == control.executed.flops
    assert doc["unknown_ops"] == {"batch-norm-training": 1}
    assert "per_instruction" not in doc
    assert set(control.to_json(instructions=True)["per_instruction"]) == set(
        control.per_instruction)


# -- helpers ---------------------------------------------------------------------------------


def test_shape_size_follows_the_cpu_client() -> None:
    f32 = Shape("f32", (4, 8))
    assert shape_size(f32) == 128
    assert shape_size(Shape("tuple", tuple_shapes=(f32, f32, f32))) == 24  # index table
    assert shape_size(Shape("opaque")) == 8
    assert shape_size(Shape("token")) == 0
    assert shape_size(Shape("pred", (3,))) == 3
    assert shape_size(Shape("s4", (3,))) == 3  # one byte each unless packed
    assert shape_size(Shape("f32", (16, 4), dynamic=(True, False))) == 256 + 8


def test_unbounded_dimension_uses_xla_int64_arithmetic() -> None:
    text = "HloModule m\n\nENTRY e {\n  p = f32[?,784] parameter(0)\n" \
           "  ROOT a = f32[?,784] abs(p)\n}\n"
    report = cost.run(parse(text))
    # XLA: ElementsIn wraps to 0 (INT64_MIN * 784); each side is just the 8 size bytes.
    assert report.cost_of("a") == OpCost(flops=0, bytes_accessed=16)


def test_parse_window() -> None:
    dims = parse_window("{size=3x1 stride=2x1 pad=1_0x0_0 lhs_dilate=1x2 rhs_dilate=3x1}")
    assert dims == (WindowDim(3, 2, 1, 0, 1, 3), WindowDim(1, 1, 0, 0, 2, 1))
    assert parse_window(None) == ()


@pytest.mark.parametrize(("src", "dst", "perm", "bitcast"), [
    ((1, 0), (0, 1), (1, 0), True),
    ((1, 0), (1, 0), (1, 0), False),
    ((2, 1, 0), (2, 1, 0), (0, 1, 2), True),
])
def test_transpose_is_bitcast(src: tuple[int, ...], dst: tuple[int, ...],
                              perm: tuple[int, ...], bitcast: bool) -> None:
    from hloscope.hlo.model import Layout

    n = len(src)
    a = Shape("f32", tuple(range(2, 2 + n)), layout=Layout(src))
    b = Shape("f32", tuple(a.dims[p] for p in perm), layout=Layout(dst))
    assert transpose_is_bitcast(a, b, perm) is bitcast


def test_top_instructions_rank_by_executed_bytes_and_flops(control: cost.CostReport) -> None:
    module = parse((DATA / "control.hlo").read_text())
    top = control.top_instructions(module, 100)
    assert top[0].name == "conv"  # by far the largest, in the entry
    weights = [(abs(r.cost.bytes_accessed) + abs(r.cost.flops)) * r.count for r in top]
    assert weights == sorted(weights, reverse=True)
    body = {r.name: r for r in top if r.computation == "body"}
    assert body["y"].count == 6  # the loop body runs its trip count
    assert body["y"].cost == control.cost_of("y", "body")
    assert all(r.computation != "wrapped" for r in top)  # an async body is not a program step
    assert all(not r.cost.is_zero for r in top)
    assert [r.name for r in control.top_instructions(module, 2)] == [r.name for r in top[:2]]
    assert top[0].to_json()["flops"] == top[0].cost.flops
