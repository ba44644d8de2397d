"""The StableHLO IR without jax: Shardy values, generic-form attribute scanning, source
lookups, JSON round trip. (Reading real MLIR is tested in tests/conformance and tests/capture.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hloscope.errors import InputError
from hloscope.stablehlo import (
    AxisRef,
    DimSharding,
    Frame,
    ManualComputation,
    Mesh,
    MeshAxis,
    Source,
    StableFunc,
    StableModule,
    StableOp,
    StableValue,
    TensorSharding,
    TensorType,
    hlo_element_type,
    serial,
)
from hloscope.stablehlo.attrtext import generic_op_attributes, parse_attr_dict, split_top_level

MESH = Mesh(name="mesh", axes=(MeshAxis(name="x", size=4), MeshAxis(name="y", size=2)))


def test_importing_the_stablehlo_package_does_not_load_jax() -> None:
    code = (
        "import sys, hloscope.stablehlo, hloscope.stablehlo.serial, hloscope.stablehlo.isolate;"
        "import hloscope.passes.graph;"
        "print(sorted(m for m in ('jax', 'jaxlib', 'networkx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# -- Shardy values ----------------------------------------------------------------------------


def test_tensor_sharding_prints_shardy_syntax() -> None:
    s = TensorSharding(
        mesh="mesh",
        dims=(
            DimSharding(axes=(AxisRef(name="x", sub_axis=(1, 2)),), is_closed=False, priority=1),
            DimSharding(),
        ),
        replicated=(AxisRef(name="y"),),
        unreduced=(AxisRef(name="x", sub_axis=(2, 2)),),
    )
    assert str(s) == (
        '#sdy.sharding<@mesh, [{"x":(1)2, ?}p1, {}], replicated={"y"}, unreduced={"x":(2)2}>'
    )


def test_inline_mesh_and_device_ids_print() -> None:
    inline = Mesh(name="", axes=(MeshAxis(name="q", size=2),), device_ids=(1, 0))
    s = TensorSharding(mesh="", dims=(DimSharding(axes=(AxisRef(name="q"),)),),
                       inline_mesh=inline)
    assert str(s) == '#sdy.sharding<mesh<["q"=2], device_ids=[1, 0]>, [{"q"}]>'
    assert str(MESH) == 'sdy.mesh @mesh = <["x"=4, "y"=2]>'


def test_mesh_geometry() -> None:
    assert MESH.size == 8
    assert MESH.axis_names == ("x", "y")
    assert MESH.devices() == tuple(range(8))
    assert Mesh(name="m", axes=(MeshAxis(name="a", size=2),), device_ids=(1, 0)).devices() == (
        1, 0)
    maximal = Mesh(name="maximal", axes=(), device_ids=(3,))
    assert maximal.size == 1
    assert maximal.devices() == (3,)


def test_shards_per_dim_counts_sub_axes() -> None:
    s = TensorSharding(mesh="mesh", dims=(
        DimSharding(axes=(AxisRef(name="x", sub_axis=(1, 2)), AxisRef(name="y"))),
        DimSharding(axes=(AxisRef(name="x", sub_axis=(2, 2)),)),
        DimSharding(),
    ))
    assert s.shards_per_dim(MESH) == (4, 2, 1)
    assert not s.is_replicated
    assert TensorSharding(mesh="mesh", dims=(DimSharding(),)).is_replicated


# -- types ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mlir", "hlo"),
    [("i1", "pred"), ("i32", "s32"), ("si8", "s8"), ("ui16", "u16"), ("bf16", "bf16"),
     ("f32", "f32"), ("complex<f32>", "c64"), ("complex<f64>", "c128"),
     ("f8E4M3FN", "f8e4m3fn"), ("f4E2M1FN", "f4e2m1fn"), ("index", "s64")],
)
def test_element_types_map_to_hlo_spelling(mlir: str, hlo: str) -> None:
    assert hlo_element_type(mlir) == hlo


def test_tensor_type_sizes() -> None:
    t = TensorType(text="tensor<8x16xbf16>", shape=(8, 16), element_type="bf16")
    assert (t.rank, t.element_count, t.byte_size, t.is_static) == (2, 128, 256, True)
    dyn = TensorType(text="tensor<?x16xf32>", shape=(None, 16), element_type="f32")
    assert (dyn.element_count, dyn.byte_size, dyn.is_static) == (None, None, False)
    pred = TensorType(text="tensor<3xi1>", shape=(3,), element_type="i1")
    assert pred.byte_size == 3
    assert TensorType(text="!stablehlo.token", kind="token").byte_size is None


# -- generic-form attribute scanning ----------------------------------------------------------


def test_generic_form_constant_with_complex_value() -> None:
    asm = ('%1 = "stablehlo.constant"() <{value = dense<(6.2,0.7)> : tensor<complex<f32>>}> : '
           "() -> tensor<complex<f32>>")
    assert generic_op_attributes(asm) == {"value": "dense<(6.2,0.7)> : tensor<complex<f32>>"}


def test_generic_form_properties_and_discardable_attributes() -> None:
    asm = ('%0 = "stablehlo.custom_call"(%a) <{backend_config = "{\\"a\\": [1, 2]}", '
           'call_target_name = "foo", has_side_effect}> ({...}) '
           '{mhlo.sharding = "{devices=[2]0,1}", "odd key" = 3 : i32} : '
           "(tensor<2xf32>) -> tensor<2xf32>")
    assert generic_op_attributes(asm) == {
        "backend_config": '"{\\"a\\": [1, 2]}"',
        "call_target_name": '"foo"',
        "has_side_effect": "unit",
        "mhlo.sharding": '"{devices=[2]0,1}"',
        "odd key": "3 : i32",
    }


def test_function_type_arrow_is_not_a_closing_bracket() -> None:
    body = "function_type = (tensor<f32>) -> tensor<f32>, sym_name = \"main\""
    assert parse_attr_dict(body) == {"function_type": "(tensor<f32>) -> tensor<f32>",
                                     "sym_name": '"main"'}
    assert split_top_level("a = [1, 2], b = {c = 3, d = 4}") == ["a = [1, 2]",
                                                                  "b = {c = 3, d = 4}"]


# -- lookups over a hand-made module ----------------------------------------------------------

F32 = TensorType(text="tensor<4xf32>", shape=(4,), element_type="f32")
CALLER = Frame(file="/src/model.py", line=30, function="f")
INNER = Frame(file="/src/model.py", line=10, function="inner")
OTHER = Frame(file="/other/model.py", line=10, function="g")


def _module() -> StableModule:
    """main: %0 = add(arg0, arg0) at model.py:30; %1 = call @inner(%0); return %1.
    inner: %2 = mul(arg, arg) at model.py:10 (own loc), resolved through the call."""
    call_src = Source(name_stack="jit(f)/jit(inner)", frames=(CALLER,))
    mul_own = Source(name_stack="mul", frames=(INNER,))
    mul_src = Source(name_stack="jit(f)/jit(inner)/mul", frames=(INNER, CALLER))
    ops = (
        StableOp(id=0, name="stablehlo.add", func="main", operands=(0, 0), results=(1,),
                 operand_types=(F32, F32), result_types=(F32,),
                 loc=Source(name_stack="jit(f)/add", frames=(CALLER,)),
                 sources=(Source(name_stack="jit(f)/add", frames=(CALLER,)),)),
        StableOp(id=1, name="func.call", func="main", operands=(1,), results=(2,),
                 callee="inner", attributes=(("callee", "@inner"),), loc=call_src,
                 sources=(call_src,)),
        StableOp(id=2, name="func.return", func="main", operands=(2,)),
        StableOp(id=3, name="stablehlo.multiply", func="inner", operands=(3, 3), results=(4,),
                 loc=mul_own, sources=(mul_src,)),
        StableOp(id=4, name="func.return", func="inner", operands=(4,)),
        StableOp(id=5, name="stablehlo.abs", func="other", loc=Source(frames=(OTHER,)),
                 sources=(Source(frames=(OTHER,)),)),
    )
    values = (
        StableValue(id=0, type=F32, kind="arg", func="main"),
        StableValue(id=1, type=F32, kind="result", owner=0, func="main"),
        StableValue(id=2, type=F32, kind="result", owner=1, func="main"),
        StableValue(id=3, type=F32, kind="arg", func="inner"),
        StableValue(id=4, type=F32, kind="result", owner=3, func="inner"),
    )
    funcs = (
        StableFunc(name="main", args=(0,), arg_types=(F32,), result_types=(F32,), ops=(0, 1, 2),
                   arg_names=("x",), arg_shardings=(TensorSharding(mesh="mesh", dims=(
                       DimSharding(axes=(AxisRef(name="x"),)),)),), arg_hlo_shardings=(None,),
                   arg_attrs=((("sdy.sharding", '#sdy.sharding<@mesh, [{"x"}]>'),),)),
        StableFunc(name="inner", visibility="private", args=(3,), ops=(3, 4)),
        StableFunc(name="other", visibility="private", ops=(5,)),
    )
    mc = ManualComputation(op=0, in_shardings=(), out_shardings=(), manual_axes=("x",))
    return StableModule(name="jit_f", attributes=(("mhlo.num_partitions", "8 : i32"),),
                        funcs=funcs, ops=ops, values=values, meshes=(MESH,),
                        manual_computations=(mc,))


def test_module_facts() -> None:
    m = _module()
    assert m.num_partitions == 8
    assert m.num_replicas is None
    assert m.entry is not None
    assert m.entry.name == "main"
    assert m.mesh("mesh") is MESH
    assert [op.id for op in m.ops_of("inner")] == [3, 4]
    assert [op.id for op in m.ops_named("func.return")] == [2, 4]


def test_def_use_and_callers() -> None:
    m = _module()
    assert m.defining_op(1) is m.ops[0]
    assert m.defining_op(0) is None  # a function argument
    assert [op.id for op in m.users(1)] == [1]
    assert [op.id for op in m.users(0)] == [0]  # used twice by one op: listed once
    assert [op.id for op in m.callers("inner")] == [1]


def test_ops_at_uses_the_innermost_frame_by_default() -> None:
    m = _module()
    assert [op.id for op in m.ops_at("/src/model.py", 30)] == [0, 1]
    assert [op.id for op in m.ops_at("/src/model.py", 10)] == [3]
    # The call at line 30 made the multiply too: inclusive counts outer frames.
    assert [op.id for op in m.ops_at("/src/model.py", 30, inclusive=True)] == [0, 1, 3]


def test_ops_at_bare_file_name_matches_any_directory() -> None:
    m = _module()
    assert [op.id for op in m.ops_at("model.py", 10)] == [3, 5]
    assert m.ops_at("/elsewhere/model.py", 10) == ()


def test_source_lines_table() -> None:
    m = _module()
    assert dict(m.source_lines()) == {
        ("/other/model.py", 10): (5,),
        ("/src/model.py", 10): (3,),
        ("/src/model.py", 30): (0, 1),
    }
    assert m.source_lines(inclusive=True)[("/src/model.py", 30)] == (0, 1, 3)


def test_name_stack_lookups() -> None:
    m = _module()
    assert [op.id for op in m.ops_with_name_stack("jit(f)/jit(inner)/mul")] == [3]
    assert [op.id for op in m.ops_in_scope("jit(f)/jit(inner)")] == [1, 3]
    assert [op.id for op in m.ops_in_scope("jit(f)/jit")] == []  # whole segments only
    assert m.ops[3].name_stack == "jit(f)/jit(inner)/mul"
    assert m.ops[3].frame == INNER


# -- JSON -------------------------------------------------------------------------------------


def test_json_round_trip_is_exact() -> None:
    m = _module()
    doc = json.loads(json.dumps(serial.to_json(m)))
    back = serial.from_json(doc)
    assert back == m
    assert back.ops[3].sources == m.ops[3].sources
    assert back.funcs[0].arg_shardings == m.funcs[0].arg_shardings


def test_json_of_another_schema_is_refused() -> None:
    with pytest.raises(InputError, match="schema"):
        serial.from_json({"schema": "hloscope.stablehlo/999"})
