"""Source mapping: instruction -> Python file, line and function, through `stack_frame_id` and
the module's FileNames / FunctionNames / FileLocations / StackFrames tables (or the
`source_file` / `source_line` metadata when present), plus the op_name scope path."""

from __future__ import annotations

from dataclasses import dataclass

from hloscope.hlo.model import Instruction, Module

_MAX_FRAMES = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceLoc:
    file: str
    """Path as recorded by jax (full path kept; `short` gives the basename)."""
    line: int
    function: str = ""
    column: int = 0
    frames: tuple[SourceLoc, ...] = ()
    """The call stack, innermost first (this location first). Frames themselves have ()."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def short(self) -> str:
        """`basename:line`, for tables."""
        return f"{self.file.rsplit('/', 1)[-1]}:{self.line}"


def frames_of(module: Module, frame_id: int) -> tuple[SourceLoc, ...]:
    """The stack of frame `frame_id`, innermost first; () when the id is not in the tables.
    A frame whose location is missing ends the stack, and so does a cycle."""
    out: list[SourceLoc] = []
    seen: set[int] = set()
    fid = frame_id
    while fid and fid not in seen and len(out) < _MAX_FRAMES:
        seen.add(fid)
        frame = module.stack_frames.get(fid)
        loc = module.file_locations.get(frame.file_location_id) if frame else None
        if frame is None or loc is None:
            break
        out.append(SourceLoc(
            file=module.file_names.get(loc.file_name_id, ""),
            line=loc.line,
            function=module.function_names.get(loc.function_name_id, ""),
            column=loc.column,
        ))
        fid = frame.parent_frame_id
    return tuple(out)


def source_of(module: Module, instr: Instruction) -> SourceLoc | None:
    """Where the instruction came from in the user's Python, or None when XLA kept nothing."""
    md = instr.metadata
    if md is None:
        return None
    if md.stack_frame_id:
        stack = frames_of(module, md.stack_frame_id)
        if stack:
            top = stack[0]
            return SourceLoc(file=top.file, line=top.line, function=top.function,
                             column=top.column, frames=stack)
    if md.source_file:
        here = SourceLoc(file=md.source_file, line=md.source_line, column=md.source_column)
        return SourceLoc(file=here.file, line=here.line, column=here.column, frames=(here,))
    return None


def scope_parts(op_name: str) -> tuple[str, ...]:
    """`jit(f)/jvp(block)/dot_general` -> ('jit(f)', 'jvp(block)', 'dot_general'); slashes
    inside brackets or quotes (`params['a/b']`) do not split."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for i, c in enumerate(op_name):
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c == "/" and depth == 0:
            parts.append(op_name[start:i])
            start = i + 1
    parts.append(op_name[start:])
    return tuple(p for p in parts if p)


def scope(instr: Instruction) -> str:
    """The op_name scope path without the final op (`jit(f)/jvp(block)`); '' when none."""
    parts = scope_parts(instr.op_name)
    return "/".join(parts[:-1])
