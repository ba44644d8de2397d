"""Number formatting shared by the sharding, collectives and devices views."""

from __future__ import annotations


def bytes_text(n: float | None) -> str:
    """`1.5 MiB`; `-` for None."""
    if n is None:
        return "-"
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def seconds_text(s: float | None) -> str:
    """`335 µs`; `-` for None."""
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(s) >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns" if s else "0"
