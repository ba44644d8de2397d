"""Number formatting for the TUI: every figure with its unit, short enough for a table cell.

Formatting only: these functions never compute a figure, they print one a report gave.
Binary prefixes for bytes (MiB, GiB: what memory capacities are quoted in), decimal for FLOPs
and FLOP/s (what vendors quote).
"""

from __future__ import annotations

import math

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_DECIMAL = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def nbytes(n: float | None) -> str:
    """`412.3 MiB`; `-` for None. Negative values (deltas) keep their sign."""
    if n is None:
        return "-"
    sign = "-" if n < 0 else ""
    v = abs(float(n))
    unit = 0
    while v >= 1024 and unit < len(_BYTE_UNITS) - 1:
        v /= 1024
        unit += 1
    if unit == 0:
        return f"{sign}{int(v)} B"
    return f"{sign}{v:.1f} {_BYTE_UNITS[unit]}"


def seconds(s: float | None) -> str:
    """`1.84 ms`, `312 µs`, `2.10 s`; `-` for None."""
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    sign = "-" if s < 0 else ""
    v = abs(s)
    if v == 0:
        return "0 s"
    if v >= 1:
        return f"{sign}{v:.2f} s"
    if v >= 1e-3:
        return f"{sign}{v * 1e3:.2f} ms"
    if v >= 1e-6:
        return f"{sign}{v * 1e6:.1f} µs"
    return f"{sign}{v * 1e9:.0f} ns"


def count(n: float | None, unit: str = "") -> str:
    """Decimal-prefixed count: `4.30 G` FLOP, `12.0 k`; `-` for None."""
    if n is None:
        return "-"
    sign = "-" if n < 0 else ""
    v = abs(float(n))
    for scale, prefix in _DECIMAL:
        if v >= scale:
            return f"{sign}{v / scale:.2f} {prefix}{unit}".rstrip()
    if v == int(v):
        return f"{sign}{int(v)} {unit}".rstrip()
    return f"{sign}{v:.2f} {unit}".rstrip()


def flops(n: float | None) -> str:
    return count(n, "FLOP")


def percent(fraction: float | None, digits: int = 0) -> str:
    if fraction is None or math.isnan(fraction):
        return "-"
    return f"{fraction * 100:.{digits}f}%"


def signed_percent(fraction: float | None) -> str:
    """A relative change: `+12%`, `−23%` (true minus sign, as the sketch shows)."""
    if fraction is None or math.isnan(fraction) or math.isinf(fraction):
        return "-"
    v = fraction * 100
    if abs(v) < 0.5:
        return "±0%"
    return f"+{v:.0f}%" if v > 0 else f"−{-v:.0f}%"


def shape_text(dtype: str, dims: tuple[int, ...] | list[int]) -> str:
    return f"{dtype}[{','.join(str(d) for d in dims)}]"


def clip(text: str, width: int) -> str:
    """Cut to `width` cells with an ellipsis."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"
