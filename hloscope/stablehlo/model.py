"""Our IR of StableHLO (pre-optimization MLIR): frozen, slotted values built by the reader.

Conventions
- Ops are numbered in module order (pre-order: an op comes before the ops in its regions);
  `StableModule.ops[i].id == i`. SSA values are numbered as they are defined.
- Attributes are kept as MLIR prints them (`(name, text)` pairs); shardings, meshes and
  locations are also decoded into their own fields.
- A location is decoded into a `Source`: the name stack (`jit(f)/layer1/dot_general`) and the
  Python frames, innermost first. `StableOp.loc` is what the op's own location says;
  `StableOp.sources` resolves it through the call sites of the function holding the op (jax
  writes ops of a nested jit into a `func.func private` with short locations), one `Source`
  per call path, as XLA does when it inlines the calls.
- Mappings are plain dicts typed as `Mapping`: treat them as read-only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hloscope.hlo.model import ELEMENT_BITS
from hloscope.stablehlo.shardy import ManualComputation, Mesh, TensorSharding

Attrs = tuple[tuple[str, str], ...]


def hlo_element_type(mlir: str) -> str:
    """MLIR element type -> HLO spelling: i1 -> pred, i32 -> s32, ui8 -> u8, bf16 -> bf16,
    complex<f32> -> c64, f8E4M3FN -> f8e4m3fn. Unknown spellings come back unchanged."""
    if mlir == "i1":
        return "pred"
    if mlir.startswith("ui") and mlir[2:].isdigit():
        return "u" + mlir[2:]
    if mlir.startswith(("i", "si")) and mlir.lstrip("si").isdigit():
        return "s" + mlir.lstrip("si")
    if mlir == "complex<f32>":
        return "c64"
    if mlir == "complex<f64>":
        return "c128"
    if mlir == "index":
        return "s64"
    return mlir.lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class TensorType:
    """The type of a value: `tensor<8x?xf32, #enc>`; tokens, tuples and other types keep
    their text with `kind` saying which."""

    text: str
    """The type as MLIR prints it."""
    kind: str = "tensor"
    """`tensor` (ranked), `unranked` (`tensor<*xf32>`), `token`, `tuple` or `other`."""
    shape: tuple[int | None, ...] = ()
    """Dimension sizes; None for a dynamic dimension (`?`)."""
    element_type: str = ""
    """MLIR spelling: `f32`, `bf16`, `i32`, `ui8`, `i1`, `complex<f32>`, `f8E4M3FN`."""
    encoding: str | None = None
    """The tensor's encoding attribute (bounds of a bounded-dynamic dim, sparsity), raw."""
    elements: tuple[TensorType, ...] = ()
    """Element types of a tuple."""

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.kind == "tensor" and None not in self.shape

    @property
    def hlo_element_type(self) -> str:
        return hlo_element_type(self.element_type)

    @property
    def element_count(self) -> int | None:
        """Number of elements; None when a dimension is dynamic or the type is not a tensor."""
        if not self.is_static:
            return None
        n = 1
        for d in self.shape:
            n *= d or 0
        return n

    @property
    def byte_size(self) -> int | None:
        """Bytes of a static tensor, as XLA counts them (sub-byte types one byte each);
        None when unknown (dynamic shape, token, tuple, unknown element type)."""
        count = self.element_count
        bits = ELEMENT_BITS.get(self.hlo_element_type)
        if count is None or bits is None:
            return None
        return count * max(bits, 8) // 8

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One Python source position: `loc("f"("model.py":14:12 to :17))`."""

    file: str
    line: int
    column: int = 0
    end_line: int = 0
    end_column: int = 0
    function: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """A decoded location: the name stack and the Python frames, innermost first."""

    name_stack: str = ""
    """`jit(f)/layer1/dot_general`: the outermost name of the location, as XLA's op_name."""
    frames: tuple[Frame, ...] = ()

    @property
    def frame(self) -> Frame | None:
        """The innermost frame (the user's line that made the op), if any."""
        return self.frames[0] if self.frames else None

    def __str__(self) -> str:
        where = f" @ {self.frames[0]}" if self.frames else ""
        return f"{self.name_stack or '?'}{where}"


NO_SOURCE = Source()


@dataclass(frozen=True, slots=True, kw_only=True)
class StableValue:
    """An SSA value: an op result, a function argument or a block argument of a region."""

    id: int
    type: TensorType
    kind: str
    """`result`, `arg` (function argument) or `block_arg` (argument of a region's block)."""
    owner: int | None = None
    """For `result`: the defining op; for `block_arg`: the op whose region declares it."""
    index: int = 0
    """Result number, or argument number in its block."""
    func: str = ""
    """Name of the function it lives in."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StableOp:
    """One MLIR operation other than `builtin.module` and `func.func`."""

    id: int
    name: str
    """Full op name: `stablehlo.dot_general`, `sdy.manual_computation`, `func.call`."""
    func: str
    """The function holding it ("" for module-level ops such as `sdy.mesh`)."""
    parent: int | None = None
    """The op whose region holds this op; None for ops directly in a function body."""
    region: int = 0
    """Index of the region of `parent` that holds this op."""
    operands: tuple[int, ...] = ()
    """Value ids (see `StableModule.values`)."""
    operand_types: tuple[TensorType, ...] = ()
    results: tuple[int, ...] = ()
    result_types: tuple[TensorType, ...] = ()
    attributes: Attrs = ()
    """All attributes, `(name, text)`, in MLIR's order. Dense constants of more than 1024
    elements are elided to `dense<...(N elements)> : type`."""
    region_args: tuple[tuple[int, ...], ...] = ()
    """Per region, the value ids of its entry block's arguments."""
    loc: Source = NO_SOURCE
    """The op's own location."""
    line: int = 0
    """1-based line of the op in the MLIR text when the text gives it no location of its own
    (MLIR then records where it parsed the op); 0 otherwise."""
    sources: tuple[Source, ...] = (NO_SOURCE,)
    """The location resolved through call sites (and `sdy.manual_computation` bodies): one
    per call path to the op's function, first path first. The name stack is prefixed by the
    calling op's as XLA prefixes op_names when it inlines calls (not inside reducer regions,
    which XLA leaves as written); the frames continue with the call site's frames."""
    shardings: tuple[TensorSharding, ...] = ()
    """Per result, from `sdy.sharding` (sharding_per_value) or the `sharding` of
    `sdy.sharding_constraint` / `sdy.reshard`."""
    hlo_sharding: str | None = None
    """The `mhlo.sharding` string, when present (GSPMD-style lowering)."""
    callee: str | None = None
    """For `func.call` (and other ops with a `callee`): the called function."""

    @property
    def dialect(self) -> str:
        return self.name.partition(".")[0]

    @property
    def opcode(self) -> str:
        """The name without its dialect: `dot_general`."""
        return self.name.partition(".")[2] or self.name

    @property
    def name_stack(self) -> str:
        """The resolved name stack of the first call path (XLA's op_name for it)."""
        return self.sources[0].name_stack

    @property
    def frames(self) -> tuple[Frame, ...]:
        return self.sources[0].frames

    @property
    def frame(self) -> Frame | None:
        return self.sources[0].frame

    def attr(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.attributes:
            if k == key:
                return v
        return default


@dataclass(frozen=True, slots=True, kw_only=True)
class StableFunc:
    """A `func.func`."""

    name: str
    visibility: str = "public"
    """`public`, `private` or `nested`."""
    args: tuple[int, ...] = ()
    """Value ids of the arguments."""
    arg_types: tuple[TensorType, ...] = ()
    arg_attrs: tuple[Attrs, ...] = ()
    arg_names: tuple[str, ...] = ()
    """Names jax gives the arguments in their locations (`loc("x")`); "" when none."""
    arg_shardings: tuple[TensorSharding | None, ...] = ()
    arg_hlo_shardings: tuple[str | None, ...] = ()
    result_types: tuple[TensorType, ...] = ()
    result_attrs: tuple[Attrs, ...] = ()
    result_names: tuple[str, ...] = ()
    """`jax.result_info` of each result ("" when none)."""
    result_shardings: tuple[TensorSharding | None, ...] = ()
    result_hlo_shardings: tuple[str | None, ...] = ()
    ops: tuple[int, ...] = ()
    """Ids of every op in the body, nested ones included, in order."""
    attributes: Attrs = ()
    """Other attributes of the func op, raw."""
    loc: Source = NO_SOURCE
    is_declaration: bool = False
    """True for an external function (no body)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StableModule:
    """A StableHLO module as our IR."""

    name: str = ""
    """The module's symbol name (`jit_f`), "" when unnamed."""
    attributes: Attrs = ()
    """Module attributes, raw (`mhlo.num_partitions` -> `8 : i32`)."""
    funcs: tuple[StableFunc, ...] = ()
    ops: tuple[StableOp, ...] = ()
    values: tuple[StableValue, ...] = ()
    meshes: tuple[Mesh, ...] = ()
    manual_computations: tuple[ManualComputation, ...] = ()
    source_path: str | None = field(default=None, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Lazily built lookups (indexes derived from the fields above)."""

    # -- plain facts ------------------------------------------------------------------------

    def attr(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.attributes:
            if k == key:
                return v
        return default

    def _int_attr(self, key: str) -> int | None:
        raw = self.attr(key)
        if raw is None:
            return None
        head = raw.split(":")[0].strip()
        return int(head) if head.lstrip("-").isdigit() else None

    @property
    def num_partitions(self) -> int | None:
        return self._int_attr("mhlo.num_partitions")

    @property
    def num_replicas(self) -> int | None:
        return self._int_attr("mhlo.num_replicas")

    def facts(self) -> dict[str, Any]:
        """Sizes of the module (what `dump` and the TUI show for a capture that has no
        optimized HLO): name, functions, ops, partitions, replicas, the 8 commonest ops."""
        kinds: Counter[str] = Counter(op.name for op in self.ops)
        return {
            "name": self.name,
            "functions": len(self.funcs),
            "ops": len(self.ops),
            "num_partitions": self.num_partitions,
            "num_replicas": self.num_replicas,
            "top_ops": dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:8]),
        }

    def _funcs(self) -> Mapping[str, StableFunc]:
        table: Mapping[str, StableFunc] = self._index(
            "funcs", lambda: {f.name: f for f in self.funcs})
        return table

    def func(self, name: str) -> StableFunc:
        return self._funcs()[name]

    def mesh(self, name: str) -> Mesh:
        table: Mapping[str, Mesh] = self._index("meshes", lambda: {m.name: m for m in self.meshes})
        return table[name]

    @property
    def entry(self) -> StableFunc | None:
        """`main` when present, else the first public function."""
        funcs = self._funcs()
        if "main" in funcs:
            return funcs["main"]
        return next((f for f in self.funcs if f.visibility == "public"), None)

    def ops_of(self, func: str) -> Iterator[StableOp]:
        for i in self.func(func).ops:
            yield self.ops[i]

    def ops_named(self, name: str) -> tuple[StableOp, ...]:
        """Ops with this op name (`stablehlo.dot_general`), in order."""
        return tuple(self._group("by_op_name", lambda op: (op.name,)).get(name, ()))

    def defining_op(self, value: int) -> StableOp | None:
        v = self.values[value]
        return self.ops[v.owner] if v.kind == "result" and v.owner is not None else None

    def users(self, value: int) -> tuple[StableOp, ...]:
        """Ops that read a value, in order."""
        return tuple(self._group("users", lambda op: tuple(dict.fromkeys(op.operands))).get(
            value, ()))

    def callers(self, func: str) -> tuple[StableOp, ...]:
        """The `func.call` ops that call `func`, in order."""
        return tuple(self._group("callers", lambda op: (op.callee,) if op.callee else ()).get(
            func, ()))

    # -- source lookups ---------------------------------------------------------------------

    def ops_at(self, file: str, line: int, *, inclusive: bool = False) -> tuple[StableOp, ...]:
        """Ops made by a Python line. By default the line must be the op's innermost frame (the
        line that emitted it); `inclusive=True` also counts lines further up the call stack
        (a call of a function made all of its ops). `file` is a full path, or a bare file
        name that matches any directory."""
        key = "lines_incl" if inclusive else "lines"
        table = self._index(key, lambda: self._build_lines(inclusive))
        ids: set[int] = set()
        if "/" in file or "\\" in file:
            ids.update(table.get((file, line), ()))
        else:
            for (f, ln), found in table.items():
                if ln == line and (f == file or f.rsplit("/", 1)[-1] == file):
                    ids.update(found)
        return tuple(self.ops[i] for i in sorted(ids))

    def source_lines(self, *, inclusive: bool = False) -> Mapping[tuple[str, int], tuple[int, ...]]:
        """(file, line) -> ids of the ops it made (see `ops_at`), in file/line order."""
        key = "lines_incl" if inclusive else "lines"
        table: Mapping[tuple[str, int], tuple[int, ...]] = self._index(
            key, lambda: self._build_lines(inclusive))
        return table

    def ops_with_name_stack(self, name_stack: str) -> tuple[StableOp, ...]:
        """Ops whose resolved name stack (on any call path) is exactly `name_stack`: the
        StableHLO ops behind an HLO instruction with that op_name."""
        table = self._group("name_stacks", lambda op: tuple({s.name_stack for s in op.sources}))
        return tuple(table.get(name_stack, ()))

    def ops_in_scope(self, scope: str) -> tuple[StableOp, ...]:
        """Ops whose resolved name stack is `scope` or lies under it (`jit(f)/layer1` holds
        `jit(f)/layer1/dot_general`), on any call path."""
        prefix = scope.rstrip("/") + "/"
        found = [
            op for op in self.ops
            if any(s.name_stack == scope or s.name_stack.startswith(prefix) for s in op.sources)
        ]
        return tuple(found)

    # -- internals --------------------------------------------------------------------------

    def _index(self, key: str, build: Any) -> Any:
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = build()
        return found

    def _group(self, key: str, keys_of: Any) -> Mapping[Any, list[StableOp]]:
        def build() -> dict[Any, list[StableOp]]:
            table: dict[Any, list[StableOp]] = {}
            for op in self.ops:
                for k in keys_of(op):
                    table.setdefault(k, []).append(op)
            return table

        table: Mapping[Any, list[StableOp]] = self._index(key, build)
        return table

    def _build_lines(self, inclusive: bool) -> dict[tuple[str, int], tuple[int, ...]]:
        table: dict[tuple[str, int], dict[int, None]] = {}
        for op in self.ops:
            for s in op.sources:
                frames = s.frames if inclusive else s.frames[:1]
                for fr in frames:
                    table.setdefault((fr.file, fr.line), {})[op.id] = None
        return {k: tuple(table[k]) for k in sorted(table)}
