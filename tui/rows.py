"""Reports -> table rows and short texts. The one place that knows the reports' field names,
so a change in a report touches this module only. Formatting and ordering only: every figure
shown comes from a report.
"""

from __future__ import annotations

import os
from typing import Any

from rich.text import Text

from hloscope.tui import fmt, theme
from hloscope.tui.widgets.vtable import Bar, Column, Row, render_bar


def bar_text(bar: Bar, width: int) -> Text:
    return render_bar(bar, width)


def hardware_name(roofline: Any) -> str:
    hw = getattr(roofline, "hardware", None)
    return str(getattr(hw, "name", hw) or "–")


# -- memory -----------------------------------------------------------------------------------


def fit_of(memory: Any, hardware: str | None) -> Any | None:
    fits = getattr(memory, "fits", None) or {}
    return fits.get(hardware) if hardware else None


def fit_text(memory: Any, hardware: str | None, *, short: bool = False) -> Text:
    fit = fit_of(memory, hardware)
    if fit is None:
        return Text("")
    if short:
        if fit.fits:
            return Text(f"fits: {fmt.nbytes(fit.margin_bytes)} to spare", style=theme.GOOD)
        return Text(f"does NOT fit: {fmt.nbytes(-fit.margin_bytes)} over",
                    style=f"bold {theme.BAD}")
    basis = "XLA's figures" if fit.basis == "xla" else "our model"
    if fit.fits:
        return Text(f"fits on {hardware}: {fmt.nbytes(fit.margin_bytes)} to spare ({basis})",
                    style=theme.GOOD)
    return Text(f"does not fit on {hardware}: {fmt.nbytes(-fit.margin_bytes)} over ({basis})",
                style=f"bold {theme.BAD}")


BUFFER_COLUMNS = (
    Column("name", "buffer", ratio=2),
    Column("bytes", "size", width=10, align="right"),
    Column("bar", "", width=10, hide_below=110),
    Column("kind", "kind", width=9),
    Column("shape", "shape", ratio=2),
    Column("live", "live steps", width=11, align="right", hide_below=110),
    Column("source", "source", ratio=2),
)


def buffer_rows(memory: Any) -> list[Row]:
    bufs = memory.at_peak
    top = max((b.bytes for b in bufs), default=0) or 1
    out = []
    for b in bufs:
        out.append(Row(
            (
                b.name,
                fmt.nbytes(b.bytes),
                Bar(b.bytes / top, theme.MEMORY, theme.MEMORY_CHAR),
                b.kind,
                b.shape,
                f"{b.live_from}–{b.live_to}",
                short_source(b.source or "") or b.op_name,
            ),
            key=b.defined_by or b.name,
            search=f"{b.name} {b.kind} {b.shape} {b.defined_by} {b.op_name} {b.source or ''}"
            .lower(),
        ))
    return out


# -- kernels ----------------------------------------------------------------------------------

KERNEL_COLUMNS = (
    Column("rank", "#", width=5, align="right", hide_below=120),
    Column("name", "kernel", ratio=3),
    Column("what", "what", ratio=4),
    Column("time", "est./step", width=10, align="right"),
    Column("bar", "", width=10, hide_below=110),
    Column("bound", "bound", width=10),
    Column("flops", "FLOPs/run", width=9, align="right"),
    Column("bytes", "bytes/run", width=10, align="right"),
    Column("count", "runs", width=4, align="right"),
    Column("source", "source", ratio=3),
)

TOP_KERNEL_COLUMNS = (
    Column("name", "kernel", ratio=3),
    Column("what", "what", ratio=4),
    Column("time", "est./step", width=10, align="right"),
    Column("share", "share", width=6, align="right"),
    Column("bound", "bound", width=10),
    Column("source", "source", ratio=3),
)


def short_source(src: str) -> str:
    """`/home/u/model.py:42` -> `model.py:42` (tables); the full path stays in the report."""
    if not src:
        return ""
    path, _, line = src.rpartition(":")
    if not path or not line.isdigit():
        return os.path.basename(src)
    return f"{os.path.basename(path)}:{line}"


# Opcodes that say little about what a kernel computes; named only when nothing else is.
_PLUMBING = frozenset("bitcast constant broadcast reshape parameter copy tuple get-tuple-element "
                      "iota convert slice".split())


def kernel_what(k: Any) -> str:
    """`kLoop add (+3) → f32[8,128]`: kind, root opcode, how many other opcodes, result."""
    kind = k.backend_kind or k.kind
    others = [o for o in k.opcodes if o != k.root_opcode and o not in _PLUMBING]
    head = k.root_opcode if kind == "unfused" else f"{kind} {k.root_opcode}"
    if others:
        head += f" +{others[0]}" + (f" +{len(others) - 1}" if len(others) > 1 else "")
    out = k.outputs[0].shape if k.outputs else ""
    return f"{head} → {out}" if out else head


def kernel_order(fusion: Any, roofline: Any | None, sort: str = "time") -> list[Any]:
    """Kernels most expensive first: by the roofline's ranking (estimated time per step) when
    there is one, else by FLOPs x executions; or by FLOPs, bytes or name."""
    kernels = list(fusion.kernels)
    if sort == "time" and roofline is not None:
        by_name = {k.name: k for k in kernels}
        return [by_name[n] for n in roofline.top_kernels if n in by_name]
    if sort == "bytes":
        return sorted(kernels, key=lambda k: -k.bytes_accessed * k.count)
    if sort == "name":
        return sorted(kernels, key=lambda k: k.name)
    return sorted(kernels, key=lambda k: (-k.flops * k.count, -k.bytes_accessed * k.count))


def kernels_summary(fusion: Any, roofline: Any | None, order: str) -> Text:
    t = Text(f" {len(fusion.kernels)} kernels ({fusion.executed_kernel_count} launches per step),"
             f" by {order}")
    if roofline is not None:
        t.append(f"   estimates on {hardware_name(roofline)}", style="dim")
    return t


def _kernel_search(k: Any) -> str:
    return " ".join((k.name, k.kind, k.backend_kind, k.category, " ".join(k.opcodes),
                     " ".join(k.sources), " ".join(k.scopes))).lower()


def kernel_rows(
    fusion: Any, roofline: Any | None, *, limit: int | None = None,
    full: bool = False, sort: str = "time", sharding: Any | None = None,
) -> list[Row]:
    order = kernel_order(fusion, roofline, sort)
    if limit is not None:
        order = order[:limit]
    by_kernel = roofline.by_kernel if roofline is not None else {}
    top = max((by_kernel[k.name].total_s for k in order if k.name in by_kernel), default=0.0)
    collectives = {c.name: c for c in sharding.collectives} if sharding is not None else {}
    out = []
    for i, k in enumerate(order, 1):
        e = by_kernel.get(k.name)
        bound = e.bound if e is not None else ""
        style = theme.BOUND_STYLE.get(bound, "")
        time = fmt.seconds(e.total_s) if e is not None else "-"
        src = short_source(k.primary_source or (k.sources[0] if k.sources else ""))
        what = kernel_what(k)
        c = collectives.get(k.name)
        if c is not None:
            what = f"{c.kind} over {c.axes_label}, {fmt.nbytes(c.bytes_per_device)}/dev"
        if full:
            cells: tuple[Any, ...] = (
                str(i),
                k.name,
                what,
                time,
                Bar(e.total_s / top if (e is not None and top) else 0.0, style,
                    theme.BOUND_CHAR.get(bound, "█")),
                Text(bound, style=style),
                fmt.count(k.flops),
                fmt.nbytes(k.bytes_accessed),
                str(k.count),
                src,
            )
        else:
            frac = (roofline.kernel_share(k.name)
                    if roofline is not None and e is not None else None)
            share = fmt.percent(frac) if frac is not None else ""
            cells = (k.name, what, time, share, Text(bound, style=style), src)
        out.append(Row(cells, key=k.name, search=_kernel_search(k)))
    return out


# -- source lines -----------------------------------------------------------------------------

TOP_SOURCE_COLUMNS = (
    Column("source", "line", ratio=2),
    Column("time", "est./step", width=10, align="right"),
    Column("share", "of step", width=14),
    Column("flops", "FLOPs/step", width=11, align="right"),
    Column("what", "kernels", ratio=2),
)


def source_rows(report: Any, fusion: Any, *, limit: int | None = None) -> list[Row]:
    """Python lines of the source report, in its order (longest estimated time first), with
    their share of the estimated step."""
    items = report.lines if limit is None else report.lines[:limit]
    index = {k.name: k for k in fusion.kernels}
    out = []
    for line in items:
        share = report.share(line) or 0.0
        cats: dict[str, int] = {}
        for n in line.kernels:
            k = index.get(n)
            if k is not None and k.category == "collective":
                op = k.opcode.removesuffix("-start")
                cats[op] = cats.get(op, 0) + 1
        what = f"{len(line.kernels)} kernel{'s' if len(line.kernels) != 1 else ''}"
        for op, c in cats.items():
            what += f", {c} {op}"
        out.append(Row(
            (
                line.short if line.source != "?" else "? (no source line)",
                fmt.seconds(line.estimated_s),
                Bar(share, theme.COMPUTE, theme.COMPUTE_CHAR, label=fmt.percent(share)),
                fmt.flops(line.flops),
                what,
            ),
            key=line.source,
            search=f"{line.source} {what}".lower(),
        ))
    return out


def memory_header(memory: Any, hardware: str | None) -> Text:
    t = Text(" ")
    t.append(f"peak {fmt.nbytes(memory.peak_bytes)}", style=f"bold {theme.MEMORY}")
    t.append(f" at step {memory.peak_step} ({memory.peak_instruction})   ")
    t.append_text(fit_text(memory, hardware))
    t.append("\n ")
    split = memory.peak_split
    t.append("at the peak: " + "  ".join(f"{k} {fmt.nbytes(v)}" for k, v in split.items() if v))
    t.append(f"   whole run {fmt.nbytes(memory.whole_run_bytes)}, reserved "
             f"{fmt.nbytes(memory.reserved_bytes)}")
    if memory.xla_peak_bytes:
        t.append(f"   XLA's peak figure {fmt.nbytes(memory.xla_peak_bytes)}", style="dim")
    return t


COLLECTIVE_COLUMNS = (
    Column("kind", "kind", width=14),
    Column("axes", "axes", width=11),
    Column("group", "group", width=5, align="right", hide_below=110),
    Column("bytes", "bytes/dev", width=10, align="right"),
    Column("count", "×", width=4, align="right"),
    Column("time", "est./step", width=10, align="right"),
    Column("source", "source", ratio=2),
    Column("why", "why", ratio=5),
)


def collective_order(sharding: Any) -> list[Any]:
    """Longest estimated time per step first (bytes per step when there is no estimate)."""
    return sorted(
        sharding.collectives,
        key=lambda c: (-(c.total_s if c.total_s is not None else -1.0), -c.total_bytes),
    )


def collective_rows(sharding: Any) -> list[Row]:
    out = []
    for c in collective_order(sharding):
        kind = c.kind + (" (async)" if c.is_async else "")
        out.append(Row(
            (
                Text(kind, style=theme.COMMS),
                c.axes_label,
                str(c.group_size),
                fmt.nbytes(c.bytes_per_device),
                str(c.count),
                fmt.seconds(c.total_s),
                short_source(c.source),
                c.why,
            ),
            key=c.name,
            search=f"{c.name} {c.kind} {c.axes_label} {c.source} {c.op_name} {c.why}".lower(),
        ))
    return out


def collective_summary(sharding: Any) -> str:
    n = len(sharding.collectives)
    text = f"collectives {n}"
    if n:
        text += f", {fmt.nbytes(sharding.total_bytes)} sent per device per step"
    return text


def collectives_header(sharding: Any, hardware: str | None) -> Text:
    t = Text(" " + collective_summary(sharding))
    if sharding.total_s is not None:
        t.append(f", est. {fmt.seconds(sharding.total_s)} on {hardware or '–'}")
    if sharding.by_axis:
        t.append("\n by axis: ", style="dim")
        t.append("   ".join(
            f"{label} {fmt.nbytes(a.sent_bytes)} ({a.count})"
            for label, a in sharding.by_axis.items()
        ))
    return t


def collective_detail(sharding: Any, name: str) -> Text:
    c = next((x for x in sharding.collectives if x.name == name), None)
    if c is None:
        return Text("")
    t = Text()
    t.append(c.name, style="bold")
    if c.instruction != c.name:
        t.append(f" ({c.instruction})")
    t.append(f"  {c.kind} over {c.axes_label}: {c.num_groups} group(s) of {c.group_size}, "
             f"{c.mode}")
    t.append(f"\nper device: in {fmt.nbytes(c.in_bytes)}, out {fmt.nbytes(c.out_bytes)}, sends "
             f"{fmt.nbytes(c.sent_bytes)}, receives {fmt.nbytes(c.received_bytes)}; ×{c.count}"
             " per step")
    t.append(f"\n{c.algorithm}: {c.formula}", style="dim")
    if c.estimate:
        t.append(f" = {c.estimate}", style="dim")
    if c.link:
        t.append(f" ({c.link}, {c.link_scope})", style="dim")
    if c.why:
        t.append(f"\nwhy: {c.why}", style="italic")
    if c.sharding_before or c.sharding_after:
        t.append(f"\n{c.sharding_before or '?'} → {c.sharding_after or '?'}", style="dim")
    if c.source_file:
        t.append(f"\n{c.source_file}:{c.source_line}", style="dim")
    if c.op_name:
        t.append(f"  {c.op_name}", style="dim")
    return t
