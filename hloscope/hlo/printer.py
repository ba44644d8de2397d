"""Module -> HLO text that XLA's own parser accepts, and that `parse` reads back into an equal
module (`parse(print_module(m)) == m`; line numbers aside).

Layout of the output follows XLA's printer: header, frame tables, computations callees first.
Header attributes are written from `Module.attributes` (raw, as read). Modelled instruction
attributes are written from their fields, unmodelled ones raw in their original order.
"""

from __future__ import annotations

from collections.abc import Iterator

from hloscope.hlo.lexer import quote
from hloscope.hlo.mesh_groups import format_mesh_groups
from hloscope.hlo.model import (
    Computation,
    GroupsForm,
    Instruction,
    Metadata,
    Module,
    ReplicaGroups,
)
from hloscope.hlo.shapes import format_shape
from hloscope.hlo.sharding import format_sharding

_SUGAR_SUFFIX = {"async-start": "-start", "async-update": "-update", "async-done": "-done"}
_METADATA_INTS = ("source_line", "source_end_line", "source_column", "source_end_column")


def print_module(module: Module) -> str:
    out: list[str] = []
    if module.has_header:
        head = f"HloModule {module.name}"
        for key, raw in module.attributes:
            head += f", {key}={raw}"
        out += [head, ""]
    out += _tables(module)
    for comp in module.computations:
        out += _computation(module, comp)
        out.append("")
    return "\n".join(out)


def _tables(module: Module) -> list[str]:
    if not (module.file_names or module.function_names or module.file_locations
            or module.stack_frames):
        return []
    out = ["FileNames"]
    out += [f"{i} {quote(v)}" for i, v in sorted(module.file_names.items())]
    out += ["", "FunctionNames"]
    out += [f"{i} {quote(v)}" for i, v in sorted(module.function_names.items())]
    out += ["", "FileLocations"]
    for i, loc in sorted(module.file_locations.items()):
        out.append(f"{i} {{file_name_id={loc.file_name_id} function_name_id="
                   f"{loc.function_name_id} line={loc.line} end_line={loc.end_line} "
                   f"column={loc.column} end_column={loc.end_column}}}")
    out += ["", "StackFrames"]
    for i, fr in sorted(module.stack_frames.items()):
        # XLA's text holds parent + 1 (see StackFrame.parent_frame_id).
        out.append(f"{i} {{file_location_id={fr.file_location_id} "
                   f"parent_frame_id={fr.parent_frame_id + 1}}}")
    out += ["", ""]
    return out


def _computation(module: Module, comp: Computation) -> list[str]:
    entry = "ENTRY " if comp.is_entry else ""
    signature = ""
    # XLA reads a headerless text that starts `name (...) -> ...` as a single instruction:
    # without a header the (optional) signature is left out.
    if module.has_header:
        params = ", ".join(
            f"{p}: {format_shape(comp.by_name[p].shape, layout=False)}" for p in comp.parameters
        )
        root_shape = format_shape(comp.by_name[comp.root].shape, layout=False)
        signature = f"({params}) -> {root_shape} "
    lines = [f"{entry}%{comp.name} {signature}{{"]
    lines += ["  " + instruction_text(comp, ins) for ins in comp.instructions]
    close = "}"
    if comp.execution_thread is not None:
        close += f", execution_thread={quote(comp.execution_thread)}"
    lines.append(close)
    return lines


def instruction_text(comp: Computation, ins: Instruction) -> str:
    """One instruction as XLA writes it (`ROOT %x = f32[2]{0} add(%a, %b), ...`)."""
    root = "ROOT " if ins.is_root else ""
    opcode = ins.opcode
    if ins.async_wrapped_opcode and opcode in _SUGAR_SUFFIX:
        opcode = ins.async_wrapped_opcode + _SUGAR_SUFFIX[opcode]
    if ins.opcode == "parameter":
        args = str(ins.parameter_number)
    elif ins.opcode == "constant":
        args = ins.literal or ""
    else:
        args = ", ".join("%" + o for o in ins.operands)
    text = f"{root}%{ins.name} = {format_shape(ins.shape)} {opcode}({args})"
    attrs = list(_attributes(comp, ins))
    if attrs:
        text += ", " + ", ".join(attrs)
    return text


def _attributes(comp: Computation, ins: Instruction) -> Iterator[str]:
    if ins.fusion_kind is not None:
        yield f"kind={ins.fusion_kind}"
    for key, raw in ins.attributes:
        yield f"{key}={raw}"
    yield from _called(comp, ins)
    yield from _collective_attributes(ins)
    yield from _common_attributes(ins)


def _collective_attributes(ins: Instruction) -> Iterator[str]:
    if ins.replica_groups is not None:
        yield "replica_groups=" + format_replica_groups(ins.replica_groups)
    if ins.source_target_pairs is not None:
        yield "source_target_pairs={" + ",".join(
            f"{{{a},{b}}}" for a, b in ins.source_target_pairs) + "}"



def _common_attributes(ins: Instruction) -> Iterator[str]:
    if ins.control_predecessors:
        yield "control-predecessors={" + ", ".join(
            "%" + n for n in ins.control_predecessors) + "}"
    if ins.sharding is not None:
        yield "sharding=" + format_sharding(ins.sharding)
    if ins.frontend_attributes:
        yield "frontend_attributes={" + ",".join(
            f"{k}={quote(v)}" for k, v in ins.frontend_attributes) + "}"
    if ins.metadata is not None:
        yield "metadata=" + format_metadata(ins.metadata)
    if ins.backend_config_text is not None:
        if ins.backend_config is not None:
            yield "backend_config=" + ins.backend_config_text
        else:
            yield "backend_config=" + quote(ins.backend_config_text)


def _names(names: tuple[str, ...]) -> str:
    return "{" + ", ".join("%" + n for n in names) + "}"


def _called(comp: Computation, ins: Instruction) -> Iterator[str]:
    called = ins.called
    if not called:
        return
    op = ins.opcode
    if op == "while" and len(called) == 2:
        yield f"condition=%{called[0]}"
        yield f"body=%{called[1]}"
    elif op == "select-and-scatter" and len(called) == 2:
        yield f"select=%{called[0]}"
        yield f"scatter=%{called[1]}"
    elif op == "conditional":
        yield from _branches(comp, ins)
    elif op == "fusion" or op.startswith("async-"):
        yield "calls=" + (f"%{called[0]}" if len(called) == 1 else _names(called))
    elif op == "custom-call":
        yield "called_computations=" + _names(called)
    elif len(called) == 1:
        yield f"to_apply=%{called[0]}"
    else:
        yield "called_computations=" + _names(called)


def _branches(comp: Computation, ins: Instruction) -> Iterator[str]:
    # XLA wants true/false computations when the selector is a pred, a list otherwise.
    selector = comp.by_name.get(ins.operands[0]) if ins.operands else None
    if selector is not None and selector.shape.element_type == "pred" and len(ins.called) == 2:
        yield f"true_computation=%{ins.called[0]}"
        yield f"false_computation=%{ins.called[1]}"
    else:
        yield "branch_computations=" + _names(ins.called)


def format_replica_groups(rg: ReplicaGroups) -> str:
    if rg.form is GroupsForm.IOTA:
        out = "[" + ",".join(map(str, rg.iota_dims)) + "]<=["
        out += ",".join(map(str, rg.reshape_dims)) + "]"
        if rg.transpose_perm:
            out += "T(" + ",".join(map(str, rg.transpose_perm)) + ")"
        return out
    if rg.form is GroupsForm.MESH:
        return format_mesh_groups(rg)
    return "{" + ",".join("{" + ",".join(map(str, g)) + "}" for g in rg.groups) + "}"


def format_metadata(md: Metadata) -> str:
    items: list[str] = []
    for key in ("op_type", "op_name", "source_file"):
        value = getattr(md, key)
        if value:
            items.append(f"{key}={quote(value)}")
    for key in _METADATA_INTS:
        value = getattr(md, key)
        if value:
            items.append(f"{key}={value}")
    items += [f"{k}={v}" for k, v in md.extra]
    if md.stack_frame_id:
        items.append(f"stack_frame_id={md.stack_frame_id}")
    return "{" + " ".join(items) + "}"

