"""Low-level scanning of HLO text shared by the parser and the sharding reader.

Everything works on `(text, pos)` with precompiled regexes matched at a position (no copies of
the text, no per-character Python loops on the hot path). Errors are `ParseError`s that name
`file:line:col`; `Cursor.error` computes the line and column only when an error is raised.
Every regex here is linear: alternatives start with distinct characters and repeated groups
cannot split the same text two ways, so a hostile input cannot make them backtrack for long.
"""

from __future__ import annotations

import re
from typing import NoReturn

from hloscope.errors import ParseError

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
# At most 18 digits: any int64 XLA writes, and Python's int() never refuses it.
DIGITS = r"[0-9]{1,18}(?![0-9])"
INT_RE = re.compile(r"-?" + DIGITS)
# Whitespace and comments (`//` to end of line, `/* ... */`), as XLA's lexer skips them.
WS_RE = re.compile(r"(?:[ \t\r\n]++|//[^\n]*+|/\*(?:[^*]++|\*(?!/))*+\*/)*+")
# A quoted string body after its opening quote (XLA's lexer takes `"` and `'` strings).
DQ_BODY_RE = re.compile(r'[^"\\]*+(?:\\.[^"\\]*+)*+"', re.S)
SQ_BODY_RE = re.compile(r"[^'\\]*+(?:\\.[^'\\]*+)*+'", re.S)
# Text inside brackets up to the next character that matters for balancing.
_STRUCT_RE = re.compile(r"[^{}()\[\]\"']*")
# A run of plain value characters outside brackets.
_PLAIN_RE = re.compile(r"[^\s,{}()\[\]\"']+")

_CLOSER = {"{": "}", "(": ")", "[": "]"}


def _group(depth: int) -> str:
    """A bracketed group (matching kinds) of text without quotes, `depth` levels deep at
    most (possessive: linear time)."""
    group = ""
    for _ in range(depth):
        alts = r"[^{}()\[\]\"']++" + (f"|{group}" if group else "")
        group = "(?:" + "|".join(
            f"{o}(?:{alts})*+{c}" for o, c in ((r"\{", r"\}"), (r"\[", r"\]"), (r"\(", r"\)"))
        ) + ")"
    return group


_SHALLOW_GROUP_RE = re.compile(_group(3))
_MAX_DEPTH = 200


class Cursor:
    """Error reporting over a text: positions are offsets into `text`."""

    __slots__ = ("file", "line_base", "text")

    def __init__(self, text: str, file: str | None = None, line_base: int = 0) -> None:
        self.text = text
        self.file = file
        self.line_base = line_base
        """Lines before `text` in the file it was cut from (for multi-module files)."""

    def location(self, pos: int) -> tuple[int, int]:
        pos = max(0, min(pos, len(self.text)))
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return line + self.line_base, col

    def error(self, pos: int, expected: str, found: str | None = None) -> NoReturn:
        """Raise `file:line:col: expected X, found Y`."""
        if found is None:
            found = self.describe(pos)
        line, col = self.location(pos)
        raise ParseError(f"expected {expected}, found {found}", file=self.file, line=line,
                         column=col)

    def fail(self, pos: int, message: str) -> NoReturn:
        """Raise `file:line:col: message` for errors that are not a missing token."""
        line, col = self.location(pos)
        raise ParseError(message, file=self.file, line=line, column=col)

    def describe(self, pos: int) -> str:
        """What the text holds at `pos`, for 'found ...'."""
        text = self.text
        if pos >= len(text):
            return "end of input"
        end = text.find("\n", pos, pos + 40)
        snippet = text[pos : (end if end >= 0 else pos + 24)].strip()
        if not snippet:
            return "end of line"
        if len(snippet) > 24:
            snippet = snippet[:24] + "..."
        return repr(snippet)

    def skip_ws(self, pos: int) -> int:
        m = WS_RE.match(self.text, pos)
        end = m.end() if m else pos
        if self.text.startswith("/*", end):
            self.fail(end, "unterminated /* comment")
        return end

    def expect(self, pos: int, token: str, what: str | None = None) -> int:
        """Skip whitespace, then require the literal `token`; return the position after it."""
        pos = self.skip_ws(pos)
        if not self.text.startswith(token, pos):
            self.error(pos, what or repr(token))
        return pos + len(token)

    def name(self, pos: int, what: str = "a name") -> tuple[str, int]:
        """An HLO name, with or without its `%`."""
        pos = self.skip_ws(pos)
        text = self.text
        start = pos + 1 if text.startswith("%", pos) else pos
        m = NAME_RE.match(text, start)
        if m is None:
            self.error(pos, what)
        return m.group(), m.end()

    def integer(self, pos: int, what: str = "an integer") -> tuple[int, int]:
        pos = self.skip_ws(pos)
        m = INT_RE.match(self.text, pos)
        if m is None:
            self.error(pos, what)
        return int(m.group()), m.end()

    def string(self, pos: int) -> tuple[str, int]:
        """A quoted string at `pos` (after whitespace): its unescaped value and end."""
        pos = self.skip_ws(pos)
        text = self.text
        quote = text[pos : pos + 1]
        if quote not in ('"', "'"):
            self.error(pos, "a quoted string")
        end = string_end(self, pos)
        return unescape(text[pos + 1 : end - 1]), end

    def balanced(self, pos: int) -> int:
        """End of the bracketed group that opens at `pos` (`{`, `(` or `[`), strings skipped,
        bracket kinds checked."""
        text = self.text
        m = _SHALLOW_GROUP_RE.match(text, pos)
        if m is not None:  # no strings, at most three deep: one match
            return m.end()
        stack = [_CLOSER[text[pos]]]
        pos += 1
        struct = _STRUCT_RE.match
        while stack:
            pos = struct(text, pos).end()  # type: ignore[union-attr]
            if pos >= len(text):
                self.error(pos, repr(stack[-1]))
            c = text[pos]
            if c in _CLOSER:
                if len(stack) >= _MAX_DEPTH:
                    self.fail(pos, f"nesting deeper than {_MAX_DEPTH}")
                stack.append(_CLOSER[c])
                pos += 1
            elif c == '"' or c == "'":
                pos = string_end(self, pos)
            elif c == stack[-1]:
                stack.pop()
                pos += 1
            else:
                self.error(pos, repr(stack[-1]))
        return pos

    def value_end(self, pos: int) -> int:
        """End of an attribute value starting at `pos`: plain characters, strings and
        bracketed groups, concatenated (`[4,2]<=[2,4]T(1,0)`); it stops at a top-level comma,
        a closing bracket or whitespace. Whitespace followed by `{` continues the value
        (`mesh['x'=2] {'x'}`), as no instruction, attribute or computation starts with `{`."""
        text = self.text
        n = len(text)
        start = pos
        while pos < n:
            c = text[pos]
            if c in _CLOSER:
                pos = self.balanced(pos)
            elif c == '"' or c == "'":
                pos = string_end(self, pos)
            else:
                m = _PLAIN_RE.match(text, pos)
                if m is None:
                    if c in " \t\r\n" and pos > start:
                        nxt = self.skip_ws(pos)
                        if text.startswith("{", nxt):
                            pos = nxt
                            continue
                    break
                pos = m.end()
        if pos == start:
            self.error(pos, "a value")
        return pos


def string_end(cur: Cursor, pos: int) -> int:
    """End (after the closing quote) of the string whose opening quote is at `pos`."""
    body = DQ_BODY_RE if cur.text[pos] == '"' else SQ_BODY_RE
    m = body.match(cur.text, pos + 1)
    if m is None:
        cur.fail(pos, "unterminated string")
    return m.end()


_UNESCAPE_RE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", re.S)
_SIMPLE_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b",
    "f": "\f", "v": "\v", "?": "?",
}


def _unescape_one(m: re.Match[str]) -> str:
    s = m.group(1)
    if s[0] == "x" and len(s) > 1:
        return chr(int(s[1:], 16))
    if s[0] in "01234567":
        return chr(int(s, 8) & 0xFF)
    return _SIMPLE_ESCAPES.get(s, s)


def unescape(body: str) -> str:
    """C-style unescape of a string body (absl::CUnescape, as XLA's lexer does)."""
    if "\\" not in body:
        return body
    return _UNESCAPE_RE.sub(_unescape_one, body)


_ESCAPE_RE = re.compile(r'[\\"\x00-\x1f\x7f]')
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\", '"': '\\"'}


def escape(value: str) -> str:
    """C-style escape (absl::CEscape) so that `unescape(escape(s)) == s`."""
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(), f"\\{ord(m.group()):03o}"), value)


def quote(value: str) -> str:
    return '"' + escape(value) + '"'
