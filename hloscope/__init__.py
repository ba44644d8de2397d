"""hloscope: what XLA did to your JAX program, what it costs on each device, and why.

Quick start::

    import hloscope
    cap = hloscope.capture(jax.jit(step), params, batch)   # or hloscope.load("run.hlos")
    a = hloscope.analyze(cap, hardware="h100-sxm")
    a.cost.total.flops, a.roofline.step_s, a.memory.peak_bytes

`import hloscope` loads neither jax nor textual: the capture functions import jax when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hloscope.analysis import Analysis, analyze

# Eager, not lazy: `import hloscope.capture` (the module) would otherwise shadow the function
# of the same name on this package. capture.py imports jax only inside its functions.
from hloscope.capture import capture
from hloscope.errors import BundleError, CaptureError, Error, InputError, ParseError, UsageError
from hloscope.records import Capture

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "BundleError",
    "Capture",
    "CaptureError",
    "Error",
    "InputError",
    "ParseError",
    "UsageError",
    "__version__",
    "analyze",
    "capture",
    "diff",
    "load",
    "target_devices",
]

if TYPE_CHECKING:
    from hloscope.diffing import diff
    from hloscope.loading import load
    from hloscope.target_runtime import target_devices

# Lazy: loaded on first use (diff pulls in the passes).
_LAZY = {
    "load": ("hloscope.loading", "load"),
    "diff": ("hloscope.diffing", "diff"),
    # The devices a factory builds its mesh on: the --target's while compiling for one.
    "target_devices": ("hloscope.target_runtime", "target_devices"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hloscope' has no attribute {name!r}")
