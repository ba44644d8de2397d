"""When XLA lets an instruction write its result into an operand's buffer that dies there:
a model of `HloDataflowAnalysis::CanShareOperandBufferWithUser` for equal shapes.

The heap simulator uses it to hand a dying operand's storage to the result (a SHARE_WITH
event); without it a chain of elementwise ops over a large array would count the array twice
at every step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from hloscope.hlo.model import Computation, Instruction, Module

ELEMENTWISE = frozenset({
    "abs", "add", "and", "atan2", "bitcast-convert", "cbrt", "ceil", "clamp", "clz", "compare",
    "complex", "convert", "copy", "cosine", "divide", "erf", "exponential",
    "exponential-minus-one", "floor", "imag", "is-finite", "log", "log-plus-one", "logistic",
    "map", "maximum", "minimum", "multiply", "negate", "not", "or", "popcnt", "power", "real",
    "reduce-precision", "remainder", "round-nearest-afz", "round-nearest-even", "rsqrt",
    "select", "shift-left", "shift-right-arithmetic", "shift-right-logical", "sign", "sine",
    "sqrt", "stochastic-convert", "subtract", "tan", "tanh", "xor",
})
"""Opcodes `HloInstruction::IsElementwise` accepts on every operand."""


class ReuseRules:
    """`can_share(user, operand_number, output_index)` with per-computation caches."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self._users: dict[str, Mapping[str, list[Instruction]]] = {}
        self._elementwise: dict[tuple[str, str, bool], bool] = {}

    def users(self, comp: Computation) -> Mapping[str, list[Instruction]]:
        users = self._users.get(comp.name)
        if users is None:
            table: dict[str, list[Instruction]] = defaultdict(list)
            for instr in comp.instructions:
                for name in dict.fromkeys(instr.operands):
                    table[name].append(instr)
            users = self._users[comp.name] = table
        return users

    def can_share(self, comp: Computation, user: Instruction, operand_number: int,
                  out_index: tuple[int, ...]) -> bool:
        op = user.opcode
        if op == "fusion":
            return self._fusion(user, operand_number)
        if op in ELEMENTWISE:
            return True
        operand = user.operands[operand_number]
        once = user.operands.count(operand) == 1
        if op in ("dynamic-update-slice", "scatter", "set-dimension-size"):
            return once and operand_number == 0
        if op == "triangular-solve":
            return once and operand_number == 1
        if op == "sort":
            if len(self.users(comp).get(operand, ())) != 1:
                return False
            return len(user.operands) == 1 or (once and out_index[:1] == (operand_number,))
        return False

    def _fusion(self, user: Instruction, operand_number: int) -> bool:
        fused = self.module.by_name.get(user.called[0]) if user.called else None
        if fused is None or operand_number >= len(fused.parameters):
            return False
        param = fused.parameters[operand_number]
        if user.fusion_kind in ("kLoop", "kInput"):
            return self._transitively_elementwise(fused, param, allow_tuple=True)
        root = fused.root_instruction
        if user.fusion_kind == "kOutput" and root.opcode == "add":
            return self._output_fusion_addend(fused, root, param)
        return self._transitively_elementwise(fused, param, allow_tuple=False)

    def _output_fusion_addend(self, fused: Computation, root: Instruction, param: str) -> bool:
        """`add(dot(...), param)`: the addend's buffer may take the result."""
        kinds = [fused.by_name[o].opcode for o in root.operands]
        if "dot" not in kinds and "convolution" not in kinds:
            return False
        matched = 0 if kinds[0] in ("dot", "convolution") else 1
        other = 1 - matched
        uses = self.users(fused).get(param, [])
        return (len(uses) == 1 and uses[0] is root and len(root.operands) > other
                and root.operands[other] == param and root.operands.count(param) == 1)

    def _transitively_elementwise(self, comp: Computation, start: str, *,
                                  allow_tuple: bool) -> bool:
        key = (comp.name, start, allow_tuple)
        hit = self._elementwise.get(key)
        if hit is None:
            hit = self._elementwise[key] = self._walk(comp, start, allow_tuple)
        return hit

    def _walk(self, comp: Computation, start: str, allow_tuple: bool) -> bool:
        users = self.users(comp)
        seen = {start}
        stack = [start]
        while stack:
            current = stack.pop()
            for user in users.get(current, ()):
                if not _elementwise_on(user, current, allow_tuple):
                    return False
                if user.name not in seen:
                    seen.add(user.name)
                    stack.append(user.name)
        return True


def _elementwise_on(user: Instruction, operand: str, allow_tuple: bool) -> bool:
    if user.opcode in ELEMENTWISE or (allow_tuple and user.opcode == "tuple"):
        return True
    if user.opcode == "dynamic-update-slice":
        return all(i == 0 for i, o in enumerate(user.operands) if o == operand)
    return False
