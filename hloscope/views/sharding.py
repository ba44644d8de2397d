"""`dump --view sharding`: the mesh, and how the entry's parameters and outputs are laid out
over it (per-dimension mesh axes, per-device shape, global shape, padding of uneven splits,
maximal shardings).

JSON: `sharding` with `mesh`, `num_devices`, `values` (see `ShardedValue.to_json`) and notes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from hloscope.analysis import Analysis
    from hloscope.passes.sharding_values import ShardedValue
    from hloscope.views import ViewOptions


def to_json(analysis: Analysis, opts: ViewOptions) -> dict[str, Any]:
    r = analysis.sharding
    return {
        "sharding": {
            "mesh": r.mesh.to_json(),
            "num_devices": r.num_devices,
            "values": [v.to_json() for v in r.values],
            "notes": list(r.notes),
        }
    }


def _dims(v: ShardedValue) -> str:
    if v.pinned_device is not None:
        return f"device {v.pinned_device} only"
    if v.dims is None:
        return "-"
    return "[" + ", ".join(v.dims) + "]"


def render(analysis: Analysis, console: Console, opts: ViewOptions) -> None:
    from rich.table import Table
    from rich.text import Text

    r = analysis.sharding
    console.print(Text("sharding", style="bold cyan"))
    mesh = r.mesh.describe() if r.mesh.axis_sizes else "one device"
    console.print(
        f"mesh {mesh} · {r.num_devices} devices"
        + (f" · axes {r.mesh.source}" if r.mesh.inferred else ""),
        markup=False,
    )
    if not r.values:
        console.print("the entry's parameters and outputs carry no shardings")
    else:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for col in ("", "value", "split by", "per device", "global", "sharding"):
            table.add_column(
                col,
                no_wrap=col in ("", "per device"),
                overflow="fold",
                min_width=3 if col == "" else None,
            )
        for v in r.values[: max(opts.top, 1) * 4]:
            glob = v.global_shape or "-"
            if v.padded_devices:
                glob += f" (uneven: {v.padded_devices} devices pad ≤{v.max_padding_elements})"
            table.add_row(
                *(
                    Text(x)
                    for x in (
                        "in" if v.role == "parameter" else "out",
                        v.label,
                        _dims(v),
                        v.local_shape,
                        glob,
                        v.sharding,
                    )
                )
            )
        console.print(table)
        shown = max(opts.top, 1) * 4
        if len(r.values) > shown:
            console.print(f"… {len(r.values) - shown} more (--top N)")
    for note in r.notes:
        console.print(Text(f"note: {note}", style="dim"))
