"""Targets -> captures and hardware, for the TUI's loader worker. Thin: the foundation's
`hloscope.load` / `hloscope.capture` do the work; this only chooses between them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hloscope.hardware import Hardware
    from hloscope.records import Capture


STAGE_WORDS = {"trace": "tracing", "lower": "lowering", "compile": "compiling"}


def load_target(
    target: str,
    *,
    options: Mapping[str, Any],
    progress: Callable[[str], None],
) -> Capture:
    """A file is read; `sample:NAME` and factories are captured (jax runs, in a subprocess
    when this process's jax has too few devices), as the CLI does."""
    from hloscope.targets import capture_target

    def stage(name: str) -> None:
        progress(STAGE_WORDS.get(name, name))

    return capture_target(
        target,
        devices=options.get("devices"),
        module=options.get("module"),
        progress=stage,
        subprocess_fallback=True,
        compile_target=options.get("compile_target"),
        mesh=options.get("mesh"),
    )


def resolve_hardware(name: str | None, capture: Capture) -> Hardware | None:
    """The named hardware, or the capture's own (its target, its device kind, else this CPU)."""
    from hloscope.hardware import default_hardware, get_hardware

    if name:
        return get_hardware(name)
    return default_hardware(capture)
