"""Attribute dictionaries read from MLIR's generic op text.

jaxlib's bindings cannot hand some attributes to Python: a dense constant of complex numbers
makes `op.attributes.items()` raise TypeError, and reading `NamedAttribute.attr` on it aborts
the process. For those ops the reader prints the op in generic form
(`"stablehlo.constant"() <{value = dense<(1.0,2.0)> : tensor<complex<f32>>}> : ...`) and takes
the attributes from the text with this small scanner.
"""

from __future__ import annotations

_OPEN = "([{<"
_CLOSE = ")]}>"


def _skip_string(text: str, i: int) -> int:
    """Index just past the string literal starting at text[i] == '"'."""
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        i += 1
    return i


def _is_arrow(text: str, i: int) -> bool:
    return text[i] == ">" and i > 0 and text[i - 1] == "-"


def _block_end(text: str, start: int) -> int:
    """Index just past the bracketed block opening at `start` (MLIR brackets nest; `->` in a
    function type is not a closing `>`)."""
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE and not _is_arrow(text, i):
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def split_top_level(body: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside brackets and strings."""
    parts: list[str] = []
    depth = 0
    start = i = 0
    while i < len(body):
        c = body[i]
        if c == '"':
            i = _skip_string(body, i)
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE and not _is_arrow(body, i):
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(body[start:i])
            start = i + 1
        i += 1
    parts.append(body[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_attr_dict(body: str) -> dict[str, str]:
    """`a = 1 : i32, b, "c.d" = "x"` (without braces) -> {name: text}; a unit attribute
    (a bare name) maps to `unit`."""
    out: dict[str, str] = {}
    for item in split_top_level(body):
        key, eq, value = item.partition("=")
        key = key.strip()
        # A value's own text may hold '=', but a key never does, so the first '=' splits.
        if key.startswith('"') and key.endswith('"'):
            key = key[1:-1]
        out[key] = value.strip() if eq else "unit"
    return out


def generic_op_attributes(asm: str) -> dict[str, str]:
    """Attributes of an op printed in generic form: the properties `<{...}>` and the
    discardable `{...}` dictionaries, in that order."""
    out: dict[str, str] = {}
    i = 0
    n = len(asm)
    depth = 0
    while i < n:
        c = asm[i]
        if c == '"':
            i = _skip_string(asm, i)
            continue
        if depth == 0 and (asm.startswith("<{", i) or c == "{"):
            end = _block_end(asm, i)
            inner = asm[i + 2:end - 2] if c == "<" else asm[i + 1:end - 1]
            out.update(parse_attr_dict(inner))
            i = end
            continue
        if asm.startswith(" : ", i) and depth == 0:
            break  # the type signature: no attributes after it
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE and not _is_arrow(asm, i):
            depth -= 1
        i += 1
    return out
