"""Fast construction of frozen, slotted dataclasses (the parser builds ~100k Instructions).

A frozen dataclass's `__init__` sets every field through `object.__setattr__`: with twenty
fields that is most of the cost of building an instruction (measured 6.4 us against 1.1 us
here). `fast_constructor(cls)` returns a function taking the fields positionally that builds
the object through a plain slotted twin class with the same slots, then switches the object's
class to `cls`. The result is an ordinary, frozen `cls` instance (equal, hashable, immutable).
If the interpreter refuses the class switch, the dataclass's own constructor is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


def fast_constructor(cls: type) -> Callable[..., Any]:
    names = [f.name for f in dataclasses.fields(cls)]
    slots = getattr(cls, "__slots__", ())
    if (tuple(slots) != tuple(names) or hasattr(cls, "__post_init__")
            or any(f.kw_only for f in dataclasses.fields(cls))):
        return cls
    args = ", ".join(names)
    body = "".join(f"        self.{n} = {n}\n" for n in names)
    src = (f"class _Twin:\n    __slots__ = {tuple(names)!r}\n"
           f"    def __init__(self, {args}):\n{body}\n"
           f"def make({args}):\n    obj = _Twin({args})\n    obj.__class__ = cls\n    return obj\n")
    namespace: dict[str, Any] = {"cls": cls}
    exec(compile(src, f"<fast {cls.__name__}>", "exec"), namespace)
    make: Callable[..., Any] = namespace["make"]
    try:
        sample = make(*[None] * len(names))
    except TypeError:
        return cls
    return make if type(sample) is cls else cls


def field_defaults(cls: type) -> list[Any]:
    """Each field's default value in field order (None where a field has none; default
    factories are called once, so they must give immutable values)."""
    out: list[Any] = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out.append(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            out.append(f.default_factory())
        else:
            out.append(None)
    return out
