"""Decoding of locations and Shardy attributes in hand-written MLIR, against MLIR's own reading
of the same text (its printing of each attribute, its location classes)."""

from __future__ import annotations

import pytest

from hloscope.stablehlo import AxisRef, DimSharding, Frame, Mesh, MeshAxis, parse_stablehlo

pytestmark = pytest.mark.jax

LOCATIONS = """
func.func @f(%x: tensor<f32> loc("x")) -> tensor<f32> {
  %0 = stablehlo.sine %x : tensor<f32> loc("jit(f)/sin"(callsite("f"("/p/m.py":3:4 to :9) at "<module>"("/p/main.py":10:1))))
  %1 = stablehlo.cosine %0 : tensor<f32> loc(fused["jit(f)/a", "jit(f)/b"("g"("/p/m.py":5:2))])
  %2 = stablehlo.tanh %1 : tensor<f32> loc("/p/m.py":7:1)
  %3 = stablehlo.abs %2 : tensor<f32> loc("op_type:"("h"("/p/m.py":8:2)))
  %4 = stablehlo.negate %3 : tensor<f32> loc(unknown)
  %5 = stablehlo.exponential %4 : tensor<f32>
  return %5 : tensor<f32> loc("jit(f)"("/p/m.py":9:3))
}
"""  # noqa: E501


def test_location_forms() -> None:
    m = parse_stablehlo(LOCATIONS)
    ops = {op.opcode: op for op in m.ops}
    sine = ops["sine"]
    assert sine.loc.name_stack == "jit(f)/sin"
    assert sine.loc.frames == (
        Frame(file="/p/m.py", line=3, column=4, end_line=3, end_column=9, function="f"),
        Frame(file="/p/main.py", line=10, column=1, end_line=10, end_column=1,
              function="<module>"),
    )
    # Fused: the names joined with ';' (as XLA's op_name), the frames of the first that has any.
    cosine = ops["cosine"]
    assert cosine.loc.name_stack == "jit(f)/a;jit(f)/b"
    assert [(f.line, f.function) for f in cosine.loc.frames] == [(5, "g")]
    # A bare file position is a frame without a function.
    assert ops["tanh"].loc.frames[0].function == ""
    assert ops["tanh"].loc.name_stack == ""
    # Names ending in ':' mark op types, not name stacks (XLA skips them too).
    assert ops["abs"].loc.name_stack == ""
    assert ops["abs"].loc.frames[0].function == "h"
    assert ops["negate"].loc.frames == ()
    # No location in the text: MLIR records where it parsed the op; that is its `line`.
    assert ops["exponential"].loc.frames == ()
    assert ops["exponential"].line == 8  # the text starts with a newline
    assert ops["sine"].line == 0
    # NameLoc(name, FileLineColLoc) is a frame: jax's own frames have this form.
    assert ops["return"].loc.frames[0].function == "jit(f)"
    assert m.func("f").arg_names == ("x",)


SHARDY = """
module @m attributes {mhlo.num_partitions = 32 : i32} {
  sdy.mesh @mesh = <["x"=16, "y"=2]>
  sdy.mesh @ids = <["a"=2, "b"=2], device_ids=[3, 2, 1, 0]>
  sdy.mesh @maximal = <[], device_ids=[5]>
  func.func @main(
      %arg0: tensor<16x8xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"x":(1)2, "y"}p1, {"x":(2)4, ?}], replicated={"x":(8)2}>},
      %arg1: tensor<16xf32> {sdy.sharding = #sdy.sharding<@ids, [{}], unreduced={"a"}>},
      %arg2: tensor<4xf32> {sdy.sharding = #sdy.sharding<mesh<["q"=4]>, [{"q"}]>})
      -> (tensor<16x8xf32> {sdy.sharding = #sdy.sharding<@maximal, []>}) {
    %0 = stablehlo.add %arg0, %arg0 {sdy.sharding = #sdy.sharding_per_value<[<@mesh, [{"y"}, {}]>]>} : tensor<16x8xf32>
    %1 = sdy.reshard %0 <@mesh, [{"x"}, {?}]> : tensor<16x8xf32>
    return %1 : tensor<16x8xf32>
  }
}
"""  # noqa: E501


def test_meshes() -> None:
    m = parse_stablehlo(SHARDY)
    assert m.meshes == (
        Mesh(name="mesh", axes=(MeshAxis(name="x", size=16), MeshAxis(name="y", size=2))),
        Mesh(name="ids", axes=(MeshAxis(name="a", size=2), MeshAxis(name="b", size=2)),
             device_ids=(3, 2, 1, 0)),
        Mesh(name="maximal", axes=(), device_ids=(5,)),
    )
    assert m.num_partitions == 32


def test_sharding_fields() -> None:
    m = parse_stablehlo(SHARDY)
    main = m.func("main")
    s0, s1, s2 = main.arg_shardings
    assert s0 is not None
    assert s0.dims == (
        DimSharding(axes=(AxisRef(name="x", sub_axis=(1, 2)), AxisRef(name="y")), priority=1),
        DimSharding(axes=(AxisRef(name="x", sub_axis=(2, 4)),), is_closed=False),
    )
    assert s0.replicated == (AxisRef(name="x", sub_axis=(8, 2)),)
    assert s0.shards_per_dim(m.mesh("mesh")) == (4, 4)
    assert s1 is not None
    assert s1.unreduced == (AxisRef(name="a"),)
    assert s2 is not None
    assert s2.mesh == ""
    assert s2.inline_mesh == Mesh(name="", axes=(MeshAxis(name="q", size=4),))
    (res,) = main.result_shardings
    assert res is not None
    assert res.mesh == "maximal"


def test_shardings_print_as_mlir_prints_them() -> None:
    m = parse_stablehlo(SHARDY)
    main = m.func("main")
    for attrs, s in zip(main.arg_attrs + main.result_attrs,
                        main.arg_shardings + main.result_shardings, strict=True):
        assert str(s) == dict(attrs)["sdy.sharding"]
    add = m.ops_named("stablehlo.add")[0]
    assert len(add.shardings) == 1
    assert add.attr("sdy.sharding") == (
        f"#sdy.sharding_per_value<[{str(add.shardings[0]).removeprefix('#sdy.sharding')}]>")
    (reshard,) = m.ops_named("sdy.reshard")
    assert str(reshard.shardings[0]) == reshard.attr("sharding")
    assert reshard.shardings[0].dims[1] == DimSharding(is_closed=False)
