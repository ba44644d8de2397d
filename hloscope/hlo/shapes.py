"""HLO shapes and layouts: text -> `Shape` / `Layout` and back.

`f32[8,<=16]{1,0:T(8,128)(2,1)S(1)}`, `(f32[], /*index=1*/s32[2]{0})`, `token[]`, `f32[?,4]`.
Parsed shapes are cached by their text: a module repeats a few hundred distinct shapes tens of
thousands of times, and equal shapes then share one object.
"""

from __future__ import annotations

import re

from hloscope.hlo.lexer import DIGITS, INT_RE, Cursor
from hloscope.hlo.model import ELEMENT_BITS, Layout, Shape

ELEMENT_TYPES = frozenset(ELEMENT_BITS)
_TYPE_RE = re.compile(r"[a-z][a-z0-9]*")
_DIM_RE = re.compile(r"\s*(<=)?\s*(" + DIGITS + r"|\?)\s*")
# A whole array shape in its usual spelling, for the cache lookup.
ARRAY_SHAPE_RE = re.compile(r"[a-z][a-z0-9]*\[[0-9,<=?]*\](?:\{[^{}\s]*\})?")
_LAYOUT_ITEM_RE = re.compile(r"([A-Z]+|#|\*)\(")
_TILE_DIM_RE = re.compile(r"\s*(\*|" + DIGITS + r")\s*")
_LAYOUT_START_RE = re.compile(r"\{\s*[0-9:}]")
UNBOUNDED = -1
"""Stored in `Shape.dims` for an unbounded dynamic dimension (`?`), with `dynamic` True."""

shape_cache: dict[str, Shape] = {}
"""Shape text -> parsed shape, shared by the readers."""
_cache = shape_cache


_MAX_TUPLE_DEPTH = 64


def parse_shape_at(cur: Cursor, pos: int, depth: int = 0) -> tuple[Shape, int]:
    """The shape starting at `pos` (after whitespace) and the position after it."""
    text = cur.text
    m = ARRAY_SHAPE_RE.match(text, pos)
    if m is not None:
        s = m.group()
        shape = _cache.get(s)
        if shape is not None and _ends_shape(text, m.end()):
            return shape, m.end()
    pos = cur.skip_ws(pos)
    if text.startswith("(", pos):
        if depth >= _MAX_TUPLE_DEPTH:
            cur.fail(pos, f"tuple shapes nested deeper than {_MAX_TUPLE_DEPTH}")
        return _tuple_at(cur, pos, depth + 1)
    shape, end = _array_at(cur, pos)
    if m is not None and m.end() == end and len(_cache) < 1_000_000:
        _cache[m.group()] = shape
    return shape, end


def _ends_shape(text: str, end: int) -> bool:
    # `f32[2]` followed by ` {1,0}` would be a layout after whitespace: not the cached spelling.
    return not text.startswith(" {", end) or not _looks_like_layout(text, end + 1)


def _looks_like_layout(text: str, brace: int) -> bool:
    """`{` opens a layout when what follows is a digit, `:` or `}` (a computation body or an
    attribute would start with a name)."""
    return _LAYOUT_START_RE.match(text, brace) is not None


def _tuple_at(cur: Cursor, pos: int, depth: int) -> tuple[Shape, int]:
    pos += 1
    elems: list[Shape] = []
    pos = cur.skip_ws(pos)
    if cur.text.startswith(")", pos):
        return Shape("tuple"), pos + 1
    while True:
        elem, pos = parse_shape_at(cur, cur.skip_ws(pos), depth)
        elems.append(elem)
        pos = cur.skip_ws(pos)
        c = cur.text[pos : pos + 1]
        if c == ")":
            return Shape("tuple", tuple_shapes=tuple(elems)), pos + 1
        if c != ",":
            cur.error(pos, "',' or ')' in a tuple shape")
        pos += 1


def _array_at(cur: Cursor, pos: int, buffer: bool = True) -> tuple[Shape, int]:
    text = cur.text
    m = _TYPE_RE.match(text, pos)
    if m is not None and m.group() == "b" and text.startswith("(", m.end()) and buffer:
        inner_pos = cur.skip_ws(m.end() + 1)
        inner, end = _array_at(cur, inner_pos, buffer=False)  # b(...) holds one array
        if not inner.is_array:
            cur.error(inner_pos, "an array shape inside b(...)")
        return Shape("buffer", tuple_shapes=(inner,)), cur.expect(end, ")")
    if m is None or m.group() not in ELEMENT_TYPES:
        cur.error(pos, "a shape")
    etype = m.group()
    pos = cur.expect(m.end(), "[", "'[' after the element type")
    dims: list[int] = []
    dynamic: list[bool] = []
    pos = cur.skip_ws(pos)
    if not text.startswith("]", pos):
        while True:
            d = _DIM_RE.match(text, pos)
            if d is None:
                cur.error(cur.skip_ws(pos), "a dimension size")
            unbounded = d.group(2) == "?"
            dims.append(UNBOUNDED if unbounded else int(d.group(2)))
            dynamic.append(unbounded or d.group(1) is not None)
            pos = d.end()
            if text.startswith("]", pos):
                break
            if not text.startswith(",", pos):
                cur.error(pos, "',' or ']' in dimensions")
            pos += 1
    pos += 1
    layout = None
    after = cur.skip_ws(pos)
    if text.startswith("{", after) and _looks_like_layout(text, after):
        layout, pos = _layout_at(cur, after)
    dyn = tuple(dynamic) if any(dynamic) else ()
    return Shape(etype, tuple(dims), dyn, layout), pos


def _int_list(cur: Cursor, pos: int, close: tuple[str, ...]) -> tuple[tuple[int, ...], int]:
    """Comma-separated ints up to (not including) one of `close`, which may come first."""
    text = cur.text
    out: list[int] = []
    pos = cur.skip_ws(pos)
    if text.startswith(close, pos):
        return (), pos
    while True:
        v, pos = cur.integer(pos)
        out.append(v)
        pos = cur.skip_ws(pos)
        if not text.startswith(",", pos):
            return tuple(out), pos
        pos += 1


def _layout_at(cur: Cursor, pos: int) -> tuple[Layout, int]:
    text = cur.text
    m2m, pos = _int_list(cur, pos + 1, ("}", ":"))
    if not text.startswith((":", "}"), pos):
        cur.error(pos, "',', ':' or '}' in a layout")
    tiles: tuple[tuple[int, ...], ...] = ()
    memory_space = 0
    element_bits = 0
    extra: list[str] = []
    if text.startswith(":", pos):
        pos = cur.skip_ws(pos + 1)
        while not text.startswith("}", pos):
            item = _LAYOUT_ITEM_RE.match(text, pos)
            if item is None:
                cur.error(pos, "a layout item like T(8,128), S(1) or '}'")
            kind = item.group(1)
            if kind == "T":
                tiles, pos = _tiles_at(cur, pos + 1)
            elif kind in ("E", "S"):
                v, pos = cur.integer(item.end())
                pos = cur.expect(pos, ")")
                if kind == "E":
                    element_bits = v
                else:
                    memory_space = v
            else:
                end = cur.balanced(item.end() - 1)
                extra.append(text[pos:end])
                pos = end
            pos = cur.skip_ws(pos)
    return Layout(m2m, tiles, memory_space, element_bits, "".join(extra)), pos + 1


def _tiles_at(cur: Cursor, pos: int) -> tuple[tuple[tuple[int, ...], ...], int]:
    text = cur.text
    tiles: list[tuple[int, ...]] = []
    while text.startswith("(", pos):
        dims: list[int] = []
        pos += 1
        while True:
            d = _TILE_DIM_RE.match(text, pos)
            if d is None:
                cur.error(pos, "a tile dimension")
            dims.append(-1 if d.group(1) == "*" else int(d.group(1)))
            pos = d.end()
            if text.startswith(")", pos):
                break
            if not text.startswith(",", pos):
                cur.error(pos, "',' or ')' in a tile")
            pos += 1
        tiles.append(tuple(dims))
        pos += 1
    if not tiles:
        cur.error(pos, "'(' after T in a layout")
    return tuple(tiles), pos


def parse_shape(text: str, *, file: str | None = None) -> Shape:
    """Parse a whole shape string (`"(f32[2]{0}, s32[])"`)."""
    cur = Cursor(text, file)
    shape, pos = parse_shape_at(cur, cur.skip_ws(0))
    pos = cur.skip_ws(pos)
    if pos != len(text):
        cur.error(pos, "end of shape")
    return shape


# --- formatting -------------------------------------------------------------------------

# XLA's Layout::ToString order of items: D, T, L, P, E, S, SC, #, M (unknown ones last).
_EXTRA_ITEM_RE = re.compile(r"([A-Z]+|#|\*)\(")
_BEFORE_TILES = ("D",)
_BEFORE_E = ("L", "P")


def _split_extra(extra: str) -> tuple[str, str, str]:
    """Raw extra items grouped by where XLA prints them: (before T, before E, after S)."""
    if not extra:
        return "", "", ""
    groups: tuple[list[str], list[str], list[str]] = ([], [], [])
    cur = Cursor(extra)
    pos = 0
    while pos < len(extra):
        m = _EXTRA_ITEM_RE.match(extra, pos)
        if m is None:  # not from our parser: keep it whole, last
            groups[2].append(extra[pos:])
            break
        end = cur.balanced(m.end() - 1)
        kind = m.group(1)
        slot = 0 if kind in _BEFORE_TILES else 1 if kind in _BEFORE_E else 2
        groups[slot].append(extra[pos:end])
        pos = end
    return "".join(groups[0]), "".join(groups[1]), "".join(groups[2])


def format_layout(layout: Layout) -> str:
    parts = [",".join(map(str, layout.minor_to_major))]
    items = ""
    if layout.tiles or layout.memory_space or layout.element_size_bits or layout.extra:
        before_t, before_e, after_s = _split_extra(layout.extra)
        items = before_t
        if layout.tiles:
            items += "T" + "".join(
                "(" + ",".join("*" if d == -1 else str(d) for d in t) + ")" for t in layout.tiles
            )
        items += before_e
        if layout.element_size_bits:
            items += f"E({layout.element_size_bits})"
        if layout.memory_space:
            items += f"S({layout.memory_space})"
        items += after_s
        parts.append(":" + items)
    return "{" + "".join(parts) + "}"


_format_cache: dict[Shape, str] = {}


def format_shape(shape: Shape, *, layout: bool = True) -> str:
    """HLO spelling of a shape (tuples as `(a, b)`)."""
    if layout:
        s = _format_cache.get(shape)
        if s is not None:
            return s
    if shape.element_type == "tuple":
        s = "(" + ", ".join(format_shape(e, layout=layout) for e in shape.tuple_shapes) + ")"
    elif shape.element_type == "buffer":
        s = "b(" + format_shape(shape.tuple_shapes[0], layout=layout) + ")"
    else:
        dims = []
        for i, d in enumerate(shape.dims):
            dyn = bool(shape.dynamic) and shape.dynamic[i]
            if d == UNBOUNDED and dyn:
                dims.append("?")
            else:
                dims.append(("<=" if dyn else "") + str(d))
        s = f"{shape.element_type}[{','.join(dims)}]"
        if layout and shape.layout is not None:
            s += format_layout(shape.layout)
    if layout and len(_format_cache) < 100_000:
        _format_cache[shape] = s
    return s


__all__ = ["ARRAY_SHAPE_RE", "INT_RE", "UNBOUNDED", "format_layout", "format_shape",
           "parse_shape", "parse_shape_at", "shape_cache"]
