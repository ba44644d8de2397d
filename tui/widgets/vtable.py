"""A virtual table: renders only the rows on screen (Textual's Line API), so a table of 100k
rows costs what a table of 30 does. Rows are plain tuples built once, off the UI thread; the
table filters, moves a cursor and draws bars at whatever width the columns get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True, slots=True)
class Bar:
    """A horizontal bar cell: `fraction` of the column filled. `char` keeps bars of different
    meaning apart when colour is off (NO_COLOR)."""

    fraction: float
    style: str = ""
    char: str = "█"
    label: str = ""
    """Text drawn after the bar (e.g. `31%`)."""


Cell = str | Text | Bar


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    width: int = 0
    """Fixed width in cells; 0 makes the column share the space left (by `ratio`)."""
    align: Literal["left", "right"] = "left"
    ratio: int = 1
    min_width: int = 6
    hide_below: int = 0
    """Hidden when the table is narrower than this (cells of less use give way at 100×30)."""


@dataclass(frozen=True, slots=True)
class Row:
    cells: tuple[Cell, ...]
    key: Any = None
    """What the row stands for (a kernel name, a source line...): handed back in messages."""
    search: str = ""
    """Lower-case text the filter matches against; built from the cells when empty."""
    style: str = ""
    depth: int = 0
    """Indent level, for rows expanded under a parent (Source screen)."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def _cell_plain(cell: Cell) -> str:
    if isinstance(cell, Bar):
        return cell.label
    if isinstance(cell, Text):
        return cell.plain
    return cell


def render_bar(bar: Bar, width: int) -> Text:
    label = f" {bar.label}" if bar.label else ""
    room = max(0, width - len(label))
    frac = min(1.0, max(0.0, bar.fraction))
    filled = round(frac * room)
    if frac > 0 and filled == 0 and room > 0:
        filled = 1  # a non-zero share never looks like zero
    text = Text(bar.char * filled, style=bar.style)
    text.append("░" * (room - filled), style="dim")
    text.append(label)
    return text


class VirtualTable(ScrollView, can_focus=True):
    """Rows of cells with a fixed header, a cursor, filtering and mouse selection."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Open", show=True),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "vtable--header",
        "vtable--cursor",
        "vtable--cursor-blur",
        "vtable--empty",
    }

    DEFAULT_CSS = """
    VirtualTable {
        overflow-x: hidden;
        overflow-y: auto;
        height: 1fr;
    }
    VirtualTable > .vtable--header { text-style: bold; }
    VirtualTable > .vtable--cursor { background: $accent 40%; }
    VirtualTable > .vtable--cursor-blur { background: $accent 15%; }
    VirtualTable > .vtable--empty { color: $text-muted; text-style: italic; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, init=False, repaint=False)

    class Highlighted(Message):
        """The cursor moved to a row."""

        def __init__(self, table: VirtualTable, row: Row | None) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> VirtualTable:
            return self.table

    class Selected(Message):
        """A row was chosen (Enter, or a click on the highlighted row)."""

        def __init__(self, table: VirtualTable, row: Row) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> VirtualTable:
            return self.table

    class HeaderClicked(Message):
        """A column title was clicked (screens sort by it)."""

        def __init__(self, table: VirtualTable, column: Column) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        empty_text: str = "no rows",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: tuple[Column, ...] = tuple(columns)
        self.rows: tuple[Row, ...] = ()
        self.view: list[int] = []
        """Indices into `rows` that pass the filter, in order."""
        self.filter_text = ""
        self.empty_text = empty_text
        self._widths: tuple[int, ...] = ()
        self._widths_for = -1
        self._cache: LRUCache[tuple[int, int, int], Strip] = LRUCache(512)
        self._generation = 0
        self._styles: dict[str, Style] = {}

    # -- data ---------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[Row], *, keep_key: bool = True) -> None:
        """Replace the rows; the cursor stays on the same key when it is still there."""
        old_key = self.current.key if (keep_key and self.current is not None) else None
        self.rows = tuple(rows)
        self._apply_filter()
        if old_key is not None:
            for pos, i in enumerate(self.view):
                if self.rows[i].key == old_key:
                    self._set_cursor(pos)
                    break
            else:
                self._set_cursor(0)
        else:
            self._set_cursor(0)

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._apply_filter()
        self._set_cursor(0)

    def _apply_filter(self) -> None:
        q = self.filter_text
        if not q:
            self.view = list(range(len(self.rows)))
        else:
            terms = q.split()
            self.view = [
                i for i, r in enumerate(self.rows) if all(t in self._search_text(r) for t in terms)
            ]
        self._invalidate()

    @staticmethod
    def _search_text(row: Row) -> str:
        if row.search:
            return row.search
        return " ".join(_cell_plain(c) for c in row.cells).lower()

    @property
    def current(self) -> Row | None:
        if 0 <= self.cursor < len(self.view):
            return self.rows[self.view[self.cursor]]
        return None

    def find_key(self, key: Any) -> bool:
        """Move the cursor to the row with this key; False when it is filtered out or absent."""
        for pos, i in enumerate(self.view):
            if self.rows[i].key == key:
                self._set_cursor(pos)
                return True
        return False

    # -- cursor -------------------------------------------------------------------------

    def _set_cursor(self, pos: int) -> None:
        self.cursor = max(0, min(pos, len(self.view) - 1)) if self.view else 0

    def watch_cursor(self, old: int, new: int) -> None:
        top = round(self.scroll_y)
        self._scroll_cursor_into_view()
        if round(self.scroll_y) == top:
            # Only the two rows whose highlight changed are drawn again.
            self.refresh_line(old + 1)
            self.refresh_line(new + 1)
        else:
            self.refresh()
        self.post_message(self.Highlighted(self, self.current))

    def _scroll_cursor_into_view(self) -> None:
        body = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self._set_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        body = max(1, self.scrollable_content_region.height - 1)
        self._set_cursor(self.cursor + direction * body)

    def action_jump(self, pos: int) -> None:
        self._set_cursor(len(self.view) - 1 if pos < 0 else pos)

    def action_select(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(self.Selected(self, row))

    def on_click(self, event: events.Click) -> None:
        y = event.y
        if y == 0:
            col = self._column_at(event.x)
            if col is not None:
                self.post_message(self.HeaderClicked(self, col))
            return
        pos = round(self.scroll_y) + y - 1
        if not 0 <= pos < len(self.view):
            return
        if pos == self.cursor or event.chain >= 2:
            self._set_cursor(pos)
            self.action_select()
        else:
            self._set_cursor(pos)

    def _column_at(self, x: int) -> Column | None:
        pos = 0
        for col, w in zip(self.columns, self._widths, strict=False):
            if not w:
                continue
            if pos <= x < pos + w:
                return col
            pos += w + 1
        return None

    # -- layout and rendering -------------------------------------------------------------

    def _invalidate(self) -> None:
        self._generation += 1
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self.view) + 1)
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}
        self._cache.clear()

    def _style(self, name: str) -> Style:
        """Component styles, looked up once per style change (lookups cost ~0.1 ms each)."""
        style = self._styles.get(name)
        if style is None:
            style = self.rich_style if name == "base" else self.get_component_rich_style(name)
            self._styles[name] = style
        return style

    def on_resize(self, event: events.Resize) -> None:
        self._widths = ()
        self._invalidate()

    def on_focus(self) -> None:
        self.refresh_line(self.cursor + 1)

    def on_blur(self) -> None:
        self.refresh_line(self.cursor + 1)

    def _column_widths(self, total: int) -> tuple[int, ...]:
        """Widths by column, 0 for a hidden one. Cached for the table width."""
        if self._widths and self._widths_for == total:
            return self._widths
        shown = [c for c in self.columns if not (c.hide_below and total < c.hide_below)]
        fixed = sum(c.width for c in shown if c.width)
        flex = [c for c in shown if not c.width]
        room = total - fixed - (len(shown) - 1)
        ratio_sum = sum(c.ratio for c in flex) or 1
        widths = []
        given = 0
        for c in self.columns:
            if c not in shown:
                widths.append(0)
            elif c.width:
                widths.append(c.width)
            else:
                w = max(c.min_width, room * c.ratio // ratio_sum)
                widths.append(w)
                given += w
        # Hand leftover cells (integer division) to the last flexible column.
        if flex and room > given:
            last = max(i for i, c in enumerate(self.columns) if c in flex)
            widths[last] += room - given
        self._widths = tuple(widths)
        self._widths_for = total
        return self._widths

    def _segments(
        self, cells: Sequence[Cell], widths: Sequence[int], depth: int, base: Style
    ) -> list[Segment]:
        """One row as segments. Plain strings (most cells) skip rich's Text machinery."""
        console = self.app.console
        out: list[Segment] = []
        first = True
        for i, (col, cell, w) in enumerate(zip(self.columns, cells, widths, strict=False)):
            if not w:
                continue  # hidden at this width
            if not first:
                out.append(Segment(" ", base))
            first = False
            if isinstance(cell, str):
                text = ("  " * depth + cell) if (i == 0 and depth) else cell
                size = cell_len(text)
                if size > w:
                    text = set_cell_size(text, max(0, w - 1)) + "…" if w > 0 else ""
                    size = w
                pad = " " * (w - size)
                out.append(Segment(pad + text if col.align == "right" else text + pad, base))
                continue
            if isinstance(cell, Bar):
                piece = render_bar(cell, w)
            else:
                piece = (Text("  " * depth) + cell) if (i == 0 and depth) else cell.copy()
                piece.no_wrap = True
                piece.truncate(w, overflow="ellipsis")
                if col.align == "right":
                    piece.pad_left(w - piece.cell_len)
                else:
                    piece.pad_right(w - piece.cell_len)
            piece.end = ""
            for seg in piece.render(console):
                out.append(Segment(seg.text, base + seg.style if seg.style else base))
        return out

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width <= 0:
            return Strip.blank(0)
        widths = self._column_widths(width)
        base = self._style("base")
        if y == 0:
            header = base + self._style("vtable--header")
            titles = tuple(c.title for c in self.columns)
            return Strip(self._segments(titles, widths, 0, header)).adjust_cell_length(
                width, base
            )
        pos = round(self.scroll_y) + y - 1
        if not self.view:
            if y == 1:
                msg = self.empty_text
                if self.filter_text:
                    msg = f"no rows match “{self.filter_text}”"
                style = base + self._style("vtable--empty")
                return Strip([Segment(msg, style)]).adjust_cell_length(width, base)
            return Strip.blank(width, base)
        if pos >= len(self.view):
            return Strip.blank(width, base)
        key = (pos, width, self._generation)
        strip = self._cache.get(key)
        if strip is None:
            row = self.rows[self.view[pos]]
            row_base = base + Style.parse(row.style) if row.style else base
            strip = Strip(self._segments(row.cells, widths, row.depth, row_base))
            strip = strip.adjust_cell_length(width, row_base)
            self._cache[key] = strip
        if pos == self.cursor:
            cursor = self._style("vtable--cursor" if self.has_focus else "vtable--cursor-blur")
            strip = Strip(
                [Segment(t, (st + cursor) if st else cursor, c) for t, st, c in strip],
                strip.cell_length,
            )
        return strip

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.view) + 1
