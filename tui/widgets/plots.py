"""Small text plots: a sparkline and a filled timeline with a marked peak.

Resampling for display takes the maximum of each bucket, so a peak never disappears between
columns; the values themselves come from the report unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

_BLOCKS = " ▁▂▃▄▅▆▇█"


def buckets(values: Sequence[float], width: int) -> list[float]:
    """Max of each of `width` equal slices (or the values themselves when they fit)."""
    n = len(values)
    if n == 0 or width <= 0:
        return []
    if n <= width:
        return [float(v) for v in values]
    out = []
    for i in range(width):
        lo = i * n // width
        hi = max(lo + 1, (i + 1) * n // width)
        out.append(float(max(values[lo:hi])))
    return out


def sparkline(values: Sequence[float], width: int) -> str:
    b = buckets(values, width)
    if not b:
        return ""
    top = max(b) or 1.0
    return "".join(_BLOCKS[min(8, max(1 if v > 0 else 0, round(v / top * 8)))] for v in b)


def timeline_plot(
    values: Sequence[float],
    width: int,
    height: int,
    *,
    peak_index: int | None = None,
    style: str = "",
    peak_style: str = "bold red",
) -> tuple[Text, int | None]:
    """A filled area plot, `height` rows of `width` cells, eighth-block resolution. The column
    holding `peak_index` is drawn in `peak_style` with a ▼ above. Returns the plot and the
    peak's column. Each row is at most three spans (before, at and after the peak): a span
    per cell makes rich's rendering the slowest part of the screen."""
    b = buckets(values, width)
    if not b or height <= 0:
        return Text(""), None
    n = len(values)
    peak_col = None
    if peak_index is not None and 0 <= peak_index < n:
        peak_col = peak_index * len(b) // n if n > len(b) else peak_index
    top = max(b) or 1.0
    levels = [v / top * height * 8 for v in b]
    out = Text(no_wrap=True)
    marker = [" "] * len(b)
    if peak_col is not None:
        marker[peak_col] = "▼"
    out.append("".join(marker) + "\n", style=peak_style)
    for row in range(height - 1, -1, -1):
        cells = []
        for lv in levels:
            fill = lv - row * 8
            cells.append("█" if fill >= 8 else (_BLOCKS[round(fill)] if fill > 0 else " "))
        line = "".join(cells)
        if peak_col is None:
            out.append(line, style=style)
        else:
            out.append(line[:peak_col], style=style)
            out.append(line[peak_col], style=peak_style)
            out.append(line[peak_col + 1 :], style=style)
        if row:
            out.append("\n")
    return out, peak_col


