"""Fast construction of frozen, slotted dataclasses (the parser builds ~100k Instructions).

A frozen dataclass's `__init__` sets every field through `object.__setattr__`: with twenty
fields that is most of the cost of building an instruction. `fast_builder(cls, given)` returns
a function that sets the slots on an object of a plain slotted twin class with the same slots
(the fields not given set to their defaults, as constants of the generated code), then switches
the object's class to `cls`. The result is an ordinary, frozen `cls` instance (equal, hashable,
immutable). If the interpreter refuses the class switch, the dataclass's own constructor is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

_LITERAL_DEFAULTS = (type(None), bool, int, str)


def fast_builder(cls: type, given: tuple[str, ...]) -> Callable[..., Any]:
    """A function `make(*values_of_given, extra=None)` building a frozen, slotted `cls`: the
    `given` fields positionally, every other field its default unless `extra` (a dict of
    field -> value) names it. No argument list of every field is built per object, and the
    defaults are constants of the generated code. Falls back to the dataclass's constructor."""
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]

    def slow(*args: Any) -> Any:
        extra = args[len(given)] if len(args) > len(given) else None
        return cls(**dict(zip(given, args[: len(given)], strict=True)), **(extra or {}))

    slots = getattr(cls, "__slots__", ())
    if (tuple(slots) != tuple(names) or hasattr(cls, "__post_init__")
            or any(f.kw_only or not f.init for f in fields) or not set(given) <= set(names)):
        return slow
    namespace: dict[str, Any] = {"cls": cls, "new": object.__new__}
    lines = []
    for f in fields:
        if f.name in given:
            value = f.name
        elif f.default is not dataclasses.MISSING:
            d = f.default
            if type(d) in _LITERAL_DEFAULTS or (type(d) is tuple and not d):
                value = repr(d)
            else:
                namespace[f"_d_{f.name}"] = d
                value = f"_d_{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_d_{f.name}"] = f.default_factory()  # shared: immutable values only
            value = f"_d_{f.name}"
        else:
            return slow
        lines.append(f"    obj.{f.name} = {value}\n")
    src = (f"class _Twin:\n    __slots__ = {tuple(names)!r}\n"
           f"def make({', '.join(given)}, extra=None):\n    obj = new(_Twin)\n"
           + "".join(lines)
           + "    if extra:\n        for k, v in extra.items():\n"
           "            setattr(obj, k, v)\n"
           "    obj.__class__ = cls\n    return obj\n")
    exec(compile(src, f"<fast builder {cls.__name__}>", "exec"), namespace)
    make: Callable[..., Any] = namespace["make"]
    try:
        sample = make(*[None] * len(given))
    except TypeError:
        return slow
    return make if type(sample) is cls else slow
