"""XLA's buffer-assignment text: parsing, XLA's totals from it, and the check of XLA's
placement against the memory pass's live ranges (a real dump of a tiny jitted function)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hloscope.buffer_assignment import parse_buffer_assignment
from hloscope.errors import ParseError
from hloscope.hlo import parse
from hloscope.passes import memory

DATA = Path(__file__).resolve().parent.parent / "data" / "memory"
HLO = (DATA / "small.cpu_after_optimizations.txt").read_text()
ASSIGNMENT = (DATA / "small.cpu_after_optimizations-buffer-assignment.txt").read_text()
# From compiled.memory_analysis() of the same compile (see tests/data/memory/README.txt).
XLA_ARGUMENT, XLA_OUTPUT, XLA_ALIAS, XLA_TEMP, XLA_PEAK = 10240, 4116, 0, 4104, 14360


def test_allocations_and_values_are_read() -> None:
    ba = parse_buffer_assignment(ASSIGNMENT)
    assert len(ba.allocations) == 13
    a0 = ba.allocations[0]
    assert (a0.index, a0.size, a0.parameter_number, a0.parameter_shape) == (
        0, 8192, 1, "f32[32,64]")
    assert a0.kind == "parameter"
    out = ba.allocations[3]
    assert out.output_shape == "(f32[], f32[16,64])"
    assert out.maybe_live_out
    temp = ba.allocations[12]
    assert temp.preallocated_temp
    assert temp.kind == "temp"
    assert [(v.label, v.offset, v.size) for v in temp.values] == [
        ("broadcast_multiply_fusion", 0, 4096), ("wrapped_reduce-window", 4096, 8)]
    assert ba.allocations_by_index[1].values[1].label == "wrapped_tanh"
    assert ba.allocation_of("wrapped_tanh") is ba.allocations_by_index[1]


def test_totals_equal_memory_analysis() -> None:
    ba = parse_buffer_assignment(ASSIGNMENT)
    assert (ba.argument_bytes, ba.output_bytes, ba.alias_bytes, ba.temp_bytes) == (
        XLA_ARGUMENT, XLA_OUTPUT, XLA_ALIAS, XLA_TEMP)
    assert ba.whole_run_bytes == XLA_PEAK


def test_phi_values_and_tuple_indices() -> None:
    text = """BufferAssignment:
allocation 0: size 24, color 1, preallocated-temp:
 value: <33 arg_tuple.1{} (phi) @1> (size=24,offset=0): (s32[], f32[256,256]{1,0})
 value: <35 arg_tuple.3{1,0} (phi) @1> (size=4,offset=0): s32[]
"""
    a = parse_buffer_assignment(text).allocations[0]
    assert a.color == 1
    assert [(v.instruction, v.index, v.is_phi, v.color) for v in a.values] == [
        ("arg_tuple.1", (), True, 1), ("arg_tuple.3", (1, 0), True, 1)]
    assert a.values[1].label == "arg_tuple.3{1,0}"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("hello\n", 1, "no allocations"),
        ("BufferAssignment:\n value: <1 a @0> (size=4,offset=0): f32[]\n", 2, "before any"),
        ("allocation 0: size x:\n", 1, "malformed allocation"),
        ("allocation 0: size 4, constant:\n value: <1 a @0> size=4\n", 2, "malformed value"),
    ],
)
def test_bad_text_is_a_parse_error_naming_the_line(text: str, line: int, what: str) -> None:
    with pytest.raises(ParseError, match=what) as e:
        parse_buffer_assignment(text, file="ba.txt")
    assert e.value.line == line
    assert e.value.file == "ba.txt"


def test_the_pass_agrees_with_xla_on_this_dump() -> None:
    r = memory.run(parse(HLO), buffer_assignment=ASSIGNMENT, hardware=[])
    assert (r.argument_bytes, r.output_bytes, r.alias_bytes) == (
        XLA_ARGUMENT, XLA_OUTPUT, XLA_ALIAS)
    assert r.whole_run_bytes == XLA_PEAK
    assert r.xla_source == "buffer-assignment"
    assert r.xla["temp_bytes"] == XLA_TEMP
    assert r.assignment_conflicts == ()
    assert all(row.agrees for row in r.xla_assignment)
    tanh = next(b for b in r.at_peak if b.name == "wrapped_tanh")
    assert tanh.xla_allocation == 1
    assert "ynn_fusion" in tanh.shares_with


def test_a_placement_that_contradicts_the_live_ranges_is_reported() -> None:
    # Move wrapped_reduce-window on top of broadcast_multiply_fusion, its operand: both are
    # live when it is computed, so XLA could never have placed them in the same bytes.
    bad = ASSIGNMENT.replace("(size=8,offset=4096)", "(size=8,offset=0)")
    r = memory.run(parse(HLO), buffer_assignment=bad, hardware=[])
    assert len(r.assignment_conflicts) == 1
    assert "broadcast_multiply_fusion and wrapped_reduce-window" in r.assignment_conflicts[0]
    assert not next(row for row in r.xla_assignment if row.index == 12).agrees
