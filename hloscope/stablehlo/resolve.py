"""Resolve each op's location through the calls that reach it.

jax lowers a nested jit (and `jax.nn.relu`, scan bodies' helpers, `closed_call`...) to a
`func.func private` whose ops carry short locations: `loc("max")`, `loc("mul"("inner"(f.py:10)))`.
XLA inlines those calls and prefixes the op_name with the call's: the `max` above becomes
`jit(f)/jit(inner)/jit(relu)/max` in the optimized HLO. We do the same, and also continue the
frames with the call site's, so an op inside `relu` points at the user's line that called it.
The body of an `sdy.manual_computation` (shard_map) is treated like a called function: jax
writes its ops' names relative to it (`psum_invariant` -> `jit(f)/shard_map/psum_invariant`).

Regions that XLA turns into applied computations (the reducer of a reduce, all_reduce,
scatter, sort...) are the exception, measured on jax 0.10.2: XLA leaves their op_names as
written (`reduce_sum`, `add`) while it prefixes while bodies and case branches. The name stack
follows XLA there too, so it can be matched against HLO op_names; the frames still continue
through the call sites.

A function called from several places gets one `Source` per call path (capped).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hloscope.stablehlo.model import NO_SOURCE, Frame, Source

# Ops whose regions become `to_apply`-style computations in HLO (see the module docstring).
APPLIED_REGION_OPS = frozenset(
    f"{dialect}.{op}"
    for dialect in ("stablehlo", "mhlo")
    for op in ("reduce", "reduce_window", "select_and_scatter", "scatter", "sort", "map",
               "all_reduce", "reduce_scatter")
)

MAX_PATHS = 256
"""Call paths kept per op; a function called 48 times from a function called 48 times would
otherwise multiply out."""


@dataclass(frozen=True, slots=True)
class Node:
    """What resolution needs to know of an op."""

    id: int
    name: str
    func: str
    parent: int | None
    loc: Source
    callee: str | None


def resolve_sources(nodes: Sequence[Node], funcs: Iterable[str]) -> list[tuple[Source, ...]]:
    """Per op (in `nodes` order, ids equal to positions), its sources, first call path first."""
    resolver = _Resolver(nodes, funcs)
    return [resolver.op_sources(n.id) for n in nodes]


class _Resolver:
    def __init__(self, nodes: Sequence[Node], funcs: Iterable[str]) -> None:
        self.nodes = nodes
        names = set(funcs)
        self.callers: dict[str, list[int]] = {}
        for n in nodes:
            if n.callee is not None and n.callee in names:
                self.callers.setdefault(n.callee, []).append(n.id)
        self.op_memo: dict[int, tuple[Source, ...]] = {}
        self.scope_memo: dict[int, tuple[tuple[Source, ...], bool]] = {}
        self.func_memo: dict[str, tuple[Source, ...]] = {}
        self.in_progress: set[str] = set()
        self.interned: dict[tuple[str, tuple[Frame, ...]], Source] = {}

    def func_contexts(self, name: str) -> tuple[Source, ...]:
        """The prefixes (name stack and frames of each call site) of `name`'s ops."""
        found = self.func_memo.get(name)
        if found is not None:
            return found
        calls = self.callers.get(name)
        if not calls or name in self.in_progress:  # a root, or a recursive call (not from jax)
            return (NO_SOURCE,)
        self.in_progress.add(name)
        contexts: dict[Source, None] = {}
        for call in calls:
            for s in self.op_sources(call):
                if len(contexts) < MAX_PATHS:
                    contexts[s] = None
        self.in_progress.discard(name)
        result = tuple(contexts)
        self.func_memo[name] = result
        return result

    def scope(self, node: Node) -> tuple[tuple[Source, ...], bool]:
        """Contexts of the region holding `node`, and whether they come from a manual
        computation (whose body names may already be absolute in other jax versions)."""
        if node.parent is None:
            return (self.func_contexts(node.func) if node.func else (NO_SOURCE,)), False
        found = self.scope_memo.get(node.parent)
        if found is None:
            parent = self.nodes[node.parent]
            if parent.name == "sdy.manual_computation":
                found = (self.op_sources(parent.id), True)
            elif parent.name in APPLIED_REGION_OPS:
                contexts, _ = self.scope(parent)
                found = (self.frames_only(contexts), False)
            else:
                found = self.scope(parent)
            self.scope_memo[node.parent] = found
        return found

    def frames_only(self, contexts: tuple[Source, ...]) -> tuple[Source, ...]:
        if all(c is NO_SOURCE for c in contexts):
            return contexts
        return tuple(dict.fromkeys(
            c if c is NO_SOURCE else self.intern("", c.frames) for c in contexts))

    def intern(self, name_stack: str, frames: tuple[Frame, ...]) -> Source:
        key = (name_stack, frames)
        found = self.interned.get(key)
        if found is None:
            found = self.interned[key] = Source(name_stack=name_stack, frames=frames)
        return found

    def op_sources(self, op_id: int) -> tuple[Source, ...]:
        found = self.op_memo.get(op_id)
        if found is not None:
            return found
        node = self.nodes[op_id]
        contexts, manual = self.scope(node)
        if len(contexts) == 1 and contexts[0] is NO_SOURCE:  # most ops: no call above them
            result: tuple[Source, ...] = (node.loc,)
        else:
            result = tuple(dict.fromkeys(self.combine(c, node.loc, manual) for c in contexts))
        self.op_memo[op_id] = result
        return result

    def combine(self, context: Source, own: Source, manual: bool) -> Source:
        if context is NO_SOURCE:
            return own
        prefix, name = context.name_stack, own.name_stack
        if not prefix:
            full = name
        elif not name:
            full = prefix
        elif manual and (name == prefix or name.startswith(prefix + "/")):
            full = name
        else:
            full = f"{prefix}/{name}"
        return self.intern(full, own.frames + context.frames)
