"""`dump --view collectives`: every collective with its mesh axes, bytes per device, count per
step, estimated time on the hardware's links, source line and why it exists.

JSON: `collectives` (one entry per collective, see `passes.sharding.Collective.to_json`) and
`collectives_summary` (mesh, totals by axis and kind, notes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hloscope.views._fmt import bytes_text, seconds_text
from hloscope.views.ops import short

if TYPE_CHECKING:
    from rich.console import Console

    from hloscope.analysis import Analysis
    from hloscope.passes.sharding import Collective, ShardingReport
    from hloscope.views import ViewOptions


def to_json(analysis: Analysis, opts: ViewOptions) -> dict[str, Any]:
    r = analysis.sharding
    return {
        "collectives": [c.to_json() for c in _ranked(r)],
        "collectives_summary": {
            "mesh": r.mesh.to_json(),
            "num_devices": r.num_devices,
            "hardware": r.hardware,
            "estimate": r.estimate,
            "total_bytes": r.total_bytes,
            "total_s": r.total_s,
            "by_kind": dict(r.by_kind),
            "by_axis": {k: v.to_json() for k, v in r.by_axis.items()},
            "notes": list(r.notes),
        },
    }


def _ranked(r: ShardingReport) -> list[Collective]:
    """Heaviest first: estimated time per step when there is one, else bytes per step."""
    return sorted(
        r.collectives,
        key=lambda c: (-(c.total_s or 0.0), -c.total_bytes, c.computation, c.name),
    )


def render(analysis: Analysis, console: Console, opts: ViewOptions) -> None:
    from rich.table import Table
    from rich.text import Text

    r = analysis.sharding
    console.print(Text("collectives", style="bold cyan"))
    console.print(_header(r), markup=False, highlight=False)
    if not r.collectives:
        console.print("no collectives: nothing moves between devices")
        _notes(console, r)
        return
    ranked = _ranked(r)[: opts.top]
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col, justify in (
        ("#", "right"),
        ("kind", "left"),
        ("axes", "left"),
        ("n", "right"),
        ("×", "right"),
        ("sent/device", "right"),
        ("per step", "right"),
        ("est.", "right"),
        ("source", "left"),
    ):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for i, c in enumerate(ranked, 1):
        table.add_row(
            *(
                Text(x)
                for x in (
                    str(i),
                    c.kind + (" (async)" if c.is_async else ""),
                    c.axes_label,
                    str(c.group_size),
                    str(c.count),
                    bytes_text(c.bytes_per_device) + ("" if c.exact else "~"),
                    bytes_text(c.total_bytes),
                    seconds_text(c.total_s),
                    short(c.source) or "-",
                )
            )
        )
    console.print(table)
    if len(r.collectives) > len(ranked):
        console.print(Text(f"… {len(r.collectives) - len(ranked)} more (--top N)", style="dim"))
    console.print(Text("why", style="bold"))
    for i, c in enumerate(ranked, 1):
        console.print(f"{i:>3}. {c.name}: {c.why}", markup=False, highlight=False)
        if c.estimate:
            console.print(Text(f"     {c.estimate}", style="dim"))
    _by_axis(console, r)
    _notes(console, r)


def _header(r: ShardingReport) -> str:
    mesh = r.mesh.describe() if r.mesh.axis_sizes else "one device"
    kinds = " · ".join(f"{k} {v}" for k, v in sorted(r.by_kind.items()))
    line = f"mesh {mesh} · {r.num_devices} devices · {len(r.collectives)} collectives"
    if kinds:
        line += f" ({kinds})"
    line += f"\nper device per step: {bytes_text(r.total_bytes)} sent"
    if r.total_s is not None:
        line += f" · {seconds_text(r.total_s)} on {r.hardware} links (estimate)"
    elif r.hardware:
        line += f" · no link times for {r.hardware}"
    return line


def _by_axis(console: Console, r: ShardingReport) -> None:
    from rich.table import Table
    from rich.text import Text

    console.print(Text("by mesh axis (per device per step)", style="bold"))
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col in ("axes", "executions", "sent", "est."):
        table.add_column(col, justify="left" if col == "axes" else "right", no_wrap=True)
    for label, t in r.by_axis.items():
        table.add_row(
            *(
                Text(x)
                for x in (
                    label,
                    str(t.count),
                    bytes_text(t.sent_bytes),
                    seconds_text(t.estimated_s),
                )
            )
        )
    console.print(table)


def _notes(console: Console, r: ShardingReport) -> None:
    from rich.text import Text

    for note in r.notes:
        console.print(Text(f"note: {note}", style="dim"))
    if r.total_s is not None:
        console.print(
            Text(
                "times are estimates from the hardware's link specs and a ring/"
                "tree model per kind, not measurements",
                style="dim",
            )
        )
