"""Targets -> captures and hardware, for the TUI's loader worker. Thin: the foundation's
`hloscope.load` / `hloscope.capture` do the work; this only chooses between them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hloscope.hardware import Hardware
    from hloscope.records import Capture


def load_target(
    target: str,
    *,
    options: Mapping[str, Any],
    progress: Callable[[str], None],
) -> Capture:
    """A path (bundle, HLO or MLIR file, dump folder) is read; anything else (`sample:NAME`,
    `file.py:factory`, `package.module:factory`) is captured, which runs jax."""
    import hloscope

    if os.path.exists(target):
        progress("reading")
        return hloscope.load(target, module=options.get("module"))
    kwargs: dict[str, Any] = {}
    if options.get("devices") is not None:
        kwargs["devices"] = options["devices"]
    if options.get("target") is not None:
        kwargs["target"] = options["target"]
    return hloscope.capture(target, progress=progress, **kwargs)


def resolve_hardware(name: str | None, capture: Capture) -> Hardware | None:
    """The named hardware, or the capture's own (its target, its device kind, else this CPU)."""
    from hloscope.hardware import default_hardware, get_hardware

    if name:
        return get_hardware(name)
    return default_hardware(capture)
