"""Rich text of a DiffReport (`hloscope diff A B`): summary first, then what explains it.

Not a `dump` view (those take one Analysis); `hloscope/cli/diff_cmd.py` and anyone holding a
DiffReport call `render(report, console)`. Figures come from the report only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

from hloscope.views._fmt import bytes_text, seconds_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from hloscope.passes.diff import DiffReport, DiffSide, TotalRow

OP_NAME_WIDTH = 60
"""op_names are cut to this many characters (XLA's combined collectives list every op)."""


def si(n: float | None, unit: str = "") -> str:
    """`3.63e8` -> `363 M`; `-` for None."""
    if n is None:
        return "-"
    for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {prefix}{unit}"
    return f"{n:.3g} {unit}".rstrip() if n != int(n) else f"{int(n):,} {unit}".rstrip()


def value_text(n: float | None, unit: str) -> str:
    if unit == "B":
        return bytes_text(n)
    if unit == "s":
        return seconds_text(n)
    if unit == "FLOP":
        return si(n, "FLOP")
    if n is None:
        return "-"
    return f"{n:,.0f}" if n == int(n) else f"{n:,.3g}"


def delta_text(d: float | None, unit: str) -> str:
    if d is None:
        return "-"
    if d == 0:
        return "0"
    sign = "+" if d > 0 else "−"
    return sign + value_text(abs(d), unit)


def short_source(source: str | None) -> str:
    """`/path/to/model.py:42` -> `model.py:42`."""
    if not source:
        return "-"
    path, _, line = source.rpartition(":")
    return f"{path.rsplit('/', 1)[-1]}:{line}" if path else source


def short_op_name(op_name: str) -> str:
    """Without the leading `jit(f)/`, cut to OP_NAME_WIDTH."""
    text = op_name
    if text.startswith("jit(") and ")/" in text:
        text = text.split(")/", 1)[1]
    return text if len(text) <= OP_NAME_WIDTH else text[: OP_NAME_WIDTH - 1] + "…"


def _print_table(console: Console, columns: tuple[tuple[str, str], ...],
                 rows: list[tuple[str | Text, ...]], *, flexible: int = -1,
                 cap: int = 40) -> None:
    """A plain table: each column as wide as its content up to `cap`, the `flexible` one
    (default the last) takes what is left; cells too long end with an ellipsis."""
    from rich.table import Table

    flex = flexible % len(columns)
    natural = [max([len(name), *(len(str(r[i])) for r in rows)])
               for i, (name, _) in enumerate(columns)]
    while True:  # narrow the widest columns until the flexible one has room
        widths = [min(cap, n) for n in natural]
        rest = console.width - sum(w + 2 for i, w in enumerate(widths) if i != flex)
        if rest >= min(20, natural[flex]) or cap <= 12:
            break
        cap -= 2
    widths[flex] = max(8, min(rest, natural[flex]))
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for (name, justify), width in zip(columns, widths, strict=True):
        t.add_column(name, justify=justify, no_wrap=True,  # type: ignore[arg-type]
                     overflow="ellipsis", width=width)
    for r in rows:
        t.add_row(*r)
    console.print(t)


def _side_line(tag: str, side: DiffSide) -> str:
    bits = [side.name or "-"]
    if side.devices > 1 or side.mesh:
        bits.append(f"{side.devices} devices" + (f" ({side.mesh})" if side.mesh else ""))
    if side.platform:
        bits.append(side.platform)
    return f"{tag}  {side.label}: " + ", ".join(bits)


def render(report: DiffReport, console: Console, *, top: int = 10) -> None:
    """The whole report: header, totals, then each section that has something to say."""
    from rich.text import Text

    console.print(Text(_side_line("A", report.a)), highlight=False)
    console.print(Text(_side_line("B", report.b)), highlight=False)
    if report.identical:
        console.print(Text("no differences", style="bold green"))
        m = report.matching
        if m is not None:
            console.print(f"{m.instructions_a:,} instructions matched one to one; names, ids, "
                          "channel ids and metadata are not compared", highlight=False)
        _notes(console, report)
        return
    console.print()
    _totals(console, report.totals)
    if "instructions" in report.unavailable:  # a side without optimized HLO: nothing to match
        _heading(console, "not compared: instructions, collectives, kernels, lines, memory")
        console.print(report.unavailable["instructions"], highlight=False)
        _notes(console, report)
        return
    _collectives(console, report, top)
    _kernels(console, report, top)
    _lines(console, report, top)
    _parameters(console, report, top)
    _memory(console, report, top)
    _instructions(console, report)
    _notes(console, report)


def _heading(console: Console, text: str) -> None:
    from rich.text import Text

    console.print()
    console.print(Text(text, style="bold cyan"))


def _totals(console: Console, rows: tuple[TotalRow, ...]) -> None:
    from rich.text import Text

    cells: list[tuple[str | Text, ...]] = []
    for r in rows:
        if r.key.startswith("collective") and "[" in r.key and not r.a and not r.b:
            continue
        style = "" if not r.changed else ("red" if (r.delta or 0) > 0 else "green")
        rel = r.rel
        cells.append((
            r.label, value_text(r.a, r.unit), value_text(r.b, r.unit),
            Text(delta_text(r.delta, r.unit), style=style),
            f"{rel:+.1%}".replace("-", "−") if rel is not None and r.changed else "",
        ))
    _print_table(console, (("", "left"), ("A", "right"), ("B", "right"), ("Δ", "right"),
                           ("", "right")), cells, flexible=0)
    if any(r.estimate for r in rows):
        console.print("est. = roofline estimate over the hardware's published figures",
                      style="dim", highlight=False)


def _unavailable(console: Console, report: DiffReport, key: str) -> bool:
    why = report.unavailable.get(key)
    if why is not None:
        console.print(f"not compared: {why}", highlight=False)
        return True
    return False


def _counts(items: Mapping[str, int]) -> str:
    """`3 added, 1 removed`: the most frequent first."""
    return ", ".join(f"{n} {status}" for status, n in Counter(items).most_common())


def _collectives(console: Console, report: DiffReport, top: int) -> None:
    cs = report.collectives
    if not cs and "collectives" not in report.unavailable:
        return
    _heading(console, "collectives" + (f": {_counts(report.status_counts('collectives'))}"
                                       if cs else ""))
    if _unavailable(console, report, "collectives"):
        return
    for status, kind, axes, n, d in report.collective_groups():
        console.print(f"  {status} {n} {kind} over {axes}: {delta_text(d, 'B')}/device/step",
                      highlight=False)
    console.print()
    rows: list[tuple[str | Text, ...]] = []
    for c in cs[:top]:
        moved = c.axes_a if c.axes_a == c.axes_b or c.axes_b is None else (
            c.axes_b if c.axes_a is None else f"{c.axes_a} → {c.axes_b}")
        rows.append((c.status, c.kind, moved or "-", bytes_text(c.bytes_a), bytes_text(c.bytes_b),
                     "-" if c.count_a is None else str(c.count_a),
                     "-" if c.count_b is None else str(c.count_b),
                     short_source(c.source), short_op_name(c.op_name)))
    _print_table(console, (("change", "left"), ("kind", "left"), ("axes", "left"),
                           ("sent/dev A", "right"), ("B", "right"), ("× A", "right"),
                           ("B", "right"), ("source", "left"), ("op", "left")), rows)
    _more(console, len(cs), top)


def _more(console: Console, n: int, top: int) -> None:
    if n > top:
        console.print(f"… {n - top} more (--top N, or --json)", style="dim", highlight=False)


def _kernels(console: Console, report: DiffReport, top: int) -> None:
    ks = report.kernels
    if not ks and "kernels" not in report.unavailable:
        return
    _heading(console, "kernels" + (f": {_counts(report.status_counts('kernels'))}" if ks
                                   else ""))
    if _unavailable(console, report, "kernels"):
        return
    rows: list[tuple[str | Text, ...]] = [
        (k.status, delta_text(k.time_delta, "s"), _kernel_names(k.a, k.b),
         short_source(k.source), (", ".join(k.changes) + ": " if k.changes else "") + k.what)
        for k in ks[:top]
    ]
    _print_table(console, (("change", "left"), ("Δ est.", "right"), ("kernel A → B", "left"),
                           ("source", "left"), ("what", "left")), rows)
    _more(console, len(ks), top)


def _kernel_names(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    if a == b:
        return _names(a)
    return f"{_names(a)} → {_names(b)}"


def _names(names: tuple[str, ...]) -> str:
    if not names:
        return "-"
    return names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")


def _lines(console: Console, report: DiffReport, top: int) -> None:
    lines = report.lines
    if not lines and "source_lines" not in report.unavailable:
        return
    timed = any(ln.time_delta is not None for ln in lines)
    _heading(console, "source lines by Δ " + ("estimated time" if timed else "bytes"))
    if _unavailable(console, report, "source_lines"):
        return
    rows: list[tuple[str | Text, ...]] = [
        (short_source(ln.source), si(ln.flops_a), si(ln.flops_b), bytes_text(ln.bytes_a),
         bytes_text(ln.bytes_b), delta_text(ln.time_delta, "s"), ln.function or "-")
        for ln in lines[:top]
    ]
    _print_table(console, (("line", "left"), ("FLOPs A", "right"), ("B", "right"),
                           ("bytes A", "right"), ("B", "right"), ("Δ est.", "right"),
                           ("function", "left")), rows)
    _more(console, len(lines), top)


def _parameters(console: Console, report: DiffReport, top: int) -> None:
    ps = report.parameters
    if not ps:
        return
    _heading(console, f"parameters: {_counts(report.status_counts('parameters'))}")
    rows: list[tuple[str | Text, ...]] = [
        (p.status, p.label, _param_side(p.shape_a, p.layout_a, p.sharding_a),
         _param_side(p.shape_b, p.layout_b, p.sharding_b))
        for p in ps[:top]
    ]
    _print_table(console, (("change", "left"), ("parameter", "left"), ("A per device", "left"),
                           ("B per device", "left")), rows)
    _more(console, len(ps), top)


def _param_side(shape: str | None, layout: str | None, sharding: str | None) -> str:
    if shape is None:
        return "-"
    if layout:
        return f"{shape} ({layout})"
    return f"{shape} {sharding}" if sharding else shape


def _memory(console: Console, report: DiffReport, top: int) -> None:
    m = report.memory
    if m is None:
        if "memory" in report.unavailable:
            _heading(console, "memory peak")
            _unavailable(console, report, "memory")
        return
    if not m.delta and not m.buffers:
        return
    _heading(console, f"memory peak: {bytes_text(m.peak_a)} → {bytes_text(m.peak_b)} "
                      f"({delta_text(m.delta, 'B')})")
    parts = [f"{k} {delta_text(d, 'B')}" for k, d in m.split_delta().items()]
    if parts:
        console.print("at the peak, by kind: " + ", ".join(parts), highlight=False)
    if not m.buffers:
        return
    rows: list[tuple[str | Text, ...]] = []
    for x in m.buffers[:top]:
        shape = x.shape_b or x.shape_a or "-"
        if x.shape_a and x.shape_b and x.shape_a != x.shape_b:
            shape = f"{x.shape_a} → {x.shape_b}"
        rows.append((delta_text(x.delta, "B"), x.name_a or "-", x.name_b or "-", x.kind,
                     short_source(x.source), shape))
    _print_table(console, (("Δ", "right"), ("A", "left"), ("B", "left"), ("kind", "left"),
                           ("source", "left"), ("shape", "left")), rows)
    _more(console, len(m.buffers), top)


def _instructions(console: Console, report: DiffReport) -> None:
    m = report.matching
    if m is None:
        if "instructions" in report.unavailable:
            _heading(console, "instructions")
            _unavailable(console, report, "instructions")
        return
    _heading(console, "instructions")
    console.print(f"{len(m.a_to_b):,} matched ({_stages(m.by_stage)}), "
                  f"{len(m.changed):,} of them changed", highlight=False)
    for tag, refs, side in (("A only", m.unmatched_a, "a"), ("B only", m.unmatched_b, "b")):
        by_opcode = report.unmatched_opcodes(side)
        if refs and by_opcode is not None:
            ops = Counter(by_opcode)
            shown = ", ".join(f"{op} {n}" for op, n in ops.most_common(6))
            console.print(f"{tag}: {len(refs):,} ({shown}{', …' if len(ops) > 6 else ''})",
                          highlight=False)
    if m.changed:
        what = Counter(m.changes_by_what())
        console.print("changed: " + ", ".join(f"{w} {n}" for w, n in what.most_common()),
                      highlight=False)
    if m.schedule_changed:
        console.print(f"schedule order differs in: {', '.join(m.schedule_changed[:5])}",
                      highlight=False)
    for line in m.module_changes:
        console.print(f"module: {line}", highlight=False)


def _stages(by_stage: Mapping[str, int]) -> str:
    return ", ".join(f"{n:,} by {stage}" for stage, n in by_stage.items())


def _notes(console: Console, report: DiffReport) -> None:
    if report.identical:  # sections not compared, once per reason
        reasons: dict[str, list[str]] = {}
        for section, why in report.unavailable.items():
            reasons.setdefault(why, []).append(section)
        for why, sections in reasons.items():
            console.print(f"note: not compared ({', '.join(sections)}): {why}", style="dim",
                          highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", style="dim", highlight=False)
