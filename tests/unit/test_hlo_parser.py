"""The HLO reader on small hand-written modules (no jax)."""

from __future__ import annotations

import pytest

from hloscope import hlo
from hloscope.errors import ParseError
from hloscope.hlo import GroupsForm, Role, ShardingKind

SIMPLE = """\
HloModule m, is_scheduled=true, num_partitions=4

%add (a: f32[], b: f32[]) -> f32[] {
  %a = f32[] parameter(0)
  %b = f32[] parameter(1)
  ROOT %s = f32[] add(%a, %b)
}

ENTRY %main (p: f32[8,16]) -> f32[8] {
  %p = f32[8,16]{1,0} parameter(0), sharding={devices=[4,1]<=[4]}
  %c = f32[] constant(0)
  ROOT %r = f32[8]{0} reduce(%p, %c), dimensions={1}, to_apply=%add,
    metadata={op_type="reduce_sum" op_name="jit(f)/reduce_sum" stack_frame_id=2}
}
"""


def test_simple_module_structure() -> None:
    m = hlo.parse(SIMPLE)
    assert m.name == "m"
    assert m.is_scheduled
    assert m.num_partitions == 4
    assert [c.name for c in m.computations] == ["add", "main"]
    assert m.entry == "main"
    main = m.entry_computation
    assert main.is_entry
    assert main.role is Role.ENTRY
    assert m.computation("add").role is Role.REDUCER
    r = main["r"]
    assert r.opcode == "reduce"
    assert r.operands == ("p", "c")
    assert r.is_root
    assert r.shape.dims == (8,)
    assert r.shape.layout is not None
    assert r.called == ("add",)
    assert r.attr("dimensions") == "{1}"
    assert r.metadata is not None
    assert r.metadata.op_name == "jit(f)/reduce_sum"
    assert r.metadata.stack_frame_id == 2
    assert r.line == 12
    assert main["c"].literal == "0"
    assert main["p"].parameter_number == 0
    assert main["p"].sharding is not None
    assert main["p"].sharding.kind is ShardingKind.TILED
    assert main.parameters == ("p",)


def test_headerless_entry_named_like_xla() -> None:
    m = hlo.parse("ENTRY e {\n  p = f32[2] parameter(0)\n  ROOT n = f32[2] negate(p)\n}\n")
    assert m.name == "module_e"
    assert not m.has_header
    assert m.entry == "e"


def test_headerless_single_computation_is_entry() -> None:
    m = hlo.parse("e {\n  p = f32[2] parameter(0)\n  ROOT n = f32[2] negate(p)\n}\n")
    assert m.entry == "e"
    assert m.entry_computation.is_entry


def test_tuple_shape_with_index_comments() -> None:
    text = ("ENTRY e {\n  p = (f32[2]{0}, s32[], /*index=2*/pred[3]) parameter(0)\n"
            "  ROOT g = s32[] get-tuple-element(p), index=1\n}\n")
    p = hlo.parse(text).entry_computation["p"]
    assert p.shape.is_tuple
    assert [s.element_type for s in p.shape.tuple_shapes] == ["f32", "s32", "pred"]


@pytest.mark.parametrize(
    ("text", "form", "groups"),
    [
        ("{{0,1},{2,3}}", GroupsForm.EXPLICIT, ((0, 1), (2, 3))),
        ("[2,4]<=[8]", GroupsForm.IOTA, ((0, 1, 2, 3), (4, 5, 6, 7))),
        ("[4,2]<=[2,4]T(1,0)", GroupsForm.IOTA, ((0, 4), (1, 5), (2, 6), (3, 7))),
        ("mesh['x'=2,'y'=4] {'x'}", GroupsForm.MESH, ((0, 4), (1, 5), (2, 6), (3, 7))),
        ("mesh['x'=2,'y'=4] {'y'}", GroupsForm.MESH, ((0, 1, 2, 3), (4, 5, 6, 7))),
    ],
)
def test_replica_group_forms(text: str, form: GroupsForm, groups: tuple[tuple[int, ...], ...]
                             ) -> None:
    m = hlo.parse(
        "HloModule m\n%add (a: f32[], b: f32[]) -> f32[] {\n  a = f32[] parameter(0)\n"
        "  b = f32[] parameter(1)\n  ROOT s = f32[] add(a, b)\n}\n"
        f"ENTRY e {{\n  p = f32[8] parameter(0)\n  ROOT ar = f32[8] all-reduce(p), "
        f"replica_groups={text}, to_apply=%add\n}}\n")
    rg = m.entry_computation["ar"].replica_groups
    assert rg is not None
    assert rg.form is form
    assert rg.groups == groups


def test_multi_module_needs_a_choice() -> None:
    one = "HloModule a\nENTRY e {\n  ROOT p = f32[] parameter(0)\n}\n"
    text = one + "\n// -----\n" + one.replace("HloModule a", "HloModule b")
    assert hlo.list_modules(text) == ("a", "b")
    with pytest.raises(ParseError, match=r"2 modules \(a, b\)"):
        hlo.parse(text)
    assert hlo.parse(text, module="b").name == "b"
    assert hlo.parse(text, module=0).name == "a"
    # lines count from the top of the file
    assert hlo.parse(text, module=1).entry_computation["p"].line == 9


def test_unknown_attribute_is_kept_raw() -> None:
    m = hlo.parse("ENTRY e {\n  p = f32[8] parameter(0)\n"
                  "  ROOT t = (f32[2], s32[2]) topk(p), k=2, largest=true, is_stable=true\n}\n")
    assert m.entry_computation["t"].attr("is_stable") == "true"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ENTRY e {\n  p = f32[2] parameter(0)\n  ROOT n = f32[2] negate(q)\n}\n",
         r"^<text>:3:\d+: operand q of n is not defined before it in e$"),
        ("ENTRY e {\n  p = f32[2 parameter(0)\n}\n", r"^<text>:2:\d+: expected ',' or ']'"),
        ("ENTRY e {\n  p = f32[2] parameter(0)\n", r"^<text>:3:1: expected '}'"),
        ("ENTRY e {\n  p = f32[2] parameter(0), metadata={op_name=\"a}\n}\n",
         r"unterminated string"),
        ("ENTRY e {\n  p = f32[2] frobnicate(0)\n}\n",
         r"^<text>:2:\d+: expected an opcode, found 'frobnicate'"),
        ("", r"empty text"),
    ],
)
def test_errors_name_line_and_column(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        hlo.parse(text)


def test_parsed_instructions_are_ordinary_frozen_dataclasses() -> None:
    import dataclasses
    import pickle

    m = hlo.parse(SIMPLE)
    r = m.entry_computation["r"]
    assert type(r) is hlo.Instruction
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.name = "x"  # type: ignore[misc]
    assert r == dataclasses.replace(r)
    assert hash(r) == hash(dataclasses.replace(r))
    assert pickle.loads(pickle.dumps(m)) == m


def test_backend_config_json_and_raw() -> None:
    m = hlo.parse("ENTRY e {\n  p = f32[2] parameter(0)\n"
                  '  a = f32[2] custom-call(p), custom_call_target="x", '
                  'backend_config={"k":[1,{"n":"2"}]}\n'
                  '  ROOT b = f32[2] custom-call(a), custom_call_target="y", '
                  'backend_config="opaque \\"text\\""\n}\n')
    a, b = m.entry_computation["a"], m.entry_computation["b"]
    assert a.backend_config == {"k": [1, {"n": "2"}]}
    assert a.backend_config_text == '{"k":[1,{"n":"2"}]}'
    assert b.backend_config is None
    assert b.backend_config_text == 'opaque "text"'
    assert hlo.parse(hlo.print_module(m)) == m


def test_async_sugar_keeps_the_wrapped_opcode() -> None:
    m = hlo.parse("ENTRY e {\n  p = f32[8] parameter(0)\n"
                  "  s = ((f32[8]), f32[2], s32[]) slice-start(p), slice={[0:2]}\n"
                  "  ROOT d = f32[2] slice-done(s)\n}\n")
    s, d = m.entry_computation["s"], m.entry_computation["d"]
    assert (s.opcode, s.async_wrapped_opcode, s.attr("slice")) == ("async-start", "slice",
                                                                   "{[0:2]}")
    assert (d.opcode, d.async_wrapped_opcode) == ("async-done", "slice")
    assert "slice-start(%p)" in hlo.print_module(m)


@pytest.mark.parametrize("spelling", ["f2[4]", "c32[]", "f32[1,,2]"])
def test_bad_operand_shape_spelling_is_refused(spelling: str) -> None:
    # The usual-line fast path once took any operand shape text; XLA refuses these.
    text = (
        "HloModule m\n\nENTRY e {\n  x = f32[4] parameter(0)\n"
        f"  ROOT n = f32[4] negate({spelling} x)\n}}\n"
    )
    with pytest.raises(ParseError, match=r"^<text>:5:\d+: "):
        hlo.parse(text)
    hlo.parse(text.replace(spelling, "f32[4]"))  # the same line, well spelled, reads
