"""networkx views of the IR, built on demand for graph algorithms (never the primary model).

- `data_flow(module)`: one node per instruction, `(computation, name)`, with operand -> user
  edges; optionally the edges that cross into called computations.
- `call_graph(module)`: one node per computation, caller -> callee edges labelled with the
  calling instructions and the kind of call.
- `stablehlo_data_flow(m)` / `stablehlo_call_graph(m)`: the same for a `StableModule`.

networkx is imported inside the functions: importing the passes stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hloscope.hlo.model import Computation, Instruction, Module

if TYPE_CHECKING:
    from hloscope.stablehlo.model import StableModule

NodeId = tuple[str, str]
"""A data-flow node: (computation name, instruction name). Stable across runs and printing."""

CALL_KINDS = ("fusion", "while_condition", "while_body", "branch", "async", "call", "to_apply")
"""Kinds of call-graph edges. `to_apply` covers every computation applied per element or per
pair (reduce, all-reduce, scatter, sort comparator, map, select-and-scatter...)."""

_ASYNC = frozenset({"async-start", "async-update", "async-done"})
_CALLS = frozenset({"call", "custom-call"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CallSite:
    """One call of a computation: the calling instruction and how it calls."""

    computation: str
    """The caller."""
    instruction: str
    """The calling instruction (in `computation`)."""
    callee: str
    kind: str
    """One of `CALL_KINDS`."""
    index: int = 0
    """Position of the callee among the instruction's called computations (branch number)."""


def call_kinds(ins: Instruction) -> Iterator[tuple[str, str, int]]:
    """(callee, kind, position) for each computation `ins` calls, in XLA's order."""
    op = ins.opcode
    for i, callee in enumerate(ins.called):
        if op == "while":
            # XLA prints condition= before body=.
            kind = ("while_condition", "while_body")[i] if i < 2 else "call"
        elif op == "fusion":
            kind = "fusion"
        elif op == "conditional":
            kind = "branch"
        elif op in _ASYNC:
            kind = "async"
        elif op in _CALLS:
            kind = "call"
        else:
            kind = "to_apply"
        yield callee, kind, i


def call_sites(module: Module) -> Iterator[CallSite]:
    """Every call in the module, in text order."""
    for comp, ins in module.instructions():
        for callee, kind, i in call_kinds(ins):
            yield CallSite(computation=comp.name, instruction=ins.name, callee=callee, kind=kind,
                           index=i)


def call_graph(module: Module) -> Any:
    """`networkx.DiGraph` of computations. Node attributes: `role`, `is_entry`,
    `instructions` (count). Edge attributes: `calls` (tuple of `CallSite`, in text order),
    `kinds` (their kinds, deduplicated). A computation calling the same callee twice (two
    reduces with one reducer) has one edge with two calls."""
    import networkx as nx

    g = nx.DiGraph()
    for comp in module.computations:
        g.add_node(comp.name, role=comp.role.value, is_entry=comp.is_entry,
                   instructions=len(comp.instructions))
    for site in call_sites(module):
        if site.callee not in g:  # a callee the module lacks: keep the edge, mark the node
            g.add_node(site.callee, role="missing", is_entry=False, instructions=0)
        if g.has_edge(site.computation, site.callee):
            data = g.edges[site.computation, site.callee]
            data["calls"] += (site,)
            if site.kind not in data["kinds"]:
                data["kinds"] += (site.kind,)
        else:
            g.add_edge(site.computation, site.callee, calls=(site,), kinds=(site.kind,))
    return g


def _add_edge(g: Any, src: Any, dst: Any, kind: str, index: int) -> None:
    """Add (or extend) an edge; an operand used twice gives one edge with two indexes."""
    if g.has_edge(src, dst):
        data = g.edges[src, dst]
        data["indices"] += (index,)
        if kind == "data" and data["kind"] != "data":
            data["kind"] = "data"  # a data edge outranks a control-only one
    else:
        g.add_edge(src, dst, kind=kind, indices=(index,))


def _add_computation(g: Any, comp: Computation, control: bool) -> None:
    for ins in comp.instructions:
        g.add_node((comp.name, ins.name), computation=comp.name, name=ins.name,
                   opcode=ins.opcode, shape=ins.shape, is_root=ins.name == comp.root,
                   op_name=ins.op_name)
    for ins in comp.instructions:
        me = (comp.name, ins.name)
        for i, operand in enumerate(ins.operands):
            if operand in comp.by_name:
                _add_edge(g, (comp.name, operand), me, "data", i)
        if control:
            for pred in ins.control_predecessors:
                if pred in comp.by_name:
                    _add_edge(g, (comp.name, pred), me, "control", -1)


def _link_call(g: Any, module: Module, comp: Computation, ins: Instruction) -> None:
    """Edges from a call's operands into the callee's parameters, and from the callee's root
    back to the calling instruction (kinds `param` and `result`)."""
    me = (comp.name, ins.name)
    for callee, kind, branch in call_kinds(ins):
        target = module.by_name.get(callee)
        if target is None or kind == "to_apply":
            continue  # reducers see elements, not the operands' arrays
        params = target.parameters
        feeds_in = kind != "async" or ins.opcode == "async-start"
        result_out = kind not in ("while_condition", "async") or ins.opcode == "async-done"
        if not feeds_in:
            feeds: list[tuple[int, int]] = []
        elif kind == "branch":
            # operand 0 is the branch index; operand branch+1 feeds this branch's parameter.
            feeds = [(branch + 1, 0)] if params else []
        else:
            feeds = [(k, k) for k in range(min(len(ins.operands), len(params)))]
        for operand_index, param_index in feeds:
            operand = ins.operands[operand_index] if operand_index < len(ins.operands) else None
            if operand is not None and operand in comp.by_name:
                _add_edge(g, (comp.name, operand), (callee, params[param_index]), "param",
                          operand_index)
        if result_out:  # an async computation's result comes out of its async-done
            _add_edge(g, (callee, target.root), me, "result", 0)
        if kind == "while_body" and params:  # loop-carried value
            _add_edge(g, (callee, target.root), (callee, params[0]), "loop", 0)


def data_flow(
    module: Module,
    *,
    computations: tuple[str, ...] | None = None,
    control: bool = True,
    interprocedural: bool = False,
) -> Any:
    """`networkx.DiGraph` of instructions: nodes `(computation, name)` with attributes
    `computation`, `name`, `opcode`, `shape`, `is_root`, `op_name`; edges operand -> user
    with `kind` ("data", or "control" for a control predecessor when `control`) and `indices`
    (the operand positions). `computations` limits the graph to those computations.

    With `interprocedural=True`, calls are followed: operands feed the callee's parameters
    (`kind="param"`), the callee's root feeds the calling instruction (`"result"`) and a while
    body's root feeds its own parameter (`"loop"`); reducers (`to_apply`) are not linked.
    """
    import networkx as nx

    g = nx.DiGraph()
    wanted = set(computations) if computations is not None else None
    comps = [c for c in module.computations if wanted is None or c.name in wanted]
    for comp in comps:
        _add_computation(g, comp, control)
    if interprocedural:
        for comp in comps:
            for ins in comp.instructions:
                if ins.called:
                    _link_call(g, module, comp, ins)
    if wanted is not None:  # edges into excluded computations added stray nodes: drop them
        g.remove_nodes_from([n for n in list(g) if n[0] not in wanted])
    return g


def instruction_ids(module: Module) -> dict[NodeId, int]:
    """Integer ids in module order (computations in text order, instructions in order), for
    callers that want dense ids (arrays, matrices)."""
    return {(c.name, i.name): k for k, (c, i) in enumerate(module.instructions())}


# -- StableHLO --------------------------------------------------------------------------------


def stablehlo_data_flow(m: StableModule) -> Any:
    """`networkx.DiGraph` of StableHLO ops: nodes are op ids with attributes `name`, `func`,
    `parent`, `name_stack`; edges defining op -> user with `values` (the value ids carried).
    Function and block arguments have no node (they are in `m.values`)."""
    import networkx as nx

    g = nx.DiGraph()
    for op in m.ops:
        g.add_node(op.id, name=op.name, func=op.func, parent=op.parent,
                   name_stack=op.name_stack)
    for op in m.ops:
        for vid in op.operands:
            value = m.values[vid]
            if value.kind != "result" or value.owner is None:
                continue
            if g.has_edge(value.owner, op.id):
                data = g.edges[value.owner, op.id]
                if vid not in data["values"]:
                    data["values"] += (vid,)
            else:
                g.add_edge(value.owner, op.id, values=(vid,))
    return g


def stablehlo_call_graph(m: StableModule) -> Any:
    """`networkx.DiGraph` of functions: caller -> callee with `calls` (the op ids of the
    `func.call` ops, in order)."""
    import networkx as nx

    g = nx.DiGraph()
    for f in m.funcs:
        g.add_node(f.name, visibility=f.visibility, ops=len(f.ops))
    for op in m.ops:
        if op.callee is None:
            continue
        if op.callee not in g:
            g.add_node(op.callee, visibility="missing", ops=0)
        if g.has_edge(op.func, op.callee):
            g.edges[op.func, op.callee]["calls"] += (op.id,)
        else:
            g.add_edge(op.func, op.callee, calls=(op.id,))
    return g
