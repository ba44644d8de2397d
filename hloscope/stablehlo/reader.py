"""StableHLO text or bytecode -> `StableModule`, through jaxlib's MLIR bindings.

The only module of `hloscope.stablehlo` that touches jaxlib (lazily, in `read`), through
`hloscope._jaxapi`: the MLIR classes `jax.extend.mlir` re-exports and a context with the
dialects jax registers (stablehlo, chlo, sdy, mpmd, func, mhlo...), both taken from jaxlib
without importing jax, so reading a `.mlir` file costs no jax start-up. `op.location` and
`value.type` come back already downcast in jaxlib 0.10 (JAX-XLA-NOTES Q1).

jaxlib's native parser can crash the process on hostile input; `hloscope.stablehlo.isolate`
runs this module in a subprocess for files a user hands us.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hloscope.errors import InputError, ParseError
from hloscope.stablehlo.attrtext import generic_op_attributes, parse_attr_dict
from hloscope.stablehlo.model import (
    NO_SOURCE,
    Attrs,
    Frame,
    Source,
    StableFunc,
    StableModule,
    StableOp,
    StableValue,
    TensorType,
)
from hloscope.stablehlo.resolve import Node, resolve_sources
from hloscope.stablehlo.serial import gc_paused
from hloscope.stablehlo.shardy import (
    AxisRef,
    DimSharding,
    ManualComputation,
    Mesh,
    MeshAxis,
    TensorSharding,
)

# Dense constants above this many elements print as megabytes of hex; keep a short stand-in.
_ELIDE_ELEMENTS = 1024
_DIAG_LOC = re.compile(r'^loc\("((?:[^"\\]|\\.)*)":(\d+):(\d+)')
_OP_NAME = re.compile(r'"?([A-Za-z_][\w$]*\.[\w.$]+)')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
# The file name MLIR gives text parsed from a string; ops without a `loc(...)` of their own
# get `"-":line:col`, their position in that text.
_PARSER_FILE = "-"
# func.func attributes decoded into StableFunc fields rather than kept in `attributes`.
_FUNC_DECODED = frozenset({"sym_name", "function_type", "arg_attrs", "res_attrs", "sym_visibility"})


def read(data: str | bytes, *, source: str | None = None) -> StableModule:
    """Parse MLIR (text or bytecode) in-process and convert it. Raises ParseError with the
    first MLIR diagnostic as `source:line:col: message`."""
    from hloscope._jaxapi import make_mlir_context, mlir_bindings

    ir, sdy = mlir_bindings()
    ctx = make_mlir_context()
    with ctx, ir.Location.unknown():
        try:
            module = ir.Module.parse(data)
        except ir.MLIRError as e:
            raise _parse_error(e, source, data) from None
        try:
            with gc_paused():
                return _Reader(ir, sdy).module(module.operation, source)
        except RecursionError:
            # Regions or locations nested deeper than Python's stack (never from jax).
            raise InputError(f"{source or '<text>'}: regions or locations nest too deeply "
                             "for hloscope's StableHLO reader") from None


def _parse_error(err: Any, source: str | None, data: str | bytes) -> ParseError:
    diags = list(getattr(err, "error_diagnostics", ()) or ())
    if not diags:
        text = str(err).replace("Unable to parse module assembly:", "").strip()
        return ParseError(_one_line(text) or "not valid MLIR", file=source)
    diag = diags[0]
    match = _DIAG_LOC.match(str(diag.location))
    message = _one_line(diag.message)
    if match is None:
        return ParseError(message, file=source)
    file, line, column = match.group(1), int(match.group(2)), int(match.group(3))
    if file != _PARSER_FILE:
        # The op's own debug location (a verifier error on an op from jax): a Python
        # position, not one in this text.
        return ParseError(f"{message} (op at {file}:{line}:{column})", file=source)
    if message.startswith("op ") and isinstance(data, str):
        # Verifier messages leave out the op ("op requires ..."); name it from the text.
        lines = data.splitlines()
        found = _OP_NAME.match(lines[line - 1], column - 1) if 0 < line <= len(lines) else None
        if found:
            message = f"'{found.group(1)}' {message}"
    return ParseError(message, file=source, line=line, column=column)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(slots=True)
class _ValueAttrs:
    """What the reader takes from one entry of a func's `arg_attrs` / `res_attrs`."""

    raw: Attrs = ()
    sharding: TensorSharding | None = None
    hlo: str | None = None
    """`mhlo.sharding`."""
    result_info: str = ""
    """`jax.result_info`, the result's path in the output pytree."""


class _Reader:
    """One conversion: walks the module once, numbering ops and values in order."""

    def __init__(self, ir: Any, sdy: Any) -> None:
        self.ir = ir
        self.sdy = sdy
        self.ops: list[dict[str, Any]] = []  # StableOp fields, in pre-order
        self.values: dict[Any, int] = {}  # MLIR Value -> id (Values hash by identity of the IR)
        self.value_info: dict[int, StableValue] = {}
        self.types: dict[Any, TensorType] = {}
        self.locs: dict[Any, Source] = {}
        self.meshes: list[Mesh] = []
        self.manual: list[tuple[int, Any]] = []  # (op id, mlir op) of manual computations
        self.funcs: list[StableFunc] = []
        self.loc_classes = (ir.NameLoc, ir.CallSiteLoc, ir.FileLineColLoc, ir.FusedLoc)

    # -- module / funcs -----------------------------------------------------------------------

    def module(self, op: Any, source: str | None) -> StableModule:
        name = ""
        attrs: list[tuple[str, str]] = []
        for key, attr in self.attribute_items(op):
            if key == "sym_name":
                name = self.ir.StringAttr(attr).value
            else:
                attrs.append((key, str(attr)))
        for block in op.regions[0].blocks:
            for child in block.operations:
                self.top_level(child.operation)
        nodes = [Node(id=kw["id"], name=kw["name"], func=kw["func"], parent=kw["parent"],
                      loc=kw["loc"], callee=kw["callee"]) for kw in self.ops]
        sources = resolve_sources(nodes, [f.name for f in self.funcs])
        ops = tuple(StableOp(**kw, sources=s) for kw, s in zip(self.ops, sources, strict=True))
        manual = tuple(self.manual_computation(i, mc, ops) for i, mc in self.manual)
        values = tuple(self.value_info[i] if i in self.value_info else
                       StableValue(id=i, type=TensorType(text="?", kind="other"), kind="unknown")
                       for i in range(len(self.values)))
        return StableModule(
            name=name,
            attributes=tuple(attrs),
            funcs=tuple(self.funcs),
            ops=ops,
            values=values,
            meshes=tuple(self.meshes),
            manual_computations=manual,
            source_path=source,
        )

    def top_level(self, op: Any) -> None:
        if op.name == "func.func":
            self.func(op)
        elif op.name == "builtin.module":  # nested module: read its contents in place
            for block in op.regions[0].blocks:
                for child in block.operations:
                    self.top_level(child.operation)
        else:
            if op.name == "sdy.mesh":
                self.meshes.append(self.mesh_op(op))
            self.walk(op, func="", parent=None, region=0)

    def func(self, op: Any) -> None:
        ir = self.ir
        attrs = dict(self.attribute_items(op))
        name = ir.StringAttr(attrs["sym_name"]).value
        visibility = ir.StringAttr(attrs["sym_visibility"]).value if "sym_visibility" in attrs \
            else "public"
        ftype = ir.FunctionType(ir.TypeAttr(attrs["function_type"]).value)
        arg_dicts = self.dict_list(attrs.get("arg_attrs"), len(ftype.inputs))
        res_dicts = self.dict_list(attrs.get("res_attrs"), len(ftype.results))
        body = op.regions[0]
        blocks = list(body.blocks)
        args: tuple[int, ...] = ()
        arg_names: tuple[str, ...] = ("",) * len(ftype.inputs)
        if blocks:
            entry = blocks[0]
            args = tuple(
                self.define(v, "arg", None, i, name) for i, v in enumerate(entry.arguments))
            arg_names = tuple(self.arg_name(v.location) for v in entry.arguments)
        first = len(self.ops)
        for b_index, block in enumerate(blocks):
            if b_index:
                self.block_args(block, owner=None, func=name)
            for child in block.operations:
                self.walk(child.operation, func=name, parent=None, region=0)
        self.funcs.append(StableFunc(
            name=name,
            visibility=visibility,
            args=args,
            arg_types=tuple(self.type_of(t) for t in ftype.inputs),
            arg_attrs=tuple(d.raw for d in arg_dicts),
            arg_names=arg_names,
            arg_shardings=tuple(d.sharding for d in arg_dicts),
            arg_hlo_shardings=tuple(d.hlo for d in arg_dicts),
            result_types=tuple(self.type_of(t) for t in ftype.results),
            result_attrs=tuple(d.raw for d in res_dicts),
            result_names=tuple(d.result_info for d in res_dicts),
            result_shardings=tuple(d.sharding for d in res_dicts),
            result_hlo_shardings=tuple(d.hlo for d in res_dicts),
            ops=tuple(range(first, len(self.ops))),
            attributes=tuple((k, str(v)) for k, v in attrs.items() if k not in _FUNC_DECODED),
            loc=self.source(op.location),
            is_declaration=not blocks,
        ))

    def dict_list(self, attr: Any, n: int) -> list[_ValueAttrs]:
        """Decode `arg_attrs`/`res_attrs`, one `_ValueAttrs` per argument or result."""
        if attr is None:
            return [_ValueAttrs() for _ in range(n)]
        out = []
        array = self.ir.ArrayAttr(attr)
        for i in range(len(array)):
            entry = _ValueAttrs()
            raw: list[tuple[str, str]] = []
            for name, value in self.dict_items(self.ir.DictAttr(array[i])):
                if isinstance(value, str):
                    raw.append((name, value))
                    continue
                raw.append((name, str(value)))
                if name == "sdy.sharding":
                    entry.sharding = self.tensor_sharding(value)
                elif name == "mhlo.sharding":
                    entry.hlo = self.string(value)
                elif name == "jax.result_info":
                    entry.result_info = self.string(value)
            entry.raw = tuple(raw)
            out.append(entry)
        return out

    def parser_line(self, loc: Any) -> int:
        if isinstance(loc, self.ir.FileLineColLoc) and loc.filename == _PARSER_FILE:
            return int(loc.start_line)
        return 0

    def arg_name(self, loc: Any) -> str:
        return loc.name_str if isinstance(loc, self.ir.NameLoc) else ""

    # -- ops ----------------------------------------------------------------------------------

    def walk(self, op: Any, *, func: str, parent: int | None, region: int) -> None:
        op_id = len(self.ops)
        loc = op.location
        self.ops.append({})  # placeholder: ids are pre-order
        operands = tuple(self.value_id(v) for v in op.operands)
        operand_types = tuple(self.type_of(v.type) for v in op.operands)
        results = tuple(self.define(r, "result", op_id, i, func) for i, r in enumerate(op.results))
        result_types = tuple(self.type_of(r.type) for r in op.results)
        attrs, shardings, hlo, callee = self.op_attributes(op, len(results))
        region_args = []
        for reg in op.regions:
            entry_args: tuple[int, ...] = ()
            for b_index, block in enumerate(reg.blocks):
                ids = self.block_args(block, owner=op_id, func=func)
                if b_index == 0:
                    entry_args = ids
            region_args.append(entry_args)
        self.ops[op_id] = {  # made a StableOp once the sources are resolved
            "id": op_id,
            "name": op.name,
            "func": func,
            "parent": parent,
            "region": region,
            "operands": operands,
            "operand_types": operand_types,
            "results": results,
            "result_types": result_types,
            "attributes": attrs,
            "region_args": tuple(region_args),
            "loc": self.source(loc),
            "line": self.parser_line(loc),
            "shardings": shardings,
            "hlo_sharding": hlo,
            "callee": callee,
        }
        if op.name == "sdy.manual_computation":
            self.manual.append((op_id, op))
        for r_index, reg in enumerate(op.regions):
            for block in reg.blocks:
                for child in block.operations:
                    self.walk(child.operation, func=func, parent=op_id, region=r_index)

    def op_attributes(
        self, op: Any, n_results: int
    ) -> tuple[Attrs, tuple[TensorSharding, ...], str | None, str | None]:
        attrs: list[tuple[str, str]] = []
        shardings: tuple[TensorSharding, ...] = ()
        hlo = callee = None
        for key, attr in self.attribute_items(op):
            if isinstance(attr, str):  # text of an attribute the bindings cannot hand over
                attrs.append((key, attr))
                continue
            attrs.append((key, self.attr_text(attr)))
            if key == "sdy.sharding":
                shardings = self.per_value(attr)
            elif key == "sharding" and op.name in ("sdy.sharding_constraint", "sdy.reshard"):
                one = self.tensor_sharding(attr)
                shardings = (one,) if one else ()
            elif key == "mhlo.sharding":
                hlo = self.string(attr)
            elif key == "callee" and isinstance(attr, self.ir.FlatSymbolRefAttr):
                callee = attr.value
        return tuple(attrs), shardings, hlo, callee

    def attribute_items(self, op: Any) -> list[tuple[str, Any]]:
        """(name, attribute) pairs; an attribute jaxlib cannot downcast (dense complex
        constants) comes as its text, read from the op's generic form (see attrtext.py)."""
        try:
            return list(op.attributes.items())
        except TypeError:
            pass
        texts = generic_op_attributes(op.get_asm(
            print_generic_op_form=True, skip_regions=True, assume_verified=True,
            large_elements_limit=_ELIDE_ELEMENTS))
        out: list[tuple[str, Any]] = []
        for name in op.attributes:  # names are safe to read; values may not be
            try:
                out.append((name, op.attributes[name]))
            except TypeError:
                out.append((name, texts.get(name, "<unreadable>")))
        return out

    def dict_items(self, d: Any) -> list[tuple[str, Any]]:
        """Entries of a DictAttr, with the same fallback as `attribute_items`."""
        names = [d[i].name for i in range(len(d))]  # NamedAttribute.attr could abort; .name not
        out: list[tuple[str, Any]] = []
        texts: dict[str, str] | None = None
        for name in names:
            try:
                out.append((name, d[name]))
            except TypeError:
                if texts is None:
                    texts = parse_attr_dict(str(d).strip()[1:-1])
                out.append((name, texts.get(name, "<unreadable>")))
        return out

    def attr_text(self, attr: Any) -> str:
        ir = self.ir
        if isinstance(attr, ir.DenseElementsAttr) and not attr.is_splat and len(attr) > \
                _ELIDE_ELEMENTS:
            return f"dense<...({len(attr)} elements)> : {attr.type}"
        return str(attr)

    @staticmethod
    def string(attr: Any) -> str:
        value = getattr(attr, "value", None)
        return value if isinstance(value, str) else str(attr)

    # -- values and types ---------------------------------------------------------------------

    def value_id(self, value: Any) -> int:
        found = self.values.get(value)
        if found is None:  # a use before its definition (graph regions, later blocks)
            found = self.values[value] = len(self.values)
        return found

    def define(self, value: Any, kind: str, owner: int | None, index: int, func: str) -> int:
        vid = self.value_id(value)
        self.value_info[vid] = StableValue(
            id=vid, type=self.type_of(value.type), kind=kind, owner=owner, index=index, func=func)
        return vid

    def block_args(self, block: Any, *, owner: int | None, func: str) -> tuple[int, ...]:
        return tuple(
            self.define(v, "block_arg", owner, i, func) for i, v in enumerate(block.arguments))

    def type_of(self, t: Any) -> TensorType:
        found = self.types.get(t)
        if found is None:
            found = self.types[t] = self.convert_type(t)
        return found

    def convert_type(self, t: Any) -> TensorType:
        ir = self.ir
        text = str(t)
        if isinstance(t, ir.RankedTensorType):
            dynamic = ir.ShapedType.get_dynamic_size()
            enc = t.encoding
            return TensorType(
                text=text,
                shape=tuple(None if d == dynamic else d for d in t.shape),
                element_type=str(t.element_type),
                encoding=None if enc is None else str(enc),
            )
        if isinstance(t, ir.UnrankedTensorType):
            return TensorType(text=text, kind="unranked", element_type=str(t.element_type))
        if isinstance(t, ir.TupleType):
            elements = tuple(self.type_of(t.get_type(i)) for i in range(t.num_types))
            return TensorType(text=text, kind="tuple", elements=elements)
        if text.endswith("token"):  # !stablehlo.token, !mhlo.token
            return TensorType(text=text, kind="token")
        return TensorType(text=text, kind="other")

    # -- locations ----------------------------------------------------------------------------

    def source(self, loc: Any) -> Source:
        key = loc.attr
        found = self.locs.get(key)
        if found is None:
            found = self.locs[key] = self.decode_loc(loc)
        return found

    def decode_loc(self, loc: Any) -> Source:
        """jax writes `NameLoc(name_stack, frames)`, the frames being `NameLoc(function,
        FileLineColLoc)` chained by `CallSiteLoc(callee, caller)`, innermost first. The name
        stack is the outermost name, as XLA's op_name (location_exporter.cc); names ending in
        ':' mark op types and are skipped, as XLA does."""
        ir = self.ir
        if isinstance(loc, ir.NameLoc):
            child = loc.child_loc
            if isinstance(child, ir.FileLineColLoc):
                return Source(frames=(self.frame(child, loc.name_str),))
            inner = self.source(child) if isinstance(child, self.loc_classes) else NO_SOURCE
            name = loc.name_str
            if name.endswith(":"):
                return Source(frames=inner.frames)
            return Source(name_stack=name, frames=inner.frames)
        if isinstance(loc, ir.CallSiteLoc):
            callee = self.source(loc.callee)
            caller = self.source(loc.caller)
            return Source(name_stack=callee.name_stack, frames=callee.frames + caller.frames)
        if isinstance(loc, ir.FileLineColLoc):
            if loc.filename == _PARSER_FILE:  # where MLIR parsed the op: not a Python frame
                return NO_SOURCE
            return Source(frames=(self.frame(loc, ""),))
        if isinstance(loc, ir.FusedLoc):
            parts = [self.source(part) for part in loc.locations]
            names = [p.name_stack for p in parts if p.name_stack]
            frames = next((p.frames for p in parts if p.frames), ())
            return Source(name_stack=";".join(names), frames=frames)
        return NO_SOURCE

    @staticmethod
    def frame(loc: Any, function: str) -> Frame:
        return Frame(
            file=loc.filename,
            line=loc.start_line,
            column=loc.start_col,
            end_line=loc.end_line,
            end_column=loc.end_col,
            function=function,
        )

    # -- shardy -------------------------------------------------------------------------------

    def mesh_op(self, op: Any) -> Mesh:
        attrs = dict(self.attribute_items(op))
        return self.mesh(attrs["mesh"], self.ir.StringAttr(attrs["sym_name"]).value)

    def mesh(self, attr: Any, name: str) -> Mesh:
        sdy = self.sdy
        m = sdy.MeshAttr(attr)
        axes = tuple(MeshAxis(name=sdy.MeshAxisAttr(a).name, size=sdy.MeshAxisAttr(a).size)
                     for a in m.axes)
        return Mesh(name=name, axes=axes, device_ids=tuple(int(i) for i in m.device_ids))

    def axis_ref(self, attr: Any) -> AxisRef:
        sdy = self.sdy
        ref = sdy.AxisRefAttr(attr)
        info = ref.sub_axis_info
        if info is None:
            return AxisRef(name=ref.name)
        sub = sdy.SubAxisInfoAttr(info)
        return AxisRef(name=ref.name, sub_axis=(sub.pre_size, sub.size))

    def tensor_sharding(self, attr: Any) -> TensorSharding | None:
        sdy = self.sdy
        if not sdy.TensorShardingAttr.isinstance(attr):
            return None
        ts = sdy.TensorShardingAttr(attr)
        mesh_or_ref = ts.mesh_or_ref
        inline = None
        mesh_name = ""
        if isinstance(mesh_or_ref, self.ir.FlatSymbolRefAttr):
            mesh_name = mesh_or_ref.value
        else:
            inline = self.mesh(mesh_or_ref, "")
        dims = []
        for d in ts.dimension_shardings:
            dim = sdy.DimensionShardingAttr(d)
            dims.append(DimSharding(
                axes=tuple(self.axis_ref(a) for a in dim.axes),
                is_closed=bool(dim.is_closed),
                priority=dim.priority,
            ))
        return TensorSharding(
            mesh=mesh_name,
            dims=tuple(dims),
            replicated=tuple(self.axis_ref(a) for a in ts.replicated_axes),
            unreduced=tuple(self.axis_ref(a) for a in ts.unreduced_axes),
            inline_mesh=inline,
        )

    def per_value(self, attr: Any) -> tuple[TensorSharding, ...]:
        sdy = self.sdy
        if sdy.TensorShardingAttr.isinstance(attr):  # a single sharding where a list is due
            one = self.tensor_sharding(attr)
            return (one,) if one else ()
        if not sdy.TensorShardingPerValueAttr.isinstance(attr):
            return ()
        out = []
        for s in sdy.TensorShardingPerValueAttr(attr).shardings:
            one = self.tensor_sharding(s)
            if one is not None:
                out.append(one)
        return tuple(out)

    def manual_computation(
        self, op_id: int, op: Any, ops: tuple[StableOp, ...]
    ) -> ManualComputation:
        attrs = dict(self.attribute_items(op))
        axes = attrs.get("manual_axes")
        body = []
        for o in ops[op_id + 1:]:  # pre-order: the body is the run of ops just after it
            if not _inside(o, op_id, ops):
                break
            body.append(o.id)
        return ManualComputation(
            op=op_id,
            in_shardings=self.per_value(attrs["in_shardings"]) if "in_shardings" in attrs else (),
            out_shardings=self.per_value(attrs["out_shardings"]) if "out_shardings" in attrs
            else (),
            manual_axes=tuple(_QUOTED.findall(str(axes))) if axes is not None else (),
            body=tuple(body),
        )


def _inside(op: StableOp, ancestor: int, ops: tuple[StableOp, ...]) -> bool:
    p = op.parent
    while p is not None and p > ancestor:
        p = ops[p].parent
    return p == ancestor
