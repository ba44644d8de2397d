"""What one collective moves per device, and how long that takes over a link: the textbook
algorithm per kind, with the formula shown. An estimate: real libraries pick among several
algorithms (ring, tree, bidirectional, hierarchical) by size and topology.

Symbols in formulas: n = group size, B = bytes per device (the buffer named per kind),
bw = effective link bandwidth per direction, α = per-step latency (0 when the hardware entry
has no published figure).

| kind | algorithm | bytes each device sends (= receives) | time |
|---|---|---|---|
| all-gather | ring | (n-1)/n · B_out | (n-1)·α + (n-1)/n · B_out / bw |
| reduce-scatter | ring | (n-1)/n · B_in | (n-1)·α + (n-1)/n · B_in / bw |
| all-reduce | ring (reduce-scatter + all-gather) | 2·(n-1)/n · B | 2·(n-1)·α + 2·(n-1)/n · B / bw |
| all-to-all | pairwise | (n-1)/n · B_in | (n-1)·α + (n-1)/n · B_in / bw |
| ragged-all-to-all | pairwise, balanced sizes assumed | (n-1)/n · B_in | as all-to-all |
| collective-permute | point-to-point | B_in (sources only) | α + B_in / bw |
| collective-broadcast | binomial tree | B (receivers) | ⌈log2 n⌉·(α + B / bw) |
| send / recv | point-to-point | B | α + B / bw |
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hloscope.hardware import Link


@dataclass(frozen=True, slots=True, kw_only=True)
class Traffic:
    """Bytes one participating device moves in one execution, and the time model."""

    algorithm: str
    sent_bytes: float
    received_bytes: float
    wire_bytes: float
    """The bytes term of the time formula (what crosses the busiest link of one device)."""
    steps: int
    """Latency steps (α terms)."""
    formula: str
    """Symbolic time formula."""
    exact: bool = True
    """False when the byte count is a model of data-dependent sizes (ragged-all-to-all)."""


def traffic(kind: str, n: int, in_bytes: float, out_bytes: float) -> Traffic:
    """The per-device traffic of one collective of `kind` over groups of `n` devices, given
    per-device operand (`in_bytes`) and result (`out_bytes`) sizes."""
    if n <= 1 and kind not in ("collective-permute", "send", "recv"):
        return Traffic(
            algorithm="local",
            sent_bytes=0.0,
            received_bytes=0.0,
            wire_bytes=0.0,
            steps=0,
            formula="0 (group of one device: no data moves)",
        )
    frac = (n - 1) / n if n else 0.0
    if kind == "all-gather":
        b = frac * out_bytes
        return Traffic(
            algorithm="ring",
            sent_bytes=b,
            received_bytes=b,
            wire_bytes=b,
            steps=n - 1,
            formula="(n-1)·α + (n-1)/n · B_out / bw",
        )
    if kind == "reduce-scatter":
        b = frac * in_bytes
        return Traffic(
            algorithm="ring",
            sent_bytes=b,
            received_bytes=b,
            wire_bytes=b,
            steps=n - 1,
            formula="(n-1)·α + (n-1)/n · B_in / bw",
        )
    if kind == "all-reduce":
        b = 2 * frac * in_bytes
        return Traffic(
            algorithm="ring",
            sent_bytes=b,
            received_bytes=b,
            wire_bytes=b,
            steps=2 * (n - 1),
            formula="2·(n-1)·α + 2·(n-1)/n · B / bw",
        )
    if kind in ("all-to-all", "ragged-all-to-all"):
        b = frac * in_bytes
        return Traffic(
            algorithm="pairwise",
            sent_bytes=b,
            received_bytes=frac * out_bytes if kind == "all-to-all" else b,
            wire_bytes=b,
            steps=n - 1,
            formula="(n-1)·α + (n-1)/n · B_in / bw",
            exact=kind == "all-to-all",
        )
    if kind == "collective-broadcast":
        steps = math.ceil(math.log2(n)) if n > 1 else 0
        return Traffic(
            algorithm="tree",
            sent_bytes=in_bytes,
            received_bytes=in_bytes,
            wire_bytes=steps * in_bytes,
            steps=steps,
            formula="⌈log2 n⌉·(α + B / bw)",
        )
    # collective-permute, send, recv: one message per pair.
    return Traffic(
        algorithm="point-to-point",
        sent_bytes=in_bytes,
        received_bytes=in_bytes,
        wire_bytes=in_bytes,
        steps=1,
        formula="α + B / bw",
    )


def links_used(link: Link, axes_spanned: int) -> int:
    """Links of one chip a collective drives at once. A TPU ICI torus runs a bidirectional
    ring per mesh axis (2 links each); switched fabrics (NVLink through NVSwitch, InfiniBand,
    DCN) reach every peer through all of a chip's ports."""
    if link.name == "ici":
        return max(1, min(link.count, 2 * max(1, axes_spanned)))
    return max(1, link.count)


def estimate(t: Traffic, link: Link, axes_spanned: int) -> tuple[float, str]:
    """(seconds for one execution, the formula with numbers)."""
    used = links_used(link, axes_spanned)
    bw = link.bytes_per_s * used
    seconds = t.steps * link.latency_s + (t.wire_bytes / bw if bw > 0 else 0.0)
    alpha = f"{t.steps}·{_fmt_s(link.latency_s)}" if link.latency_s else "α not modelled"
    text = (
        f"{t.algorithm}: {_fmt_b(t.wire_bytes)} / ({used} × {link.name} "
        f"{link.bytes_per_s / 1e9:g} GB/s) + {alpha} = {_fmt_s(seconds)}"
    )
    return seconds, text


def _fmt_b(b: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b:.0f} B"


def _fmt_s(s: float) -> str:
    for unit, size in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def to_json(t: Traffic) -> dict[str, Any]:
    return {
        "algorithm": t.algorithm,
        "sent_bytes": t.sent_bytes,
        "received_bytes": t.received_bytes,
        "formula": t.formula,
        "exact": t.exact,
    }
