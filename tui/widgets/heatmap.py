"""A mesh heatmap: devices laid out by mesh coordinates (first axis down, the others across),
shaded by a metric, with a cursor cell. Shading uses both colour and density characters, so it
reads with NO_COLOR too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

_SHADES = " ░▒▓█"


@dataclass(frozen=True, slots=True)
class Grid:
    row_title: str
    """`data=` (the first mesh axis)."""
    col_title: str
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    devices: tuple[tuple[int, ...], ...]
    """Device id at each (row, col)."""

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.devices), len(self.devices[0]) if self.devices else 0

    def position(self, device: int) -> tuple[int, int] | None:
        for r, row in enumerate(self.devices):
            for c, d in enumerate(row):
                if d == device:
                    return r, c
        return None


class MeshHeatmap(Widget, can_focus=True):
    """Arrow keys move between devices; Enter (or a click) selects one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("enter", "select", "Select device", show=False),
    ]

    DEFAULT_CSS = """
    MeshHeatmap { height: auto; width: 1fr; text-wrap: nowrap; text-overflow: clip; }
    """

    cursor: reactive[tuple[int, int]] = reactive((0, 0), init=False)
    """(row, column) of the selected cell."""

    class DeviceHighlighted(Message):
        def __init__(self, heatmap: MeshHeatmap, device: int) -> None:
            super().__init__()
            self.heatmap = heatmap
            self.device = device

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.grid: Grid | None = None
        self.values: dict[int, float | None] = {}
        self.formatter: Callable[[float | None], str] = lambda v: "" if v is None else f"{v:g}"
        self.style = "cyan"
        self.metric_title = ""

    def set_data(
        self,
        grid: Grid,
        values: dict[int, float | None],
        formatter: Callable[[float | None], str],
        *,
        style: str,
        title: str,
    ) -> None:
        same_grid = self.grid is not None and self.grid.devices == grid.devices
        self.grid = grid
        self.values = values
        self.formatter = formatter
        self.style = style
        self.metric_title = title
        if not same_grid:
            self.cursor = (0, 0)
        self.refresh(layout=True)

    @property
    def device(self) -> int | None:
        if self.grid is None:
            return None
        r, c = self.cursor
        return self.grid.devices[r][c]

    def select_device(self, device: int) -> None:
        if self.grid is not None:
            pos = self.grid.position(device)
            if pos is not None:
                self.cursor = pos

    def watch_cursor(self) -> None:
        self.refresh()
        self._scroll_to_cursor()
        if self.device is not None:
            self.post_message(self.DeviceHighlighted(self, self.device))

    def action_move(self, dr: int, dc: int) -> None:
        if self.grid is None:
            return
        rows, cols = self.grid.shape
        r, c = self.cursor
        self.cursor = (max(0, min(rows - 1, r + dr)), max(0, min(cols - 1, c + dc)))

    def action_select(self) -> None:
        if self.device is not None:
            self.post_message(self.DeviceHighlighted(self, self.device))

    def _label_width(self) -> int:
        assert self.grid is not None
        return len(self.grid.row_title) + max(len(x) for x in self.grid.row_labels) + 1

    def _cell_width(self) -> int:
        """Cells share the width: 14 wide with their value at most; down to 1 cell (shade
        only) for a wide mesh, so a 64×16 mesh still fits 100 columns."""
        if self.grid is None:
            return 8
        _, cols = self.grid.shape
        avail = max(cols, (self.size.width or 80) - self._label_width())
        return max(1, min(14, avail // max(1, cols) - 1))

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return (self.grid.shape[0] if self.grid else 0) + 3

    HEADER_LINES = 2
    """Axis title, then column labels, above the rows."""

    def on_click(self, event: events.Click) -> None:
        if self.grid is None:
            return
        r = event.y - self.HEADER_LINES
        c = (event.x - self._label_width()) // (self._cell_width() + 1)
        rows, cols = self.grid.shape
        if 0 <= r < rows and 0 <= c < cols:
            self.cursor = (r, c)

    def _scroll_to_cursor(self) -> None:
        """Keep the selected row in view when the grid is taller than its container."""
        parent = self.parent
        if isinstance(parent, Widget):
            r, _ = self.cursor
            parent.scroll_to_region(
                Region(0, self.region.y - parent.region.y + r, 1, self.HEADER_LINES + 1),
                animate=False,
            )

    def render(self) -> Text:
        if self.grid is None:
            return Text("")
        g = self.grid
        cw = self._cell_width()
        lw = self._label_width()
        vals = [v for v in self.values.values() if v is not None]
        top = max(vals) if vals else 0.0
        out = Text(no_wrap=True, overflow="crop")
        out.append(" " * lw + (g.col_title or ""), style="bold")
        out.append("\n" + " " * lw)
        for label in g.col_labels:
            out.append(label[:cw].center(cw) + " ", style="bold")
        out.append("\n")
        for r, row in enumerate(g.devices):
            out.append(f"{g.row_title}{g.row_labels[r]}".ljust(lw), style="bold")
            for c, dev in enumerate(row):
                out.append_text(self._cell(dev, (r, c) == self.cursor, cw, top))
                out.append(" ")
            out.append("\n")
        out.append(f"{self.metric_title}: ", style="dim")
        out.append(f"max {self.formatter(top if vals else None)}", style="dim")
        return out

    def _cell(self, dev: int, selected: bool, cw: int, top: float) -> Text:
        if dev < 0:  # no device at this mesh position
            return Text(" " * cw)
        v = self.values.get(dev)
        frac = (v / top) if (v is not None and top > 0) else 0.0
        shade = _SHADES[min(4, max(1 if (v or 0) > 0 else 0, round(frac * 4)))]
        label = self.formatter(v)
        cell = f"{shade * 2} {label}".ljust(cw) if cw >= len(label) + 3 else shade * cw
        style = f"{self.style} reverse" if selected else self.style
        if selected and self.has_focus:
            style += " bold"
        return Text(cell, style=style)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
