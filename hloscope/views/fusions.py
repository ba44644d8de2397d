"""`dump --view fusions`: the kernels XLA made (fusions and unfused compute instructions), what
each holds, its cost and the Python lines fused into it; bytes moved between kernels;
elementwise instructions left unfused between kernels. With `--hardware`, each kernel also
gets its roofline estimate (labelled with the hardware). The JSON lists each kernel's
StableHLO ops (`stablehlo_ops`, ids into the capture's StableHLO; this reads the StableHLO),
or says why there are none (`stablehlo_unavailable`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hloscope.views.ops import (
    cost_json,
    estimate_label,
    kernels_json,
    make_table,
    nbytes,
    seconds,
    short,
    si,
    wants_estimates,
)

if TYPE_CHECKING:
    from rich.console import Console

    from hloscope.analysis import Analysis
    from hloscope.views import ViewOptions


def to_json(analysis: Analysis, opts: ViewOptions) -> dict[str, Any]:
    from hloscope.errors import Error

    fusion = analysis.fusion
    doc = fusion.to_json()
    doc["kernels"] = kernels_json(analysis, opts, with_estimates=wants_estimates(opts))
    doc["largest"] = [k.name for k in fusion.largest(opts.top)]
    try:
        links = analysis.stablehlo_links
    except Error as e:  # no StableHLO in this capture, or one that does not read
        doc["stablehlo_unavailable"] = e.message
        links = None
    except ImportError as e:  # the StableHLO reader needs jaxlib's MLIR bindings
        doc["stablehlo_unavailable"] = f"the StableHLO reader is not available ({e})"
        links = None
    for k in doc["kernels"]:
        k["stablehlo_ops"] = list(links.kernel_ops(k["name"])) if links is not None else []
    return {"cost": cost_json(analysis.cost), "fusions": doc, "kernels": doc["kernels"]}


def _kind(k: Any) -> str:
    return f"{k.kind} {k.backend_kind}".strip() if k.backend_kind else k.kind


def _ops(k: Any, width: int = 40) -> str:
    text = ",".join(k.opcodes)
    return text if len(text) <= width else text[: width - 1] + "…"


def render(analysis: Analysis, console: Console, opts: ViewOptions) -> None:
    from rich.text import Text

    fusion = analysis.fusion
    roof = analysis.roofline if wants_estimates(opts) else None
    console.print(Text(
        f"{analysis.capture.name}: {fusion.kernel_count} kernels "
        f"({fusion.executed_kernel_count} launches per step) · "
        f"{nbytes(fusion.bytes_between_kernels)} between kernels per step · "
        + " · ".join(f"{c} {n}" for c, n in sorted(fusion.by_category.items())),
        style="bold cyan"))
    title = f"largest {opts.top} kernels by bytes per step"
    if roof is not None:
        title += f" — times are an {estimate_label(roof)}"
    cols = [("kernel", "name"), ("kind", "text"), ("category", "text"), ("ops", "text"),
            ("×", "num"), ("FLOPs", "num"), ("bytes", "num"), ("dtype", "text")]
    if roof is not None:
        cols += [(f"est. ({roof.hardware.name})", "num"), ("bound", "text")]
    cols.append(("source", "text"))
    table = make_table(title, cols)
    for k in fusion.largest(opts.top):
        row = [k.name, _kind(k), k.category, _ops(k), str(k.count), si(k.flops),
               nbytes(k.bytes_accessed), k.dtype]
        if roof is not None:
            est = roof.by_kernel[k.name]
            row += [seconds(est.time_s), est.bound]
        more = f" +{len(k.sources) - 1}" if len(k.sources) > 1 else ""
        row.append(short(k.primary_source) + more)
        table.add_row(*row)
    console.print(table)
    if fusion.missed_fusions:
        missed = make_table("unfused elementwise between kernels (candidate missed fusions)",
                            [("instruction", "name"), ("opcode", "text"), ("bytes", "num"),
                             ("reads from", "text"), ("read by", "text"), ("source", "text")])
        for m in sorted(fusion.missed_fusions, key=lambda m: -m.bytes_accessed)[: opts.top]:
            missed.add_row(m.name, m.opcode, nbytes(m.bytes_accessed),
                           ", ".join(m.producers[:3]), ", ".join(m.consumers[:3]),
                           short(m.source))
        console.print(missed)
    else:
        console.print(Text("no unfused elementwise instruction between kernels", style="dim"))
    lines = make_table(f"top {opts.top} source lines by FLOPs (bytes: kernels whose main "
                       "line it is)", [("line", "name"), ("function", "text"), ("FLOPs", "num"),
                                       ("bytes", "num"), ("kernels", "num")])
    for lc in list(fusion.by_source.values())[: opts.top]:
        lines.add_row(short(lc.source), lc.function, si(lc.flops), nbytes(lc.bytes_accessed),
                      str(len(lc.kernels)))
    console.print(lines)
