"""A read-only code view over a list of lines (Line API): a line cursor, syntax colouring of
the visible lines only, search, and jumps. Opening a 100k-line module costs a `splitlines`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from functools import partial
from typing import ClassVar, Literal

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Language = Literal["hlo", "mlir", "python", "plain"]

# (pattern, style); applied in order, later ones win where they overlap.
_HLO_RULES: tuple[tuple[str, str], ...] = (
    (r"\b[a-z_]+(?==)", "hl.attr"),
    (r"(?<=\s)[a-z][a-z0-9\-]*(?=\()", "hl.op"),
    (r"\b(?:pred|token|bf16|f16|f32|f64|c64|c128|[su]\d+|f8\w*|f4\w*)\[[^\]]*\](?:\{[^}]*\})?",
     "hl.type"),
    (r"%[\w.\-]+", "hl.name"),
    (r"^\s*(?:ROOT\s+)?%?[\w.\-]+(?=\s*=\s)", "hl.def"),
    (r"\b(?:ROOT|ENTRY|HloModule)\b", "hl.keyword"),
    (r'"(?:[^"\\]|\\.)*"', "hl.string"),
    (r"metadata=\{[^}]*\}", "hl.comment"),
    (r"//.*$", "hl.comment"),
)

_MLIR_RULES: tuple[tuple[str, str], ...] = (
    (r"\b(?:stablehlo|sdy|func|chlo|mhlo|call|return)\.?[\w.]*(?=[\s(<{\"])", "hl.op"),
    (r"tensor<[^>]*>", "hl.type"),
    (r"%[\w#.\-]+", "hl.name"),
    (r"@[\w.\-]+", "hl.def"),
    (r'"(?:[^"\\]|\\.)*"', "hl.string"),
    (r"\bloc\((?:[^()]|\([^)]*\))*\)|#loc\d*", "hl.comment"),
    (r"//.*$", "hl.comment"),
)

_PY_RULES: tuple[tuple[str, str], ...] = (
    (r"\b(?:def|class|return|import|from|as|for|in|if|else|elif|with|lambda|yield|"
     r"not|and|or|is|None|True|False|while|try|except|raise|pass)\b", "hl.keyword"),
    (r"\b\d+(?:\.\d+)?\b", "hl.type"),
    (r"(['\"])(?:(?!\1)[^\\]|\\.)*\1", "hl.string"),
    (r"#.*$", "hl.comment"),
)

_RULES: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "hlo": tuple((re.compile(p), s) for p, s in _HLO_RULES),
    "mlir": tuple((re.compile(p), s) for p, s in _MLIR_RULES),
    "python": tuple((re.compile(p), s) for p, s in _PY_RULES),
    "plain": (),
}


WINDOW_MARGIN = 120
"""Characters coloured beyond each side of the visible part of a line."""


class CodeView(ScrollView, can_focus=True):
    """Lines of code with a cursor line; colours only what is on screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "goto_first", "Top", show=False),
        Binding("end", "goto_last", "Bottom", show=False),
        Binding("left", "hscroll(-8)", "Left", show=False),
        Binding("right", "hscroll(8)", "Right", show=False),
        Binding("enter", "choose", "Go to…", show=True),
        Binding("n", "next_match(1)", "Next match", show=False),
        Binding("N", "next_match(-1)", "Previous match", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "code--gutter",
        "code--cursor",
        "code--match",
        "code--mark",
        "hl--name",
        "hl--def",
        "hl--op",
        "hl--type",
        "hl--attr",
        "hl--keyword",
        "hl--string",
        "hl--comment",
    }

    DEFAULT_CSS = """
    CodeView { height: 1fr; overflow-x: auto; overflow-y: auto; }
    CodeView > .code--gutter { color: $text-muted; }
    CodeView > .code--cursor { background: $accent 30%; }
    CodeView > .code--match { background: $warning 50%; }
    CodeView > .code--mark { background: $primary 15%; }
    CodeView > .hl--name { color: $text-accent; }
    CodeView > .hl--def { color: $text-accent; text-style: bold; }
    CodeView > .hl--op { color: $text-primary; text-style: bold; }
    CodeView > .hl--type { color: $text-success; }
    CodeView > .hl--attr { color: $text-secondary; }
    CodeView > .hl--keyword { color: $text-warning; text-style: bold; }
    CodeView > .hl--string { color: $text-warning; }
    CodeView > .hl--comment { color: $text-muted; }
    """

    cursor_line: reactive[int] = reactive(0, always_update=True, init=False, repaint=False)

    class CursorMoved(Message):
        def __init__(self, view: CodeView, line: int) -> None:
            super().__init__()
            self.view = view
            self.line = line
            """0-based line index."""

        @property
        def control(self) -> CodeView:
            return self.view

    class LineChosen(Message):
        """Enter (or a double click) on a line."""

        def __init__(self, view: CodeView, line: int) -> None:
            super().__init__()
            self.view = view
            self.line = line

        @property
        def control(self) -> CodeView:
            return self.view

    def __init__(
        self,
        lines: Sequence[str] = (),
        *,
        language: Language = "plain",
        first_line_number: int = 1,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.language: Language = language
        self.first_line_number = first_line_number
        self.lines: Sequence[str] = ()
        self.marks: frozenset[int] = frozenset()
        self.query_text = ""
        self._text = ""
        self._starts: list[int] = []
        self._cache: LRUCache[tuple[int, int, int], Strip] = LRUCache(512)
        self._max_width = 0
        self.set_lines(lines)

    # -- content --------------------------------------------------------------------------

    def set_lines(
        self,
        lines: Sequence[str],
        *,
        language: Language | None = None,
        first_line_number: int | None = None,
    ) -> None:
        self.lines = lines
        if language is not None:
            self.language = language
        if first_line_number is not None:
            self.first_line_number = first_line_number
        self.marks = frozenset()
        self._text = ""
        self._starts = []
        # Widest line, capped: one pathological line must not make the scrollbar useless.
        self._max_width = min(4000, max((len(s) for s in lines), default=0))
        self._cache.clear()
        self._update_virtual_size()
        self.cursor_line = 0
        if len(lines) > 5000 and self.is_mounted:
            # The search index of a big text (~0.1 s for 100k lines) is built off the UI
            # thread, so the first keystroke of a search does not pay for it.
            self.run_worker(partial(self._build_index, lines), thread=True, exclusive=True,
                            group="code-index", exit_on_error=False)

    def _build_index(self, lines: Sequence[str]) -> None:
        text, starts = _search_index(lines)
        self.app.call_from_thread(self._index_ready, lines, text, starts)

    def _index_ready(self, lines: Sequence[str], text: str, starts: list[int]) -> None:
        if lines is self.lines and not self._starts:
            self._text, self._starts = text, starts

    def set_marks(self, marks: frozenset[int]) -> None:
        self.marks = marks
        self._cache.clear()
        self.refresh()

    @property
    def gutter_width(self) -> int:
        return len(str(len(self.lines) + self.first_line_number)) + 1

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self._max_width + self.gutter_width + 1, len(self.lines))
        self.refresh()

    # -- cursor and jumps ---------------------------------------------------------------

    def goto(self, line: int, *, center: bool = True, top: bool = False) -> None:
        """Put the cursor on a 0-based line and scroll it into view: centred, at the top
        (`top`), or just into view."""
        if not self.lines:
            return
        line = max(0, min(line, len(self.lines) - 1))
        self.cursor_line = line
        if top:
            self.scroll_to(y=line, animate=False, immediate=True)
        elif center:
            h = self.scrollable_content_region.height or 1
            self.scroll_to(y=max(0, line - h // 2), animate=False, immediate=True)

    def watch_cursor_line(self, old: int, new: int) -> None:
        h = self.scrollable_content_region.height or 1
        top = round(self.scroll_y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + h:
            self.scroll_to(y=new - h + 1, animate=False, immediate=True)
        if round(self.scroll_y) == top:
            self.refresh_line(old)
            self.refresh_line(new)
        else:
            self.refresh()
        self.post_message(self.CursorMoved(self, new))

    def action_move(self, delta: int) -> None:
        if self.lines:
            self.cursor_line = max(0, min(len(self.lines) - 1, self.cursor_line + delta))

    def action_page(self, direction: int) -> None:
        h = self.scrollable_content_region.height or 1
        self.action_move(direction * h)

    def action_goto_first(self) -> None:
        self.goto(0, center=False)

    def action_goto_last(self) -> None:
        self.goto(len(self.lines) - 1, center=False)

    def action_hscroll(self, delta: int) -> None:
        self.scroll_to(x=max(0, self.scroll_x + delta), animate=False, immediate=True)

    def action_choose(self) -> None:
        if self.lines:
            self.post_message(self.LineChosen(self, self.cursor_line))

    def on_click(self, event: events.Click) -> None:
        line = round(self.scroll_y) + event.y
        if 0 <= line < len(self.lines):
            again = line == self.cursor_line
            self.cursor_line = line
            if again or event.chain >= 2:
                self.action_choose()

    # -- search -------------------------------------------------------------------------

    def _ensure_index(self) -> None:
        if self._starts or not self.lines:
            return
        self._text, self._starts = _search_index(self.lines)

    def search(self, query: str, *, direction: int = 1, from_next: bool = False) -> int | None:
        """Move to the next line holding `query` (case-insensitive), wrapping around.
        Returns the 0-based line, or None when there is no match."""
        self.query_text = query
        self._cache.clear()
        self.refresh()
        if not query or not self.lines:
            return None
        self._ensure_index()
        q = query.lower()
        cur = self.cursor_line
        if direction > 0:
            start = self._starts[cur + 1] if from_next else self._starts[cur]
            pos = self._text.find(q, start)
            if pos < 0:
                pos = self._text.find(q)
        else:
            pos = self._text.rfind(q, 0, self._starts[cur])
            if pos < 0:
                pos = self._text.rfind(q)
        if pos < 0:
            return None
        line = bisect_right(self._starts, pos) - 1
        self.goto(line)
        return line

    def action_next_match(self, direction: int) -> None:
        if self.query_text:
            self.search(self.query_text, direction=direction, from_next=True)

    # -- rendering ----------------------------------------------------------------------

    def highlight(self, line: str) -> Text:
        text = Text(line, no_wrap=True, end="")
        for pattern, name in _RULES[self.language]:
            style = self.get_component_rich_style(name.replace(".", "--"))
            for m in pattern.finditer(line):
                text.stylize(style, m.start(), m.end())
        if self.query_text:
            q = self.query_text.lower()
            low = line.lower()
            style = self.get_component_rich_style("code--match")
            start = low.find(q)
            while start >= 0:
                text.stylize(style, start, start + len(q))
                start = low.find(q, start + len(q))
        return text

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = round(self.scroll_y) + y
        if index >= len(self.lines) or width <= 0:
            return Strip.blank(width, base)
        scroll_x = round(self.scroll_x)
        key = (index, scroll_x, width)
        strip = self._cache.get(key)
        if strip is None:
            gw = self.gutter_width
            gutter = Text(
                f"{index + self.first_line_number:>{gw - 1}} ",
                style=self.get_component_rich_style("code--gutter"),
                end="",
            )
            # Only the visible window is coloured and drawn: HLO lines carry kilobytes of
            # metadata. A margin either side keeps tokens cut by the window coloured right.
            text = self.lines[index]
            visible = max(0, width - gw)
            start = max(0, scroll_x - WINDOW_MARGIN)
            body = self.highlight(text[start : scroll_x + visible + WINDOW_MARGIN])
            body = body[scroll_x - start : scroll_x - start + visible]
            line = gutter + body
            if index in self.marks:
                line.stylize(self.get_component_rich_style("code--mark"))
            segments = [
                Segment(s.text, base + s.style if s.style else base, s.control)
                for s in line.render(self.app.console)
                if s.text != "\n"
            ]
            strip = Strip(segments).adjust_cell_length(width, base)
            self._cache[key] = strip
        if index == self.cursor_line:
            cursor = self.get_component_rich_style("code--cursor")
            strip = Strip(
                [Segment(t, (st + cursor) if st else cursor, c) for t, st, c in strip],
                strip.cell_length,
            )
        return strip


def _search_index(lines: Sequence[str]) -> tuple[str, list[int]]:
    """The text lower-cased in one string (str.find is C-fast), and each line's offset."""
    lowered = [line.lower() for line in lines]  # per line: lower() may change a length
    starts = [0]
    pos = 0
    for line in lowered:
        pos += len(line) + 1
        starts.append(pos)
    return "\n".join(lowered), starts
