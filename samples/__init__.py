"""Small real JAX programs to inspect (`sample:NAME` on the command line).

Each sample module has a one-line docstring, `DEVICES` (the device count it needs by default),
`MESH` (its mesh axes at that count), `mesh_shape(devices)` and `program(devices=None)` returning
a `jax.stages.Traced` built from `ShapeDtypeStruct`s: no arrays are allocated. Sample modules
import jax only inside `program()`, so listing them is cheap.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

DEFAULT = "transformer"
"""The sample `hloscope` opens with no arguments."""


def names() -> tuple[str, ...]:
    """Every sample's name, sorted (modules of this package not starting with `_`)."""
    return tuple(
        sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    )


def get(name: str) -> ModuleType:
    """The sample module called `name`; an InputError naming the samples when there is none."""
    from hloscope.errors import InputError

    if name not in names():
        raise InputError(f"unknown sample {name!r}; samples: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}")


def describe(name: str) -> str:
    """The sample's description: the first paragraph of its docstring, on one line."""
    doc = (get(name).__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())
