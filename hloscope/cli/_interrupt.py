"""Ctrl-C that always ends the command with exit 130 and nothing written.

Python raises KeyboardInterrupt in whatever Python code runs when SIGINT arrives. Inside jax
that can be a gc callback (the exception is printed as "Exception ignored" and lost, so the
capture went on and wrote its bundle) or an extension's import (re-raised as ImportError). So
the handler also records the interrupt: `check()` stops before anything is written, and the
CLI turns any exception raised after an interrupt into exit 130.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

_requested = False


def install() -> None:
    """Record SIGINT as well as raising KeyboardInterrupt; keep lost interrupts quiet."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # SIGINT ignored or handled by someone else (e.g. started with it ignored)
    signal.signal(signal.SIGINT, _on_sigint)
    default_hook = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            return  # recorded by _on_sigint; check() acts on it
        default_hook(unraisable)

    sys.unraisablehook = hook


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def requested() -> bool:
    return _requested


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came, even where jax swallowed it."""
    if _requested:
        raise KeyboardInterrupt
