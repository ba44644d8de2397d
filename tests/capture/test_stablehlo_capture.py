"""The StableHLO reader on real jax lowerings (8 fake CPU devices): meshes, shardings,
manual computations, locations resolved through nested jits, and checks against XLA's own
op_names and MLIR's own printing. Also the isolated (subprocess) reader and its errors."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from hloscope.errors import InputError, ParseError
from hloscope.stablehlo import (
    AxisRef,
    Mesh,
    MeshAxis,
    StableModule,
    parse_stablehlo,
    parse_stablehlo_file,
)

pytestmark = pytest.mark.jax

HERE = Path(__file__).resolve()


def _line(marker: str) -> int:
    """Line number of the source line of this file ending with `# <marker>`."""
    for n, text in enumerate(HERE.read_text().splitlines(), 1):
        if text.rstrip().endswith(f"# {marker}"):
            return n
    raise AssertionError(marker)


def _program() -> Any:
    """A small sharded program: a named scope, a sharding constraint, a nested jit calling
    jax.nn.relu (itself a nested jit), a shard_map with a psum, and a scan."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    mesh = jax.make_mesh((2, 4), ("data", "model"), axis_types=(AxisType.Auto,) * 2)

    @jax.jit
    def inner(y: Any) -> Any:
        return jax.nn.relu(y) * 2  # mark:relu

    def f(x: Any, w: Any) -> Any:
        with jax.named_scope("layer1"):
            y = x @ w  # mark:dot
        y = jax.lax.with_sharding_constraint(y, NamedSharding(mesh, P("data", "model")))
        y = inner(y)  # mark:inner

        @partial(jax.shard_map, mesh=mesh, in_specs=P("data", "model"),
                 out_specs=P("data", None))
        def sm(a: Any) -> Any:
            return jax.lax.psum(a, "model")  # mark:psum

        z = sm(y)  # mark:shard_map

        def body(c: Any, row: Any) -> tuple[Any, Any]:
            return c + row.sum(), jnp.sin(row)  # mark:scan_body

        total, sines = jax.lax.scan(body, 0.0, z)  # mark:scan
        return total + sines.sum()

    x = jax.ShapeDtypeStruct((16, 64), jnp.float32, sharding=NamedSharding(mesh, P("data")))
    w = jax.ShapeDtypeStruct((64, 128), jnp.float32,
                             sharding=NamedSharding(mesh, P(None, "model")))
    return jax.jit(f).trace(x, w).lower()


@pytest.fixture(scope="module")
def lowered() -> Any:
    return _program()


@pytest.fixture(scope="module")
def text(lowered: Any) -> str:
    return str(lowered.as_text(debug_info=True))


@pytest.fixture(scope="module")
def module(text: str) -> StableModule:
    return parse_stablehlo(text, source="capture.mlir")


def test_module_attributes_and_mesh(module: StableModule) -> None:
    assert module.name == "jit_f"
    assert module.num_partitions == 8
    assert module.num_replicas == 1
    assert module.meshes == (
        Mesh(name="mesh", axes=(MeshAxis(name="data", size=2), MeshAxis(name="model", size=4))),
    )


def test_entry_arguments_and_results(module: StableModule) -> None:
    main = module.func("main")
    assert module.entry is main
    assert main.arg_names == ("x", "w")
    assert [t.shape for t in main.arg_types] == [(16, 64), (64, 128)]
    assert [t.element_type for t in main.arg_types] == ["f32", "f32"]
    x, w = main.arg_shardings
    assert x is not None
    assert w is not None
    assert x.mesh == "mesh"
    assert [[a.name for a in d.axes] for d in x.dims] == [["data"], []]
    assert [[a.name for a in d.axes] for d in w.dims] == [[], ["model"]]
    assert main.result_names == ("result",)
    assert main.result_types[0].shape == ()


def test_decoded_shardings_print_as_mlir_does(module: StableModule) -> None:
    """Our Shardy values written back equal MLIR's printing of the attributes they came from."""
    main = module.func("main")
    for attrs, sharding in zip(main.arg_attrs, main.arg_shardings, strict=True):
        assert sharding is not None
        assert str(sharding) == dict(attrs)["sdy.sharding"]
    (constraint,) = module.ops_named("sdy.sharding_constraint")
    assert constraint.shardings[0].dims[1].axes == (AxisRef(name="model"),)
    assert str(constraint.shardings[0]) == constraint.attr("sharding")


def test_manual_computation(module: StableModule) -> None:
    (mc,) = module.manual_computations
    op = module.ops[mc.op]
    assert op.name == "sdy.manual_computation"
    assert mc.manual_axes == ("data", "model")
    assert [str(s) for s in mc.in_shardings] == ['#sdy.sharding<@mesh, [{"data"}, {"model"}]>']
    assert [str(s) for s in mc.out_shardings] == ['#sdy.sharding<@mesh, [{"data"}, {}]>']
    names = [module.ops[i].name for i in mc.body]
    assert "stablehlo.all_reduce" in names
    assert all(module.ops[i].parent is not None for i in mc.body)
    # Inside the body values have the per-device shape: 16x128 over data=2, model=4.
    assert module.values[op.region_args[0][0]].type.shape == (8, 32)


def test_locations_point_at_this_file(module: StableModule) -> None:
    (dot,) = module.ops_named("stablehlo.dot_general")
    assert dot.name_stack == "jit(f)/layer1/dot_general"
    assert dot.frame is not None
    assert (dot.frame.file, dot.frame.line) == (str(HERE), _line("mark:dot"))
    assert dot.frame.function == "_program.<locals>.f"
    assert dot in module.ops_at(str(HERE), _line("mark:dot"))
    assert dot in module.ops_at(HERE.name, _line("mark:dot"))
    (psum,) = module.ops_named("stablehlo.all_reduce")
    assert psum.frame is not None
    assert psum.frame.line == _line("mark:psum")
    assert psum.name_stack == "jit(f)/shard_map/psum_invariant"
    sines = module.ops_named("stablehlo.sine")
    assert sines
    assert all(s.frame is not None and s.frame.line == _line("mark:scan_body") for s in sines)


def test_ops_of_nested_jits_get_the_callers_name_stack_and_frames(module: StableModule) -> None:
    """jax writes relu's ops into `func.func private @relu` with `loc("max")`; resolved, the
    maximum has XLA's op_name for it and the frames of the calls that reach it."""
    (maximum,) = module.ops_named("stablehlo.maximum")
    assert maximum.func == "relu"
    assert maximum.loc.name_stack == "max"
    assert maximum.loc.frames == ()
    assert maximum.name_stack == "jit(f)/jit(inner)/jit(relu)/max"
    lines = [(fr.file, fr.line) for fr in maximum.frames]
    assert lines[:2] == [(str(HERE), _line("mark:relu")), (str(HERE), _line("mark:inner"))]
    assert maximum in module.ops_at(str(HERE), _line("mark:relu"))
    assert maximum in module.ops_at(str(HERE), _line("mark:inner"), inclusive=True)
    assert maximum not in module.ops_at(str(HERE), _line("mark:inner"))
    assert maximum in module.ops_in_scope("jit(f)/jit(inner)")


def test_name_stacks_cover_xla_op_names(lowered: Any, module: StableModule) -> None:
    """Every op_name XLA writes into the optimized HLO is the name stack of some StableHLO op,
    except the names of parameters (of main, and of the psum's reducer block)."""
    hlo = lowered.compile().as_text()
    xla = set(re.findall(r'op_name="([^"]*)"', hlo))
    ours = {s.name_stack for op in module.ops for s in op.sources}
    params = set(module.func("main").arg_names)
    assert xla - ours - params <= {"psum_invariant"}
    assert "jit(f)/jit(inner)/jit(relu)/max" in xla
    assert "jit(f)/shard_map/psum_invariant" in xla
    # Reducer regions keep their own names in XLA, also inside called functions: the scan
    # body's `row.sum()` reducer is `reduce_sum`, the psum's is `add`.
    assert {"reduce_sum", "add"} <= xla
    (psum,) = module.ops_named("stablehlo.all_reduce")
    reducer = [op for op in module.ops if op.parent == psum.id]
    assert {op.name_stack for op in reducer} == {"add", "psum_invariant"}


def test_sharding_propagation_gives_per_value_shardings(text: str) -> None:
    """After Shardy's propagation every op carries `sdy.sharding_per_value`; decoded per
    result, and equal to MLIR's printing."""
    from jax.extend.mlir import ir, passmanager

    from hloscope._jaxapi import make_ir_context

    with make_ir_context(), ir.Location.unknown():
        m = ir.Module.parse(text)
        passmanager.PassManager.parse("builtin.module(inline,sdy-propagation-pipeline)").run(
            m.operation)
        propagated = m.operation.get_asm(enable_debug_info=True)
    module = parse_stablehlo(propagated)
    with_sharding = [op for op in module.ops if op.attr("sdy.sharding")]
    assert len(with_sharding) > 3
    for op in with_sharding:
        assert len(op.shardings) == len(op.results)
        raw = op.attr("sdy.sharding")
        assert raw is not None
        inner = ", ".join(str(s).removeprefix("#sdy.sharding") for s in op.shardings)
        assert raw == f"#sdy.sharding_per_value<[{inner}]>"
    (dot,) = module.ops_named("stablehlo.dot_general")
    assert [[a.name for a in d.axes] for d in dot.shardings[0].dims] == [["data"], ["model"]]


def test_gspmd_lowering_keeps_mhlo_sharding_strings() -> None:
    import jax
    from jax.sharding import NamedSharding

    from hloscope import _jaxapi

    previous = jax.config.jax_use_shardy_partitioner
    jax.config.update("jax_use_shardy_partitioner", False)
    try:
        lowered = _program()
        m = parse_stablehlo(lowered.as_text(debug_info=True))
    finally:
        jax.config.update("jax_use_shardy_partitioner", previous)
    main = m.func("main")
    assert m.meshes == ()
    assert main.arg_shardings == (None, None)
    hlo_x, hlo_w = main.arg_hlo_shardings
    assert hlo_x is not None
    assert hlo_w is not None
    # XLA's own sharding parser accepts them, and they are what jax lowers the specs to.
    _jaxapi.hlo_sharding_from_string(hlo_w)
    mesh = jax.make_mesh((2, 4), ("data", "model"))
    expected = _jaxapi.hlo_sharding_text(
        NamedSharding(mesh, jax.sharding.PartitionSpec(None, "model")), 2)
    assert hlo_w == expected
    assert any(op.hlo_sharding for op in m.ops if op.name == "stablehlo.custom_call")


# -- files and isolation ----------------------------------------------------------------------


def test_isolated_file_read_equals_in_process(tmp_path: Path, text: str,
                                              module: StableModule) -> None:
    path = tmp_path / "capture.mlir"
    path.write_text(text)
    isolated = parse_stablehlo_file(path)
    assert isolated == parse_stablehlo(text, source=str(path))
    assert isolated.source_path == str(path)
    assert isolated.ops == module.ops


def test_analysis_reads_the_captures_stablehlo_isolated(text: str, module: StableModule) -> None:
    import hloscope
    from hloscope.records import Capture

    bad = hloscope.analyze(Capture(name="bad", origin="bad.mlir", stablehlo="func.func @f("))
    with pytest.raises(ParseError, match=r"^bad\.mlir:1:\d+: "):
        _ = bad.stablehlo
    good = hloscope.analyze(Capture(name="jit_f", origin="capture.mlir", stablehlo=text))
    assert good.stablehlo.ops == module.ops


def test_bytecode_file_reads(tmp_path: Path, text: str, module: StableModule) -> None:
    from jax.extend.mlir import ir

    from hloscope._jaxapi import make_ir_context

    path = tmp_path / "capture.mlirbc"
    with make_ir_context(), ir.Location.unknown():
        m = ir.Module.parse(text)
        with path.open("wb") as f:
            m.operation.write_bytecode(f)
    assert path.read_bytes().startswith(b"ML\xefR")
    assert _without_col0_ends(parse_stablehlo_file(path).ops) == _without_col0_ends(module.ops)


def _without_col0_ends(ops: Any) -> Any:
    """MLIR's bytecode keeps no end column for a location range starting at column 0 (seen
    for `<string>:8` frames that pytest-xdist's exec adds to every stack): compare those
    frames without their end column."""
    import dataclasses

    def frame(f: Any) -> Any:
        return dataclasses.replace(f, end_column=0) if f.column == 0 else f

    def source(s: Any) -> Any:
        return None if s is None else dataclasses.replace(
            s, frames=tuple(frame(f) for f in s.frames))

    return tuple(dataclasses.replace(o, loc=source(o.loc),
                                     sources=tuple(source(s) for s in o.sources))
                 for o in ops)


def test_native_parser_crash_becomes_an_error_line(tmp_path: Path) -> None:
    """A type nested 100,000 deep overflows the stack of jaxlib's recursive-descent parser
    (SIGSEGV in-process); isolated, it is an InputError and this process lives on."""
    n = 100_000
    path = tmp_path / "deep.mlir"
    path.write_text(f"func.func @f(%a: {'tuple<' * n}f32{'>' * n}) {{ return }}")
    with pytest.raises(InputError, match=r"deep\.mlir: jaxlib's MLIR parser crashed \(SIG"):
        parse_stablehlo_file(path)


def test_bad_mlir_is_one_parse_error_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.mlir"
    path.write_text("func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
                    "  %0 = stablehlo.add %a, %b : tensor<4xf32>\n"
                    "  return %0 : tensor<4xf32>\n}\n")
    for safe in (True, False):
        with pytest.raises(ParseError) as info:
            parse_stablehlo_file(path, safe=safe)
        assert str(info.value) == f"{path}:2:26: use of undeclared SSA value name"
        assert (info.value.line, info.value.column) == (2, 26)


def test_text_errors_name_the_source() -> None:
    with pytest.raises(ParseError, match=r"^<text>:1:\d+: custom op 'stablehlo.foo' is unknown$"):
        parse_stablehlo("func.func @f() {\n %0 = stablehlo.foo : tensor<f32>\n return }".replace(
            "\n", " "))
    with pytest.raises(ParseError, match=r"^m\.mlir:2:\d+: "):
        parse_stablehlo("func.func @f() {\n  return %x : tensor<f32>\n}", source="m.mlir")


VERIFY_FAILS = """func.func @f(%a: tensor<4xf32>, %b: tensor<4xi32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %b : (tensor<4xf32>, tensor<4xi32>) -> tensor<4xf32>LOC
  return %0 : tensor<4xf32>
}"""


def test_verifier_errors_name_the_op() -> None:
    """MLIR's verifier says `op requires ...`; we name the op from the text position."""
    with pytest.raises(ParseError) as info:
        parse_stablehlo(VERIFY_FAILS.replace("LOC", ""), source="v.mlir")
    assert str(info.value) == ("v.mlir:2:8: 'stablehlo.add' op requires the same element type "
                               "for all operands and results")


def test_verifier_errors_at_debug_locations_are_not_text_positions() -> None:
    """An op carrying jax's location is reported at that Python position, which is no line of
    the MLIR text: we say so instead of passing it off as one."""
    text = VERIFY_FAILS.replace("LOC", ' loc("model.py":3:4)')
    for safe in (False, True):
        with pytest.raises(ParseError) as info:
            parse_stablehlo(text, source="v.mlir", safe=safe)
        assert info.value.line is None
        assert str(info.value) == ("v.mlir: op requires the same element type for all operands "
                                   "and results (op at model.py:3:4)")


def test_nesting_deeper_than_python_is_an_input_error() -> None:
    """MLIR's parser takes 1,500 nested regions; our walk would overflow Python's stack."""
    body = "%r = stablehlo.constant dense<1.0> : tensor<f32>\n stablehlo.return %r : tensor<f32>"
    n = 1500
    for i in range(n):
        ret = "return" if i == n - 1 else "stablehlo.return"
        body = (f'%c{i} = "stablehlo.case"(%i) ({{\n {body}\n }}) : (tensor<i32>) -> '
                f"tensor<f32>\n {ret} %c{i} : tensor<f32>")
    text = f"func.func @f(%i: tensor<i32>) -> tensor<f32> {{\n{body}\n}}\n"
    for safe in (False, True):
        with pytest.raises(InputError, match=r"^deep\.mlir: regions or locations nest too deeply"):
            parse_stablehlo(text, source="deep.mlir", safe=safe)


def test_unreadable_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        parse_stablehlo_file(tmp_path / "missing.mlir")
    binary = tmp_path / "binary.mlir"
    binary.write_bytes(b"\x00\xff\xfe garbage")
    with pytest.raises(InputError, match="not UTF-8"):
        parse_stablehlo_file(binary)
