"""The rule table of `passes/cost.py`: one function per opcode, XLA's HloCostAnalysis conventions.

Written from `xla/service/hlo_cost_analysis.cc` and checked instruction by instruction against
the C++ analysis jaxlib ships (`tests/conformance/test_cost_per_instruction.py`). The size of
a shape is the CPU client's (`cpu::CpuExecutable::ShapeSizeBytes`, which is what both
`compiled.cost_analysis()` and `_jax.hlo_module_cost_analysis(cpu_client, ...)` use): arrays
are elements x element size, a tuple is one 8-byte pointer per element (its top level only),
an opaque is 8 bytes, a token 0, and a dynamic (`<=N`) array adds 4 bytes per dimension.

Default (XLA's `Preprocess`): bytes = every leaf of the result + every operand at its top-level
size; flops = transcendentals = 0.
Handlers then override. A rule gets `(ctx, computation, instruction)` and returns an `OpCost`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from hloscope.hlo.model import Computation, Instruction, Shape

if TYPE_CHECKING:
    from hloscope.passes.cost import OpCost

POINTER_BYTES = 8
"""sizeof(void*) on the CPU client: a tuple's index table and an opaque."""

FMA_FLOPS = 2
"""A fused multiply-add counts as two floating-point operations (`kFmaFlops`)."""

ELEMENTWISE_FLOPS = frozenset(
    """abs add and bitcast-convert ceil clamp compare complex convert count-leading-zeros divide
    floor imag is-finite maximum minimum multiply mulhi negate not or popcnt real
    reduce-precision remainder round-nearest-afz round-nearest-even select shift-left
    shift-right-arithmetic shift-right-logical sign stochastic-convert subtract xor""".split()
)
"""One flop per result element (`HandleElementwiseOp`)."""

ELEMENTWISE_TRANSCENDENTAL = frozenset(
    """acos acosh asin asinh atan2 atanh cbrt cosh cosine erf exponential exponential-minus-one
    log log-plus-one logistic power rsqrt sine sinh sqrt tan tanh""".split()
)
"""One transcendental per result element; measured against jaxlib 0.10.2 (the list in XLA
grew over time: acos/asin/... were added after the 2024 sources)."""

NO_COST_DEFAULT_BYTES = frozenset(
    """all-gather all-gather-done all-gather-start all-reduce-done all-to-all async-done
    async-update broadcast collective-broadcast collective-permute collective-permute-done
    collective-permute-start concatenate copy copy-done copy-start dynamic-reshape
    get-dimension-size iota opt-barrier pad partition-id ragged-all-to-all recv
    recv-done reduce-scatter replica-id reshape reverse rng-get-and-update-state send send-done
    set-dimension-size""".split()
)
"""No flops; bytes as the default (result + operands). XLA's handlers return OK unchanged."""

NO_RULE_IN_XLA = frozenset(
    """batch-norm-grad batch-norm-inference batch-norm-training topk""".split()
)
"""XLA's handler is a TODO that leaves flops at 0 (default bytes): the figure exists but means
nothing, so the report lists these in `unknown_ops`."""

ZERO_BYTES = frozenset(
    "add-dependency after-all bitcast constant domain get-tuple-element parameter".split()
)
"""XLA sets bytes accessed to 0: no code is emitted or nothing is touched."""


class CostContext(Protocol):
    """What a rule may ask of the pass (implemented in `passes/cost.py`)."""

    def computation(self, name: str) -> Computation: ...

    def computation_cost(self, name: str) -> OpCost:
        """XLA's `ProcessSubcomputation`: the sum over every instruction of the computation."""
        ...

    def users(self, computation: Computation) -> Mapping[str, tuple[Instruction, ...]]: ...

    def make(self, flops: float = 0.0, transcendentals: float = 0.0,
             bytes_accessed: float = 0.0) -> OpCost: ...


Rule = Callable[[CostContext, Computation, Instruction], "OpCost"]


# -- shapes and attributes ---------------------------------------------------------------------


_INT64_MIN = -(2**63)
UNBOUNDED = -1
"""How the IR stores an unbounded dynamic dimension (`?`); XLA's value is INT64_MIN."""


def _wrap64(x: int) -> int:
    x &= 2**64 - 1
    return x - 2**64 if x >= 2**63 else x


_ELEMENTS: dict[int, tuple[Shape, int]] = {}


def elements(shape: Shape) -> int:
    """`ShapeUtil::ElementsIn`, including its int64 arithmetic for unbounded (`?`) dims.
    Cached by identity like `shape_size`."""
    hit = _ELEMENTS.get(id(shape))
    if hit is not None and hit[0] is shape:
        return hit[1]
    n = _elements(shape)
    if len(_ELEMENTS) > 1 << 17:
        _ELEMENTS.clear()
    _ELEMENTS[id(shape)] = (shape, n)
    return n


def _elements(shape: Shape) -> int:
    if UNBOUNDED in shape.dims and any(shape.dynamic):
        n = 1
        for d, dyn in zip(shape.dims, shape.dynamic, strict=False):
            n = _wrap64(n * (_INT64_MIN if d == UNBOUNDED and dyn else d))
        return n
    return shape.element_count


_SIZES: dict[int, tuple[Shape, int]] = {}


def shape_size(shape: Shape) -> int:
    """`CpuExecutable::ShapeSizeBytes`: bytes of the top level of a shape. Cached by identity
    (the parser shares one Shape object per spelling; the cache holds the Shape, so an id is
    never reused while its entry lives)."""
    hit = _SIZES.get(id(shape))
    if hit is not None and hit[0] is shape:
        return hit[1]
    size = _shape_size(shape)
    if len(_SIZES) > 1 << 17:
        _SIZES.clear()
    _SIZES[id(shape)] = (shape, size)
    return size


def _shape_size(shape: Shape) -> int:
    et = shape.element_type
    if et == "tuple":
        return POINTER_BYTES * len(shape.tuple_shapes)
    if et == "opaque":
        return POINTER_BYTES
    if et == "token":
        return 0
    if UNBOUNDED in shape.dims and any(shape.dynamic):
        size = _wrap64(elements(shape) * max(shape.element_bits, 8) // 8)
    else:
        size = shape.byte_size(pointer_size=POINTER_BYTES)
    if any(shape.dynamic):
        size += 4 * len(shape.dims)  # one s32 size per dimension of a dynamic array
    return size


def operand_shape(comp: Computation, ins: Instruction, i: int) -> Shape:
    return comp.by_name[ins.operands[i]].shape


def int_list(raw: str | None) -> tuple[int, ...]:
    """`{1,2}` / `1,2` / `{}` -> (1, 2)."""
    if not raw:
        return ()
    body = raw.strip().strip("{}").strip()
    return tuple(int(x) for x in body.split(",") if x.strip())


@dataclass(frozen=True, slots=True)
class WindowDim:
    size: int = 1
    stride: int = 1
    padding_low: int = 0
    padding_high: int = 0
    base_dilation: int = 1
    window_dilation: int = 1


def parse_window(raw: str | None) -> tuple[WindowDim, ...]:
    """`{size=3x3 stride=2x2 pad=1_1x0_1 lhs_dilate=1x1 rhs_dilate=2x2}` -> one WindowDim per
    spatial dimension (XLA's `window_util` spelling: lhs_dilate is the base dilation)."""
    if not raw:
        return ()
    fields: dict[str, list[str]] = {}
    for item in raw.strip().strip("{}").split():
        key, _, value = item.partition("=")
        fields[key] = value.split("x") if value else []
    n = max((len(v) for v in fields.values()), default=0)
    if n == 0:
        return ()

    def ints(key: str, default: int) -> list[int]:
        vals = fields.get(key)
        return [int(v) for v in vals] if vals else [default] * n

    size, stride = ints("size", 1), ints("stride", 1)
    lhs, rhs = ints("lhs_dilate", 1), ints("rhs_dilate", 1)
    pads = fields.get("pad")
    lows = [int(p.split("_")[0]) for p in pads] if pads else [0] * n
    highs = [int(p.split("_")[1]) for p in pads] if pads else [0] * n
    return tuple(
        WindowDim(size[i], stride[i], lows[i], highs[i], lhs[i], rhs[i]) for i in range(n)
    )


def _tuple_index(ins: Instruction) -> int:
    raw = ins.attr("index")
    return int(raw) if raw is not None else -1


def _array_subshapes(shape: Shape) -> list[Shape]:
    """Arrays among all subshapes (XLA's ForEachSubshape + IsArray)."""
    if shape.is_tuple:
        out: list[Shape] = []
        for s in shape.tuple_shapes:
            out.extend(_array_subshapes(s))
        return out
    return [shape] if shape.is_array else []


def leaf_bytes(shape: Shape) -> int:
    """Sum of shape_size over the leaves (arrays, tokens, opaques) of a shape."""
    if shape.element_type != "tuple":
        return shape_size(shape)
    return sum(leaf_bytes(s) for s in shape.tuple_shapes)


# -- default and simple rules ------------------------------------------------------------------


def default_bytes(comp: Computation, ins: Instruction) -> int:
    """XLA's Preprocess: every leaf of the result is written (a tuple result is not just its
    index table: measured on jaxlib 0.10.2), each operand is read at its top-level size (a
    tuple operand is its index table)."""
    total = leaf_bytes(ins.shape)
    for op in ins.operands:
        total += shape_size(comp.by_name[op].shape)
    return total


def rule_default(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    return ctx.make(bytes_accessed=default_bytes(comp, ins))


def rule_zero(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    return ctx.make()


def rule_elementwise(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    return ctx.make(flops=elements(ins.shape), bytes_accessed=default_bytes(comp, ins))


def rule_transcendental(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    return ctx.make(transcendentals=elements(ins.shape), bytes_accessed=default_bytes(comp, ins))


def rule_tuple(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    # Only the index table is written; operands are pointed to, not read.
    return ctx.make(bytes_accessed=shape_size(ins.shape))


def rule_transpose(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    perm = int_list(ins.attr("dimensions"))
    if transpose_is_bitcast(operand_shape(comp, ins, 0), ins.shape, perm):
        return ctx.make()
    return rule_default(ctx, comp, ins)


def transpose_is_bitcast(src: Shape, dst: Shape, perm: tuple[int, ...]) -> bool:
    """`ShapeUtil::TransposeIsBitcast`: the permutation only relabels dimensions in memory."""
    if src.element_type != dst.element_type:
        return False
    out_m2m = _minor_to_major(dst)
    in_m2m = _minor_to_major(src)
    if len(out_m2m) != len(perm) or len(in_m2m) != len(perm):
        return False
    return tuple(perm[d] for d in out_m2m) == tuple(in_m2m)


def _minor_to_major(shape: Shape) -> tuple[int, ...]:
    """The layout's order; XLA's parser gives a shape written without one the default
    (major-to-minor = dimension order)."""
    if shape.layout is not None and len(shape.layout.minor_to_major) == len(shape.dims):
        return shape.layout.minor_to_major
    return tuple(range(len(shape.dims) - 1, -1, -1))


def rule_slice(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    return ctx.make(bytes_accessed=2 * shape_size(ins.shape))


def rule_dynamic_slice(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    # XLA counts the first start index only.
    idx = shape_size(operand_shape(comp, ins, 1)) if len(ins.operands) > 1 else 0
    return ctx.make(bytes_accessed=2 * shape_size(ins.shape) + idx)


def rule_dynamic_update_slice(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    update = shape_size(operand_shape(comp, ins, 1))
    idx = shape_size(operand_shape(comp, ins, 2)) if len(ins.operands) > 2 else 0
    return ctx.make(bytes_accessed=2 * update + idx)


def rule_gather(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    return ctx.make(
        bytes_accessed=2 * shape_size(ins.shape) + shape_size(operand_shape(comp, ins, 1))
    )


def rule_scatter(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    n = (len(ins.operands) - 1) // 2
    updates = [operand_shape(comp, ins, n + 1 + i) for i in range(n)]
    total_update = sum(shape_size(u) for u in updates)
    indices = shape_size(operand_shape(comp, ins, n))
    sub = ctx.computation_cost(ins.called[0])
    count = elements(updates[0])
    return ctx.make(
        flops=sub.flops * count,
        transcendentals=sub.transcendentals * count,
        bytes_accessed=3 * total_update + indices,
    )


# -- contractions ------------------------------------------------------------------------------


def dot_flops(lhs: Shape, result: Shape, lhs_contracting: tuple[int, ...]) -> int:
    width = 1
    for d in lhs_contracting:
        width *= lhs.dims[d]
    return FMA_FLOPS * elements(result) * width


def rule_dot(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    flops = dot_flops(
        operand_shape(comp, ins, 0), ins.shape, int_list(ins.attr("lhs_contracting_dims"))
    )
    return ctx.make(flops=flops, bytes_accessed=default_bytes(comp, ins))


def rule_ragged_dot(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    # XLA deletes dimension i of the result for i in range(#rhs group dims), as written.
    dims = list(ins.shape.dims)
    for i in range(len(int_list(ins.attr("rhs_group_dims")))):
        del dims[i]
    result = Shape(ins.shape.element_type, tuple(dims))
    flops = dot_flops(
        operand_shape(comp, ins, 0), result, int_list(ins.attr("lhs_contracting_dims"))
    )
    return ctx.make(flops=flops, bytes_accessed=default_bytes(comp, ins))


@dataclass(frozen=True, slots=True)
class ConvDims:
    input_batch: int
    input_feature: int
    input_spatial: tuple[int, ...]
    kernel_spatial: tuple[int, ...]
    output_feature: int
    output_spatial: tuple[int, ...]


def parse_dim_labels(raw: str) -> ConvDims:
    """`b01f_01io->b01f`: position of each label in the input, kernel and output."""
    lhs, _, out = raw.partition("->")
    inp, _, ker = lhs.partition("_")

    def spatial(labels: str) -> tuple[int, ...]:
        found = sorted((int(c), i) for i, c in enumerate(labels) if c.isdigit())
        return tuple(i for _, i in found)

    return ConvDims(
        input_batch=inp.index("b"),
        input_feature=inp.index("f"),
        input_spatial=spatial(inp),
        kernel_spatial=spatial(ker),
        output_feature=out.index("f"),
        output_spatial=spatial(out),
    )


def _valid_positions(inp: int, ker: int, out: int, w: WindowDim) -> int:
    """Multiply-adds along one spatial dimension that touch real (not padded or dilated-away)
    input: XLA's `GetConvolutionFlops` loop, including its two shortcuts."""
    if (inp == out and ker == out and inp == w.base_dilation and w.window_dilation == 1
            and max(1, inp - 1) == w.stride and w.padding_low == 0 and w.padding_high == 0):
        return inp
    if (inp == 1 and ker == out and w.window_dilation == 1 and w.base_dilation == 1
            and w.stride == 1 and w.padding_high == out - 1 and w.padding_low == out - 1):
        return out
    count = 0
    for k in range(ker):
        if w.stride == 1 and w.base_dilation == 1:
            base = w.padding_low - k * w.window_dilation
            count += max(min(inp + base, out) - max(base, 0), 0)
            continue
        for o in range(out):
            undilated = o * w.stride - w.padding_low + k * w.window_dilation
            if w.base_dilation > 1:
                # C++ integer division truncates toward zero.
                idx = int(undilated / w.base_dilation)
            else:
                idx = undilated
            if undilated != idx * w.base_dilation:
                continue
            if 0 <= idx < inp:
                count += 1
    return count


def convolution_flops(lhs: Shape, rhs: Shape, result: Shape, ins: Instruction) -> int:
    dn = parse_dim_labels(ins.attr("dim_labels") or "")
    window = parse_window(ins.attr("window"))
    feature_groups = int(ins.attr("feature_group_count") or 1)
    batch_groups = int(ins.attr("batch_group_count") or 1)
    if not window:
        # XLA substitutes a one-element window over one unit dimension.
        positions = [_valid_positions(1, 1, 1, WindowDim())]
    else:
        positions = [
            _valid_positions(
                lhs.dims[dn.input_spatial[i]], rhs.dims[dn.kernel_spatial[i]],
                result.dims[dn.output_spatial[i]], w,
            )
            for i, w in enumerate(window)
        ]
    fma = (
        (lhs.dims[dn.input_feature] // feature_groups)
        * result.dims[dn.output_feature]
        * (lhs.dims[dn.input_batch] // batch_groups)
        * math.prod(positions)
    )
    return fma * FMA_FLOPS


def rule_convolution(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    flops = convolution_flops(
        operand_shape(comp, ins, 0), operand_shape(comp, ins, 1), ins.shape, ins
    )
    return ctx.make(flops=flops, bytes_accessed=default_bytes(comp, ins))


def rule_fft(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    real = operand_shape(comp, ins, 0)
    if real.is_tuple:
        real = real.tuple_shapes[0]
    log_factors = 1
    for n in int_list(ins.attr("fft_length")):
        log_factors *= n.bit_length() - 1 if n > 0 else 0
    flops = FMA_FLOPS * 4 * log_factors * elements(real)
    return ctx.make(flops=flops, bytes_accessed=default_bytes(comp, ins))


def rule_triangular_solve(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    a, b = operand_shape(comp, ins, 0), operand_shape(comp, ins, 1)
    # Half of `a` is read (it is triangular).
    bytes_ = shape_size(ins.shape) + shape_size(a) / 2.0 + shape_size(b)
    flops = FMA_FLOPS * a.dims[-1] * elements(b)
    return ctx.make(flops=flops, bytes_accessed=bytes_)


def rule_cholesky(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    a = operand_shape(comp, ins, 0)
    # Half of `a` read, half of the result written; n^3/3 flops per batch (integer division).
    bytes_ = shape_size(a) / 2.0 + shape_size(a) / 2.0
    flops = (a.dims[-1] * elements(a)) // 3
    return ctx.make(flops=flops, bytes_accessed=bytes_)


# -- reductions and applied computations -------------------------------------------------------


def rule_reduce(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    sub = ctx.computation_cost(ins.called[0])
    out = ins.shape.tuple_shapes[0] if ins.shape.is_tuple else ins.shape
    count = elements(operand_shape(comp, ins, 0)) - elements(out)
    return ctx.make(
        flops=sub.flops * count,
        transcendentals=sub.transcendentals * count,
        bytes_accessed=default_bytes(comp, ins),
    )


def rule_map(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    sub = ctx.computation_cost(ins.called[0])
    count = elements(ins.shape)
    return ctx.make(
        flops=sub.flops * count,
        transcendentals=sub.transcendentals * count,
        bytes_accessed=default_bytes(comp, ins),
    )


def reduce_window_count(ins: Instruction, out: Shape) -> int:
    window = parse_window(ins.attr("window"))
    window_elems = math.prod(w.size for w in window)
    out_elems = elements(out)
    count = (window_elems - 1) * out_elems
    # A reduce-window that is a reduce followed by a broadcast along one dimension.
    reducing = [w for w in window if w.size != 1]
    padded = [w for w in window if w.padding_low != 0 or w.padding_high != 0]
    if len(reducing) == 1 and len(padded) == 1 and not ins.shape.is_tuple:
        for i, w in enumerate(window):
            if (w.size != 1 and w.padding_low != 0 and w.padding_high != 0
                    and w.padding_low == w.padding_high and w.size == 2 * w.padding_low + 1):
                if w.padding_low == ins.shape.dims[i] - 1:
                    span = ins.shape.dims[i]
                    count = out_elems // span + (span - 1)
                break
    return count


def rule_reduce_window(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    sub = ctx.computation_cost(ins.called[0])
    out = ins.shape.tuple_shapes[0] if ins.shape.is_tuple else ins.shape
    count = reduce_window_count(ins, out)
    return ctx.make(
        flops=sub.flops * count,
        transcendentals=sub.transcendentals * count,
        bytes_accessed=default_bytes(comp, ins),
    )


def rule_select_and_scatter(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    select = ctx.computation_cost(ins.called[0])
    scatter = ctx.computation_cost(ins.called[1])
    source = elements(operand_shape(comp, ins, 1))
    window_elems = math.prod(w.size for w in parse_window(ins.attr("window")))
    selects = source * (window_elems - 1)
    return ctx.make(
        flops=select.flops * selects + scatter.flops * source,
        transcendentals=select.transcendentals * selects + scatter.transcendentals * source,
        bytes_accessed=default_bytes(comp, ins),
    )


def rule_scan(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    # Measured on jaxlib 0.10.2: the body's flops x the elements of one step's carry (the
    # operand without its scanned dimension), not x the scan length.
    sub = ctx.computation_cost(ins.called[0])
    operand = operand_shape(comp, ins, 0)
    dims = int_list(ins.attr("dimensions"))
    length = operand.dims[dims[0]] if dims and operand.dims else 1
    count = elements(operand) // length if length else 0
    return ctx.make(
        flops=sub.flops * count,
        transcendentals=sub.transcendentals * count,
        bytes_accessed=default_bytes(comp, ins),
    )


def rule_sort(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    n = elements(operand_shape(comp, ins, 0))
    log2_ceil = (n - 1).bit_length() if n > 0 else 0
    return ctx.make(flops=n * log2_ceil, bytes_accessed=default_bytes(comp, ins))


def rule_all_reduce(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    # XLA assumes two replicas: one add per output element.
    arrays = _array_subshapes(ins.shape)
    out_bytes = sum(shape_size(s) for s in arrays)
    in_bytes = sum(shape_size(comp.by_name[o].shape) for o in ins.operands)
    return ctx.make(flops=sum(elements(s) for s in arrays), bytes_accessed=out_bytes + in_bytes)


def rule_infeed(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    return ctx.make(bytes_accessed=leaf_bytes(ins.shape))


def rule_outfeed(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    return ctx.make(bytes_accessed=sum(leaf_bytes(comp.by_name[o].shape) for o in ins.operands))


def rule_rng(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    return ctx.make(transcendentals=elements(ins.shape), bytes_accessed=default_bytes(comp, ins))


def rule_rng_bit_generator(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    count = sum(elements(leaf) for _, leaf in ins.shape.leaves() if leaf.is_array)
    return ctx.make(transcendentals=count, bytes_accessed=default_bytes(comp, ins))


def rule_custom_call(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    # XLA marks a custom call "unknown" with -1 flops and -1 bytes; totals include the -1s.
    return ctx.make(flops=-1.0, bytes_accessed=-1.0)


# -- control flow ------------------------------------------------------------------------------


def rule_call(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    return ctx.computation_cost(ins.called[0])


def rule_while(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    # XLA's convention: body and condition once. The executed view multiplies (cost.py).
    total = ctx.make()
    for name in ins.called:
        total = total + ctx.computation_cost(name)
    return total


def rule_conditional(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    """The costliest branch, property by property (a later branch's zero never lowers it)."""
    first = ctx.computation_cost(ins.called[0])
    f, t, b = first.flops, first.transcendentals, first.bytes_accessed
    for name in ins.called[1:]:
        c = ctx.computation_cost(name)
        f = max(f, c.flops) if c.flops else f
        t = max(t, c.transcendentals) if c.transcendentals else t
        b = max(b, c.bytes_accessed) if c.bytes_accessed else b
    return ctx.make(flops=f, transcendentals=t, bytes_accessed=b)


def rule_async_start(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    # The wrapped computation's cost is the start's; the done only moves the result.
    if ins.called:
        return ctx.computation_cost(ins.called[0])
    wrapped = ins.async_wrapped_opcode
    if wrapped and ins.shape.is_tuple and len(ins.shape.tuple_shapes) > 1:
        # `slice-start(...)` sugar: XLA wraps the op alone (parameters cost nothing), its
        # result being the start's element {1}.
        inner = replace(ins, opcode=wrapped, shape=ins.shape.tuple_shapes[1],
                        async_wrapped_opcode=None)
        return RULES.get(wrapped, rule_default)(ctx, comp, inner)
    return rule_default(ctx, comp, ins)


# -- fusion ------------------------------------------------------------------------------------


def rule_fusion(ctx: CostContext, comp: Computation, ins: Instruction) -> OpCost:
    body = ctx.computation(ins.called[0])
    if ins.fusion_kind == "kCustom":
        # A custom fusion holding a gather or scatter is costed as that instruction alone.
        for inner in body.instructions:
            if inner.opcode == "gather":
                return rule_gather(ctx, body, inner)
            if inner.opcode == "scatter":
                return rule_scatter(ctx, body, inner)
    sub = ctx.computation_cost(body.name)
    users = ctx.users(body)
    bytes_ = _fusion_output_bytes(body, ins.shape)
    for inner in body.instructions:
        if inner.opcode == "constant" and inner.shape.is_array and elements(inner.shape) > 1:
            bytes_ += shape_size(inner.shape)  # large constants are read from memory
    for param_name in body.parameters:
        bytes_ += _fusion_operand_read_bytes(ctx, body, users, body.by_name[param_name])
    return ctx.make(flops=sub.flops, transcendentals=sub.transcendentals, bytes_accessed=bytes_)


def _fusion_output_bytes(body: Computation, shape: Shape) -> float:
    """Bytes written at the fusion boundary; a dynamic-update-slice root writes its update."""
    root = body.root_instruction
    total = 0

    def visit(s: Shape, index: tuple[int, ...]) -> None:
        nonlocal total
        if s.is_tuple:
            for i, sub in enumerate(s.tuple_shapes):
                visit(sub, (*index, i))
            return
        if not s.is_array:
            return
        r = root
        if len(index) == 1 and root.opcode == "tuple":
            r = body.by_name[root.operands[index[0]]]
        if r.opcode == "dynamic-update-slice":
            total += shape_size(body.by_name[r.operands[1]].shape)
        else:
            total += shape_size(s)

    visit(shape, ())
    return total


def _fusion_operand_read_bytes(
    ctx: CostContext,
    body: Computation,
    users: Mapping[str, tuple[Instruction, ...]],
    param: Instruction,
) -> int:
    if not param.shape.is_tuple:
        return _parameter_read_bytes(ctx, body, users, param)
    total = 0
    for index, _leaf in param.shape.leaves():
        node = param
        for sub in index:
            for user in users.get(node.name, ()):
                if user.opcode == "get-tuple-element" and _tuple_index(user) == sub:
                    node = user
                    break
        total += _parameter_read_bytes(ctx, body, users, node)
    return total


def _parameter_read_bytes(  # noqa: C901 - mirrors XLA's FusionParameterReadBytes case by case
    ctx: CostContext,
    body: Computation,
    users: Mapping[str, tuple[Instruction, ...]],
    hlo: Instruction,
) -> int:
    """XLA's `FusionParameterReadBytes`: what a fused parameter costs to read, given its
    users inside the fusion (slices read only their part; most users share one read)."""
    size = 0
    seen_trivial = False
    own = shape_size(hlo.shape)
    for user in users.get(hlo.name, ()):
        op = user.opcode
        if op == "fusion":
            size += _nested_fusion_read_bytes(ctx, body, users, hlo, user)
        elif op == "slice":
            size += shape_size(user.shape)
        elif op == "dynamic-slice":
            if user.operands[0] == hlo.name:
                size += shape_size(user.shape)
            elif not seen_trivial:
                seen_trivial = True
                size += own
        elif op == "dynamic-update-slice":
            if user.operands[0] != hlo.name and not seen_trivial:
                seen_trivial = True
                size += own
        elif op in ("broadcast", "reshape"):
            size += own
        elif not seen_trivial:
            seen_trivial = True
            size += own
    return size


def _nested_fusion_read_bytes(  # noqa: C901 - mirrors XLA's nested-fusion case
    ctx: CostContext,
    body: Computation,
    users: Mapping[str, tuple[Instruction, ...]],
    hlo: Instruction,
    fusion: Instruction,
) -> int:
    nested = ctx.computation(fusion.called[0])
    nested_users = ctx.users(nested)
    root = nested.root_instruction
    size = 0
    for idx, operand in enumerate(fusion.operands):
        if operand != hlo.name:
            continue
        param = nested.by_name[nested.parameters[idx]]
        seen = False
        simple = not root.operands or root.operands[0] == param.name
        for fusion_user in users.get(fusion.name, ()):
            op = fusion_user.opcode
            if simple and op == "slice":
                size += shape_size(fusion_user.shape)
            elif simple and op == "dynamic-slice":
                if fusion_user.operands[0] == fusion.name:
                    size += shape_size(fusion_user.shape)
                elif not seen:
                    seen = True
                    size += shape_size(fusion.shape)
            elif simple and op == "dynamic-update-slice":
                if fusion_user.operands[0] != fusion.name and not seen:
                    seen = True
                    size += shape_size(fusion.shape)
            elif not seen:
                seen = True
                size += _parameter_read_bytes(ctx, nested, nested_users, param)
    return size


# -- the table ---------------------------------------------------------------------------------


def _build_table() -> dict[str, Rule]:
    table: dict[str, Rule] = {}
    for op in ELEMENTWISE_FLOPS:
        table[op] = rule_elementwise
    for op in ELEMENTWISE_TRANSCENDENTAL:
        table[op] = rule_transcendental
    for op in NO_COST_DEFAULT_BYTES | NO_RULE_IN_XLA:
        table[op] = rule_default
    for op in ZERO_BYTES:
        table[op] = rule_zero
    table.update({
        "tuple": rule_tuple,
        "transpose": rule_transpose,
        "slice": rule_slice,
        "dynamic-slice": rule_dynamic_slice,
        "dynamic-update-slice": rule_dynamic_update_slice,
        "gather": rule_gather,
        "scatter": rule_scatter,
        "dot": rule_dot,
        "scaled-dot": rule_dot,
        "ragged-dot": rule_ragged_dot,
        "convolution": rule_convolution,
        "fft": rule_fft,
        "triangular-solve": rule_triangular_solve,
        "cholesky": rule_cholesky,
        "reduce": rule_reduce,
        "map": rule_map,
        "reduce-window": rule_reduce_window,
        "select-and-scatter": rule_select_and_scatter,
        "sort": rule_sort,
        "scan": rule_scan,
        "all-reduce": rule_all_reduce,
        "all-reduce-start": rule_all_reduce,
        "infeed": rule_infeed,
        "outfeed": rule_outfeed,
        "rng": rule_rng,
        "rng-bit-generator": rule_rng_bit_generator,
        "custom-call": rule_custom_call,
        "call": rule_call,
        "while": rule_while,
        "conditional": rule_conditional,
        "async-start": rule_async_start,
        "fusion": rule_fusion,
    })
    return table


RULES: Mapping[str, Rule] = _build_table()
"""opcode -> rule. An opcode missing here is costed with the default bytes and reported."""
