"""Colour with meaning, used sparingly: one accent each for compute, memory and communication.
Each also has its own bar character, so the bars stay apart with NO_COLOR."""

from __future__ import annotations

COMPUTE = "cyan"
MEMORY = "magenta"
COMMS = "yellow"

COMPUTE_CHAR = "█"
MEMORY_CHAR = "▓"
COMMS_CHAR = "▒"

BOUND_STYLE = {
    "compute": COMPUTE,
    "memory": MEMORY,
    "collective": COMMS,
    "communication": COMMS,
    "comms": COMMS,
}
BOUND_CHAR = {
    "compute": COMPUTE_CHAR,
    "memory": MEMORY_CHAR,
    "collective": COMMS_CHAR,
    "communication": COMMS_CHAR,
    "comms": COMMS_CHAR,
}

GOOD = "green"
BAD = "red"
