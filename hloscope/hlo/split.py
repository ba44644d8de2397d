"""The modules of an HLO text file, found without parsing it.

A file holds several modules when `// -----` lines cut it into sections (the split-input-file
convention of XLA's tools: `hlo-opt --split-input-file`) or when a section holds several
`HloModule` headers. Sections with nothing but whitespace and comments hold no module.

Names: a module with a header is called by its header's name. A headerless module is called
`module_<entry>`, as XLA names it (its ENTRY computation, else its last one); when several
headerless modules of one file would share a name, the later ones get `.1`, `.2`, ... (XLA's
way of making names unique), so that every one of them can be picked by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hloscope.errors import ParseError
from hloscope.hlo.lexer import WS_RE, Cursor

SEPARATOR = "// -----"

_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_ENTRY_NAME_RE = re.compile(r"^[ \t]*ENTRY[ \t]+%?(" + _NAME + r")", re.M)
_COMP_HEAD_RE = re.compile(r"^[ \t]*%?(" + _NAME + r")[ \t]*[({]", re.M)
_SEPARATOR_REST_RE = re.compile(r"[ \t]*(?:\n|\Z)")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModulePart:
    """One module of a text: `source[start:end]`."""

    name: str
    start: int
    end: int
    line: int
    """1-based line of `source` at which the part starts."""
    has_header: bool
    source: str = field(repr=False, compare=False)

    @property
    def text(self) -> str:
        """The module's text (the whole source when the part is all of it, not a copy)."""
        return self.source[self.start : self.end]


def split_modules(text: str) -> tuple[ModulePart, ...]:
    """The modules of `text`, in order (empty for a text with no module in it)."""
    spans = module_spans(text)
    if not spans:
        return ()
    parts: list[ModulePart] = []
    used: set[str] = set()
    line, counted = 1, 0
    for start, end, header in spans:
        line += text.count("\n", counted, start)
        counted = start
        name = _header_name(text, header, end) if header >= 0 else None
        if name is None:
            name = _unique(f"module_{headerless_entry(text[start:end])}", used)
        used.add(name)
        parts.append(ModulePart(name=name, start=start, end=end, line=line,
                                has_header=header >= 0, source=text))
    return tuple(parts)


def module_spans(text: str) -> list[tuple[int, int, int]]:
    """`(start, end, header)` of each module; `header` is the offset of its `HloModule`
    keyword, or -1. Cheap on a large single module: a few `str.find` scans."""
    out: list[tuple[int, int, int]] = []
    for start, end in _sections(text):
        m = WS_RE.match(text, start, end)
        if m is not None and m.end() >= end:
            continue  # only whitespace and comments
        heads = _header_starts(text, start, end)
        if not heads:
            out.append((start, end, -1))
            continue
        bounds = [start, *heads[1:], end]  # text before the first header stays with it
        out += [(bounds[i], bounds[i + 1], h) for i, h in enumerate(heads)]
    return out


def _sections(text: str) -> list[tuple[int, int]]:
    """Spans between `// -----` lines (a separator's own text excluded, its line break kept,
    so that the sections and the separators make up the text)."""
    out: list[tuple[int, int]] = []
    start = 0
    i = text.find(SEPARATOR)
    while i >= 0:
        after = i + len(SEPARATOR)
        rest = _SEPARATOR_REST_RE.match(text, after)
        if (i == 0 or text[i - 1] == "\n") and rest is not None:
            out.append((start, i))
            start = rest.end() - 1 if rest.group().endswith("\n") else rest.end()
        i = text.find(SEPARATOR, after)
    out.append((start, len(text)))
    return out


def _header_starts(text: str, start: int, end: int) -> list[int]:
    """Offsets of the `HloModule` keywords that begin a line (after blanks) in [start, end)
    (str.find: a multiline regex would try every line of a large text)."""
    out = []
    i = text.find("HloModule", start, end)
    while i >= 0:
        line = max(text.rfind("\n", start, i) + 1, start)
        after = text[i + 9 : i + 10]
        keyword = not after or not (after.isalnum() or after in "_.-")
        if keyword and not text[line:i].strip(" \t"):
            out.append(i)
        i = text.find("HloModule", i + 9, end)
    return out


def _header_name(text: str, header: int, end: int) -> str | None:
    """The name after `HloModule`, as the parser reads it; None when there is none (the
    parser then reports the header)."""
    try:
        name, stop = Cursor(text).name(header + len("HloModule"), "a module name")
    except ParseError:
        return None
    return name if stop <= end else None


def headerless_entry(text: str) -> str:
    """The entry's name in a headerless module, as XLA picks it (ENTRY, else the last
    computation), found without parsing the text."""
    m = _ENTRY_NAME_RE.search(text)
    if m is not None:
        return m.group(1)
    heads = _COMP_HEAD_RE.findall(text)
    return heads[-1] if heads else "module"


def _unique(name: str, used: set[str]) -> str:
    if name not in used:
        return name
    k = 1
    while f"{name}.{k}" in used:
        k += 1
    return f"{name}.{k}"
