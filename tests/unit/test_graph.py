"""passes/graph.py: data-flow and call graphs of the IR (and of a StableModule)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from hloscope.hlo import parse
from hloscope.hlo.model import Computation, Instruction, Module, Role, Shape
from hloscope.passes import graph
from hloscope.stablehlo import (
    Source,
    StableFunc,
    StableModule,
    StableOp,
    StableValue,
    TensorType,
)

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def module() -> Module:
    """fusion, while (cond/body), conditional with two branches, reduces sharing one reducer,
    a control predecessor, async-start/done around a computation with an all-reduce."""
    return parse((DATA / "graph_calls.hlo").read_text(), name="graph_calls.hlo")


def test_data_flow_nodes_are_every_instruction(module: Module) -> None:
    g = graph.data_flow(module)
    assert set(g) == {(c.name, i.name) for c, i in module.instructions()}
    node = g.nodes["main", "f"]
    assert (node["opcode"], node["computation"], node["is_root"]) == ("fusion", "main", False)
    assert g.nodes["main", "out"]["is_root"]
    assert node["shape"] == module.computation("main")["f"].shape


def test_operand_edges_point_to_users(module: Module) -> None:
    g = graph.data_flow(module)
    assert set(g.predecessors(("main", "tup"))) == {("main", "zero"), ("main", "f")}
    # f = fusion(x, x): one edge carrying both operand positions.
    assert g.edges[("main", "x"), ("main", "f")] == {"kind": "data", "indices": (0, 1)}
    assert list(g.successors(("main", "out"))) == []
    # Without interprocedural links, computations are separate components.
    assert not nx.has_path(g, ("main", "x"), ("fused", "m"))


def test_control_predecessors_are_control_edges(module: Module) -> None:
    g = graph.data_flow(module)
    assert g.edges[("main", "r1"), ("main", "r2")]["kind"] == "control"
    assert not graph.data_flow(module, control=False).has_edge(("main", "r1"), ("main", "r2"))


def test_data_flow_is_a_dag_per_computation(module: Module) -> None:
    assert nx.is_directed_acyclic_graph(graph.data_flow(module))
    order = list(nx.topological_sort(graph.data_flow(module, computations=("main",))))
    assert order.index(("main", "f")) < order.index(("main", "w")) < order.index(("main", "br"))


def test_interprocedural_links_follow_calls(module: Module) -> None:
    g = graph.data_flow(module, interprocedural=True)
    # fusion operands feed the fused parameters; the fused root feeds the fusion.
    assert g.edges[("main", "x"), ("fused", "p0")]["kind"] == "param"
    assert g.edges[("fused", "e"), ("main", "f")]["kind"] == "result"
    # while: the init tuple feeds both parameters; the body loops on itself.
    assert g.has_edge(("main", "tup"), ("cond", "c"))
    assert g.has_edge(("main", "tup"), ("body", "t"))
    assert g.edges[("body", "r"), ("body", "t")]["kind"] == "loop"
    assert g.has_edge(("body", "r"), ("main", "w"))
    assert not g.has_edge(("cond", "lt"), ("main", "w"))
    # conditional: operand k+1 feeds branch k; operand 0 (the index) feeds no branch.
    assert g.edges[("main", "wv"), ("neg", "x")]["indices"] == (1,)
    assert g.edges[("main", "wv"), ("sq", "x")]["indices"] == (2,)
    assert not g.has_edge(("main", "k"), ("neg", "x"))
    # async: operands enter at the start, the result leaves at the done.
    assert g.has_edge(("main", "br"), ("wrapped", "w"))
    assert g.has_edge(("wrapped", "ar"), ("main", "ad"))
    assert not g.has_edge(("wrapped", "ar"), ("main", "as"))
    # reducers are not linked to the arrays they reduce.
    assert not g.has_edge(("main", "br"), ("add", "a"))
    assert nx.has_path(g, ("main", "x"), ("main", "out"))


def test_computations_filter(module: Module) -> None:
    g = graph.data_flow(module, computations=("main", "body"), interprocedural=True)
    assert {n[0] for n in g} == {"main", "body"}
    assert g.edges[("body", "r"), ("body", "t")]["kind"] == "loop"
    assert g.has_edge(("main", "tup"), ("body", "t"))
    # Calls are followed from the computations kept: alone, the body has no links.
    alone = graph.data_flow(module, computations=("body",), interprocedural=True)
    assert {n[0] for n in alone} == {"body"}
    assert not alone.has_edge(("body", "r"), ("body", "t"))


def test_call_graph_kinds(module: Module) -> None:
    g = graph.call_graph(module)
    assert set(g) == {c.name for c in module.computations}
    assert g.nodes["main"]["is_entry"]
    assert g.nodes["main"]["role"] == "entry"
    kinds = {(a, b): d["kinds"] for a, b, d in g.edges(data=True)}
    assert kinds == {
        ("main", "fused"): ("fusion",),
        ("main", "cond"): ("while_condition",),
        ("main", "body"): ("while_body",),
        ("main", "neg"): ("branch",),
        ("main", "sq"): ("branch",),
        ("main", "add"): ("to_apply",),
        ("main", "wrapped"): ("async",),
        ("wrapped", "add"): ("to_apply",),
    }
    reduces = g.edges["main", "add"]["calls"]
    assert [c.instruction for c in reduces] == ["r1", "r2"]
    assert [c.index for c in g.edges["main", "sq"]["calls"]] == [1]
    assert [c.instruction for c in g.edges["main", "wrapped"]["calls"]] == ["as", "ad"]
    assert nx.is_directed_acyclic_graph(g)


def test_call_graph_marks_missing_callees() -> None:
    leaf = Instruction(name="p", opcode="parameter", shape=Shape("f32"), parameter_number=0)
    caller = Instruction(name="c", opcode="call", shape=Shape("f32"), operands=("p",),
                         called=("gone",), is_root=True)
    comp = Computation(name="main", instructions=(leaf, caller), root="c", is_entry=True,
                       role=Role.ENTRY, parameters=("p",), by_name={"p": leaf, "c": caller})
    m = Module(name="m", computations=(comp,), entry="main", by_name={"main": comp})
    g = graph.call_graph(m)
    assert g.nodes["gone"]["role"] == "missing"
    assert g.edges["main", "gone"]["kinds"] == ("call",)
    # and the data flow still builds (no callee to link into)
    assert set(graph.data_flow(m, interprocedural=True).edges) == {(("main", "p"), ("main", "c"))}


def test_instruction_ids_follow_module_order(module: Module) -> None:
    ids = graph.instruction_ids(module)
    assert list(ids.values()) == list(range(module.instruction_count))
    assert ids["add", "a"] == 0
    assert ids["main", "out"] == module.instruction_count - 1


def test_stablehlo_graphs() -> None:
    t = TensorType(text="tensor<f32>", element_type="f32")
    ops = (
        StableOp(id=0, name="stablehlo.add", func="main", operands=(0, 0), results=(1,)),
        StableOp(id=1, name="func.call", func="main", operands=(1,), results=(2,),
                 callee="inner"),
        StableOp(id=2, name="stablehlo.multiply", func="main", operands=(1, 2), results=(3,),
                 sources=(Source(name_stack="jit(f)/mul"),)),
        StableOp(id=3, name="func.return", func="main", operands=(3,)),
        StableOp(id=4, name="func.return", func="inner", operands=(4,)),
    )
    values = (
        StableValue(id=0, type=t, kind="arg", func="main"),
        StableValue(id=1, type=t, kind="result", owner=0, func="main"),
        StableValue(id=2, type=t, kind="result", owner=1, func="main"),
        StableValue(id=3, type=t, kind="result", owner=2, func="main"),
        StableValue(id=4, type=t, kind="arg", func="inner"),
    )
    m = StableModule(funcs=(StableFunc(name="main", ops=(0, 1, 2, 3)),
                            StableFunc(name="inner", visibility="private", ops=(4,))),
                     ops=ops, values=values)
    g = graph.stablehlo_data_flow(m)
    assert set(g.edges) == {(0, 1), (0, 2), (1, 2), (2, 3)}
    assert g.edges[0, 2]["values"] == (1,)
    assert g.nodes[2]["name_stack"] == "jit(f)/mul"
    cg = graph.stablehlo_call_graph(m)
    assert cg.edges["main", "inner"]["calls"] == (1,)
    assert cg.nodes["inner"]["visibility"] == "private"
