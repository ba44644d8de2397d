"""Result shapes XLA lets a text omit (`ROOT r = or(x, y)`), for the cases hloscope infers:
elementwise ops, compare, tuple and get-tuple-element. Others return None (the parser then
asks for the shape)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hloscope.hlo.model import Shape

_SAME_AS_OPERAND = frozenset({
    "abs", "add", "and", "atan2", "cbrt", "ceil", "copy", "cosine", "cosh", "count-leading-zeros",
    "divide", "erf", "exponential", "exponential-minus-one", "floor", "log", "log-plus-one",
    "logistic", "maximum", "minimum", "multiply", "negate", "not", "or", "popcnt", "power",
    "remainder", "round-nearest-afz", "round-nearest-even", "rsqrt", "shift-left",
    "shift-right-arithmetic", "shift-right-logical", "sign", "sine", "sinh", "sqrt",
    "subtract", "tan", "tanh", "xor", "acos", "acosh", "asin", "asinh", "atanh", "clamp",
})


def infer_shape(opcode: str, operands: Sequence[Shape], attrs: Mapping[str, str]) -> Shape | None:
    if opcode in _SAME_AS_OPERAND and operands:
        # clamp(min, x, max): the result has x's shape.
        return operands[1] if opcode == "clamp" and len(operands) == 3 else operands[0]
    if opcode == "select" and len(operands) == 3:
        return operands[1]
    if opcode in ("compare", "is-finite") and operands:
        s = operands[0]
        return Shape("pred", s.dims, s.dynamic, s.layout)
    if opcode == "tuple":
        return Shape("tuple", tuple_shapes=tuple(operands))
    if opcode == "get-tuple-element" and len(operands) == 1:
        index = attrs.get("index", "")
        t = operands[0]
        if index.isdigit() and len(index) < 10 and int(index) < len(t.tuple_shapes):
            return t.tuple_shapes[int(index)]
    return None


_U32 = Shape("u32")
_TOKEN = Shape("token")


def xla_fixed_shape(opcode: str, written: Shape, operands: Sequence[Shape]) -> Shape | None:
    """The shape XLA's parser gives send/recv ops whatever the text says (it rebuilds them from
    the operands: the context is always `u32[]` and recv-done drops it). None for other ops."""
    if opcode == "send" and operands:
        return Shape("tuple", tuple_shapes=(operands[0], _U32, _TOKEN))
    if opcode == "recv" and written.tuple_shapes:
        return Shape("tuple", tuple_shapes=(written.tuple_shapes[0], _U32, _TOKEN))
    if opcode == "recv-done" and operands and operands[0].tuple_shapes:
        return Shape("tuple", tuple_shapes=(operands[0].tuple_shapes[0], _TOKEN))
    if opcode == "send-done":
        return _TOKEN
    return None
