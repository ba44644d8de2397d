"""Call graph, execution counts and source mapping on hand-written modules (no jax)."""

from __future__ import annotations

from hloscope import hlo
from hloscope.hlo import Role, calls, source

LOOP = """\
HloModule loop

FileNames
1 "/src/model.py"
2 "/src/main.py"

FunctionNames
1 "<module>"
2 "step"

FileLocations
1 {file_name_id=2 function_name_id=1 line=30 end_line=30 column=1 end_column=9}
2 {file_name_id=1 function_name_id=2 line=12 end_line=12 column=5 end_column=20}

StackFrames
1 {file_location_id=1 parent_frame_id=1}
2 {file_location_id=2 parent_frame_id=2}


%add (a: f32[], b: f32[]) -> f32[] {
  %a = f32[] parameter(0)
  %b = f32[] parameter(1)
  ROOT %s = f32[] add(%a, %b)
}

%fused (p: f32[4]) -> f32[4] {
  %p = f32[4] parameter(0)
  ROOT %n = f32[4] negate(%p)
}

%body (t: (s32[], f32[4])) -> (s32[], f32[4]) {
  %t = (s32[], f32[4]) parameter(0)
  %i = s32[] get-tuple-element(%t), index=0
  %x = f32[4] get-tuple-element(%t), index=1
  %f = f32[4] fusion(%x), kind=kLoop, calls=%fused,
    metadata={op_name="jit(f)/while/body/neg" stack_frame_id=2}
  ROOT %r = (s32[], f32[4]) tuple(%i, %f)
}

%cond (t: (s32[], f32[4])) -> pred[] {
  %t = (s32[], f32[4]) parameter(0)
  %i = s32[] get-tuple-element(%t), index=0
  %k = s32[] constant(5)
  ROOT %lt = pred[] compare(%i, %k), direction=LT
}

%dead (q: f32[]) -> f32[] {
  ROOT %q = f32[] parameter(0)
}

ENTRY %main (x: f32[4]) -> f32[] {
  %x = f32[4] parameter(0)
  %z = s32[] constant(0)
  %init = (s32[], f32[4]) tuple(%z, %x)
  %w = (s32[], f32[4]) while(%init), condition=%cond, body=%body,
    backend_config={"known_trip_count":{"n":"5"}}
  %y = f32[4] get-tuple-element(%w), index=1
  %c = f32[] constant(0)
  ROOT %sum = f32[] reduce(%y, %c), dimensions={0}, to_apply=%add,
    metadata={op_name="jit(f)/reduce_sum" source_file="/src/model.py" source_line=40}
}
"""


def test_roles_from_call_graph() -> None:
    m = hlo.parse(LOOP)
    roles = {c.name: c.role for c in m.computations}
    assert roles == {"add": Role.REDUCER, "fused": Role.FUSION, "body": Role.WHILE_BODY,
                     "cond": Role.WHILE_CONDITION, "dead": Role.UNUSED, "main": Role.ENTRY}
    assert m.entry_computation["w"].called == ("cond", "body")


def test_trip_count_and_execution_counts() -> None:
    m = hlo.parse(LOOP)
    assert calls.trip_count(m.entry_computation["w"]) == 5
    counts = calls.execution_counts(m)
    assert counts == {"add": 1, "fused": 5, "body": 5, "cond": 6, "dead": 0, "main": 1}
    assert calls.unknown_trip_counts(m) == ()


def test_unknown_trip_count_counts_once_and_is_listed() -> None:
    m = hlo.parse(LOOP.replace(',\n    backend_config={"known_trip_count":{"n":"5"}}', ""))
    assert calls.trip_count(m.entry_computation["w"]) is None
    assert calls.execution_counts(m)["body"] == 1
    assert calls.unknown_trip_counts(m) == ("w",)


def test_callers() -> None:
    c = calls.callers(hlo.parse(LOOP))
    assert c["fused"] == (("body", "f"),)
    assert c["cond"] == (("main", "w"),)
    assert c["main"] == ()


def test_source_through_stack_frames() -> None:
    m = hlo.parse(LOOP)
    f = m.computation("body")["f"]
    loc = source.source_of(m, f)
    assert loc is not None
    assert (loc.file, loc.line, loc.function) == ("/src/model.py", 12, "step")
    assert [str(fr) for fr in loc.frames] == ["/src/model.py:12", "/src/main.py:30"]
    assert loc.short == "model.py:12"
    assert source.scope(f) == "jit(f)/while/body"


def test_source_from_source_file_metadata() -> None:
    m = hlo.parse(LOOP)
    loc = source.source_of(m, m.entry_computation["sum"])
    assert loc is not None
    assert str(loc) == "/src/model.py:40"
    assert source.source_of(m, m.entry_computation["x"]) is None


def test_frame_cycles_end_the_stack() -> None:
    m = hlo.parse(LOOP.replace("2 {file_location_id=2 parent_frame_id=2}",
                               "2 {file_location_id=2 parent_frame_id=3}"))
    loc = source.source_of(m, m.computation("body")["f"])
    assert loc is not None
    assert len(loc.frames) == 1


def test_scope_parts_keep_brackets_whole() -> None:
    assert source.scope_parts("jit(f)/params['a/b']/dot") == ("jit(f)", "params['a/b']", "dot")
