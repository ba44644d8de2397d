"""The frame around every screen: the title bar (program, platform, mesh, hardware), the
status line (loading and computing), the search bar, and the 'not available' notice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, Static

from hloscope.tui.reports import ReportState, Status

if TYPE_CHECKING:
    from hloscope.tui.session import Session


def program_line(session: Session) -> Text:
    """` hloscope ─ transformer (sample) ─ cpu ×8, mesh data=4 × model=2 ─ hardware: h100-sxm`
    (the screen's name is on the tab line below)."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(" hloscope", style="bold")
    cap = session.capture
    if cap is None:
        t.append(" ─ ")
        t.append(" vs ".join(session.labels) if session.is_diff else session.labels[0])
        return t
    t.append(" ─ ")
    if session.is_diff:
        t.append("AB"[session.side] + ": ", style="bold")
    t.append(cap.name)
    origin = _short_origin(cap.origin)
    if origin and origin != cap.name:
        t.append(f" ({origin})", style="dim")
    if cap.platform:
        t.append(f" ─ {cap.platform} ×{cap.device_count}")
    else:
        t.append(f" ─ {cap.device_count} device{'s' if cap.device_count != 1 else ''}")
    if cap.mesh is not None and cap.mesh.axis_names:
        t.append(f", mesh {cap.mesh.describe()}")
    t.append(" ─ hardware: ")
    t.append(session.hardware_name or "–", style="bold")
    t.append(" [h]", style="dim")
    return t


def _short_origin(origin: str) -> str:
    """`sample:transformer` -> `sample`; a path -> its file name; a factory stays."""
    if origin.startswith("sample:"):
        return "sample"
    if "/" in origin and ":" not in origin:
        return origin.rstrip("/").rsplit("/", 1)[-1]
    return origin


class Line(Static):
    """A one-line Static whose updates never re-lay-out the screen (its size is fixed), and
    that skips updates that change nothing: cheap enough to refresh on every report."""

    DEFAULT_CSS = """
    Line { height: 1; }
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last: object = None

    def update(self, content: Any = "", *, layout: bool = False) -> None:
        if content == self._last:
            return
        self._last = content
        super().update(content, layout=layout)


class ScreenTabs(Line):
    """The screens and their keys, the current one highlighted; click one to go there."""

    DEFAULT_CSS = """
    ScreenTabs { height: 1; background: $panel-darken-1; color: $text-muted; }
    """

    def __init__(self, current: str, tabs: tuple[tuple[str, str, str], ...], **kw: Any) -> None:
        super().__init__(**kw)
        self.current = current
        self.tabs = tabs
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.update(self._text())

    def _text(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        for key, mode, title in self.tabs:
            start = t.cell_len
            if mode == self.current:
                t.append(f" {key} {title} ", style="bold reverse")
            else:
                t.append(" ")
                t.append(key, style="bold")
                t.append(f" {title} ")
            self._spans.append((start, t.cell_len, mode))
        return t

    async def on_click(self, event: events.Click) -> None:
        for start, end, mode in self._spans:
            if start <= event.x < end:
                await self.app.run_action(f"show('{mode}')")
                return


class TitleBar(Line):
    DEFAULT_CSS = """
    TitleBar { height: 1; background: $panel; color: $foreground; }
    """


class StatusLine(Line):
    DEFAULT_CSS = """
    StatusLine { height: 1; color: $text-muted; background: $surface; }
    """


def state_text(state: ReportState, what: str) -> Text:
    """One line for a report that is not ready: computing, not available, or failed."""
    if state.status is Status.PENDING or state.status is Status.IDLE:
        if state.message.startswith("loading"):
            return Text(f"⋯ {state.message}", style="dim italic")
        return Text(f"⋯ computing {what}…", style="dim italic")
    if state.status is Status.UNAVAILABLE:
        return Text(state.message or f"{what}: not available", style="italic")
    if state.status is Status.FAILED:
        return Text(f"{what} failed: {state.message}", style="bold red")
    return Text("")


class SearchBar(Input):
    """`/` opens it; typing filters (tables) or finds (text); Enter keeps the result, Escape
    clears it. Screens handle `SearchBar.Changed` and `SearchBar.Done`."""

    BINDINGS = [Binding("escape", "cancel", "Clear search", show=False)]  # noqa: RUF012

    DEFAULT_CSS = """
    SearchBar { display: none; height: 1; border: none; padding: 0 1; }
    SearchBar.-open { display: block; }
    """

    class Done(Message):
        def __init__(self, bar: SearchBar, value: str, cancelled: bool) -> None:
            super().__init__()
            self.bar = bar
            self.value = value
            self.cancelled = cancelled

    def open(self) -> None:
        self.add_class("-open")
        self.focus()

    def close(self) -> None:
        self.remove_class("-open")

    def action_cancel(self) -> None:
        self.value = ""
        self.close()
        self.post_message(self.Done(self, "", cancelled=True))

    async def action_submit(self) -> None:
        self.close()
        self.post_message(self.Done(self, self.value, cancelled=False))


class KeyBar(Line):
    """The keys that work here, one line (Textual's Footer re-mounts a widget per key on each
    focus change, ~25 ms a time; this redraws a line). Click a key to run it."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text-muted; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._spans: list[tuple[int, int, str, Any]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)
        self.call_after_refresh(self._changed, self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, screen: Any) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, str, Any]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            b = active.binding
            if not b.show or not b.description or b.action in seen:
                continue
            seen.add(b.action)
            start = t.cell_len
            t.append(f" {self.app.get_key_display(b)}", style="bold")
            t.append(f" {b.description} ")
            spans.append((start, t.cell_len, b.action, active.node))
        t.append("  ^p palette", style="dim")
        self._spans = spans
        self.update(t)

    async def on_click(self, event: events.Click) -> None:
        for start, end, action, node in self._spans:
            if start <= event.x < end:
                await self.app.run_action(action, node)
                return


class TabLine(Line):
    """A row of tab labels (`1 Instructions  2 HLO  3 Source`), the active one highlighted.
    The screen shows the matching pane; a click posts `Chosen`. Lighter than TabbedContent,
    whose first use re-parses the stylesheet (~75 ms)."""

    DEFAULT_CSS = """
    TabLine { height: 1; color: $text-muted; }
    """

    class Chosen(Message):
        def __init__(self, line: TabLine, tab: str) -> None:
            super().__init__()
            self.line = line
            self.tab = tab

    def __init__(self, tabs: tuple[tuple[str, str], ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tabs = tabs
        """(id, label) pairs."""
        self.active = tabs[0][0]
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.show(self.active)

    def show(self, tab: str) -> None:
        self.active = tab
        t = Text(no_wrap=True)
        self._spans = []
        for tab_id, label in self.tabs:
            start = t.cell_len
            t.append(f" {label} ", style="bold reverse" if tab_id == tab else "")
            self._spans.append((start, t.cell_len, tab_id))
            t.append(" ")
        self.update(t)

    def on_click(self, event: events.Click) -> None:
        for start, end, tab_id in self._spans:
            if start <= event.x < end:
                self.post_message(self.Chosen(self, tab_id))
                return
