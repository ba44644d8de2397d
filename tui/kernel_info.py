"""What the kernel detail screen shows, gathered from the fusion and roofline reports and the
IR: a header line, the fused instructions, the HLO excerpt, the Python source around the
lines the kernel comes from, and the StableHLO ops linked to it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text

from hloscope.tui import fmt, theme
from hloscope.tui.widgets.vtable import Column, Row

if TYPE_CHECKING:
    from hloscope.hlo.model import Computation, Instruction, Module
    from hloscope.tui.index import TextIndex

INSTR_COLUMNS = (
    Column("name", "instruction", ratio=3),
    Column("opcode", "opcode", width=18),
    Column("shape", "shape", ratio=3),
    Column("source", "source", ratio=3),
)

STABLEHLO_COLUMNS = (
    Column("op", "StableHLO op", ratio=4),
    Column("scope", "name scope", ratio=3),
    Column("line", "line", ratio=2),
)

# Lines of a Python file shown around a kernel's line, each side: enough to see the function.
CONTEXT_LINES = 40

MAX_OPS = 200
"""StableHLO ops listed for one kernel (a kernel in a loop body may link thousands)."""


def find_kernel(fusion: Any, name: str) -> Any | None:
    try:
        return fusion.kernel(name)
    except KeyError:
        return None


def header(kernel: Any, roofline: Any | None, hardware: str | None,
           collective: Any | None = None) -> Text:
    t = Text()
    t.append(kernel.name, style="bold")
    t.append(f"  {kernel.kind}")
    if kernel.backend_kind:
        t.append(f" ({kernel.backend_kind})")
    t.append(f"  {kernel.category}", style="dim")
    est = (getattr(roofline, "by_kernel", None) or {}).get(kernel.name)
    if est is not None:
        style = theme.BOUND_STYLE.get(est.bound, "")
        t.append(f"   est. {fmt.seconds(est.time_s)}", style="bold")
        if est.count != 1:
            t.append(f" × {est.count} = {fmt.seconds(est.total_s)}/step", style="bold")
        t.append(f" on {hardware or '–'}")
        t.append(f"  {est.bound}-bound", style=style)
        t.append(f"  intensity {est.intensity:.2f} FLOP/B ({fmt.percent(est.ridge_fraction)} "
                 f"of the {est.peak} ridge)")
    t.append("\n")
    t.append(f"FLOPs {fmt.flops(kernel.flops)}", style=theme.COMPUTE)
    t.append(f"   bytes {fmt.nbytes(kernel.bytes_accessed)}", style=theme.MEMORY)
    if kernel.transcendentals:
        t.append(f"   transcendentals {fmt.count(kernel.transcendentals)}")
    if kernel.count != 1:
        t.append(f"   runs ×{kernel.count} per step")
    t.append(f"   dtype {kernel.dtype}")
    t.append(f"   in {kernel.computation}", style="dim")
    t.append("\n")
    if collective is not None:
        c = collective
        t.append(f"{c.kind} over {c.axes_label}, groups of {c.group_size}: sends "
                 f"{fmt.nbytes(c.bytes_per_device)} per device ({c.algorithm}). ",
                 style=theme.COMMS)
        t.append(c.why, style="italic")
        return t
    t.append("in:  " + ", ".join(f"{p.name} {p.shape}" for p in kernel.inputs[:6]), style="dim")
    if len(kernel.inputs) > 6:
        t.append(f" … {len(kernel.inputs) - 6} more", style="dim")
    return t


def stablehlo_rows(kernel: Any, links: Any, stablehlo: Any) -> list[Row]:
    """The StableHLO ops linked to the kernel (same Python line and name scope); a row's key
    is the op id (-1 for the "more" row)."""
    from hloscope.tui.rows import short_source
    from hloscope.tui.source_info import op_label

    ids = links.kernel_ops(kernel.name)
    out = []
    for i in ids[:MAX_OPS]:
        op = stablehlo.ops[i]
        frame = op.frame
        out.append(Row((op_label(op), op.name_stack,
                        short_source(f"{frame.file}:{frame.line}") if frame else ""), key=i))
    if len(ids) > MAX_OPS:
        out.append(Row((f"… {len(ids) - MAX_OPS} more ops", "", ""), key=-1, style="dim"))
    return out


def kernel_instruction(module: Module, kernel: Any) -> tuple[Computation, Instruction] | None:
    comp = module.by_name.get(kernel.computation)
    if comp is None or kernel.name not in comp.by_name:
        return None
    return comp, comp.by_name[kernel.name]


def fused_computation(module: Module, ins: Instruction) -> Computation | None:
    """The computation a fusion (or an async start) runs."""
    if ins.opcode in ("fusion", "async-start") and ins.called:
        return module.by_name.get(ins.called[0])
    return None


def _source_label(module: Module, ins: Instruction) -> str:
    loc = _source_of(module, ins)
    if loc is None:
        return ""
    return f"{os.path.basename(loc.file)}:{loc.line}"


def _source_of(module: Module, ins: Instruction) -> Any | None:
    try:
        from hloscope.hlo.source import source_of
    except ImportError:  # the readers' source mapping not built yet: no locations
        return None
    return source_of(module, ins)


def instruction_rows(module: Module, kernel: Any) -> list[Row]:
    found = kernel_instruction(module, kernel)
    if found is None:
        return []
    _, ins = found
    body = fused_computation(module, ins)
    members = list(body.instructions) if body is not None else [ins]
    out = []
    for m in members:
        if m.opcode == "parameter" and body is not None:
            continue
        out.append(Row(
            (m.name + (" (root)" if m.is_root and body is not None else ""), m.opcode,
             _shape_text(m), _source_label(module, m)),
            key=m.name,
        ))
    return out


def _shape_text(ins: Instruction) -> str:
    s = ins.shape
    if s.is_tuple:
        return "(" + ", ".join(_leaf(x) for x in s.tuple_shapes) + ")"
    return _leaf(s)


def _leaf(s: Any) -> str:
    if s.is_tuple:
        return "(" + ", ".join(_leaf(x) for x in s.tuple_shapes) + ")"
    if not s.is_array:
        return str(s.element_type)
    return fmt.shape_text(s.element_type, s.dims)


def hlo_excerpt(
    module: Module, index: TextIndex, lines: Sequence[str], kernel: Any
) -> list[str]:
    """The kernel's instruction line, then its fused computation as written in the text."""
    found = kernel_instruction(module, kernel)
    if found is None:
        return [f"// {kernel.name}: not found in the module"]
    _, ins = found
    out = []
    line = index.line_of(ins.name)
    if 0 <= line < len(lines):
        out.append(lines[line])
    body = fused_computation(module, ins)
    if body is not None:
        start = index.computations.get(body.name, -1)
        if 0 <= start < len(lines):
            out.append("")
            end = start
            while end < len(lines) and lines[end].strip() != "}":
                end += 1
            out.extend(lines[start : end + 1])
    return out


@dataclass(frozen=True, slots=True)
class SourceExcerpt:
    header: Text
    lines: tuple[str, ...] = ()
    first_line: int = 1
    focus_line: int | None = None
    """0-based index into `lines` of the kernel's first line in that file."""
    marks: tuple[int, ...] = field(default=())


def source_excerpt(kernel: Any, module: Module | None) -> SourceExcerpt:
    """The Python lines of the kernel's instructions, and the file around the first of them."""
    locs = []
    if module is not None:
        found = kernel_instruction(module, kernel)
        if found is not None:
            _, ins = found
            body = fused_computation(module, ins)
            members = list(body.instructions) if body is not None else [ins]
            seen = set()
            for m in members:
                loc = _source_of(module, m)
                if loc is not None and (loc.file, loc.line) not in seen:
                    seen.add((loc.file, loc.line))
                    locs.append(loc)
    if not locs:
        sources = getattr(kernel, "sources", ()) or ()
        text = "no source location in this kernel's metadata" if not sources else (
            "lines: " + ", ".join(str(s) for s in sources)
        )
        return SourceExcerpt(Text(text, style="dim"))
    head = Text("lines: ")
    head.append(", ".join(f"{os.path.basename(x.file)}:{x.line}" for x in locs[:8]))
    if len(locs) > 8:
        head.append(f" and {len(locs) - 8} more")
    first = locs[0]
    head.append(f"\n{first.file}")
    fn = getattr(first, "function", "")
    if fn:
        head.append(f"  in {fn}")
    try:
        with open(first.file, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as exc:
        head.append(f"\n(file not readable here: {exc.strerror or exc})", style="dim")
        return SourceExcerpt(head)
    all_lines = text.splitlines()
    lo = max(0, first.line - 1 - CONTEXT_LINES)
    hi = min(len(all_lines), first.line + CONTEXT_LINES)
    marks = tuple(
        x.line - 1 - lo for x in locs if x.file == first.file and lo <= x.line - 1 < hi
    )
    return SourceExcerpt(
        head,
        tuple(all_lines[lo:hi]),
        first_line=lo + 1,
        focus_line=first.line - 1 - lo,
        marks=marks,
    )
