"""What every hloscope screen shares: the frame (title, status, search, footer), asking for
the reports it needs, and redrawing when they arrive (at once when visible, else when shown).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual._context import active_app
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget

from hloscope.tui.reports import ReportState, Status
from hloscope.tui.widgets.chrome import (
    KeyBar,
    ScreenTabs,
    SearchBar,
    StatusLine,
    TitleBar,
    program_line,
)

if TYPE_CHECKING:
    from hloscope.analysis import Analysis
    from hloscope.records import Capture
    from hloscope.tui.app import HloscopeApp
    from hloscope.tui.reports import ReportService
    from hloscope.tui.session import Session


class HloscopeScreen(Screen[Any]):
    NEEDS: ClassVar[tuple[str, ...]] = ()
    """Reports this screen shows; requested (most urgent first) whenever it is shown."""
    SCREEN_TITLE: str = ""
    MODE: str = ""
    """The mode (tab) this screen belongs to."""
    HELP: ClassVar[str] = ""
    """What the screen shows and how to read it, for `?`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", key_display="/"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._dirty = True
        # A screen made now has no stale styles. Textual marks new screens out of date (-1),
        # which makes the first switch to each mode re-parse the whole stylesheet twice
        # (~150 ms, measured by benchmarks/tui.py); the app's count says it is current.
        app = active_app.get(None)
        if app is not None:
            self._css_update_count = app._css_update_count

    # -- frame ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        yield ScreenTabs(self.MODE, self.hs.mode_tabs(), id="tabs")
        yield from self.compose_body()
        yield SearchBar(placeholder="search…", id="search")
        yield StatusLine(id="status")
        yield KeyBar(id="keys")

    def compose_body(self) -> Iterable[Widget]:
        return ()

    @property
    def hs(self) -> HloscopeApp:
        return cast("HloscopeApp", self.app)

    @property
    def session(self) -> Session:
        return self.hs.session

    @property
    def reports(self) -> ReportService:
        return self.hs.reports

    @property
    def capture(self) -> Capture | None:
        return self.session.capture

    @property
    def analysis(self) -> Analysis | None:
        return self.session.analysis

    def state(self, name: str) -> ReportState:
        if self.session.phase != "ready":
            return self.session.load_state()
        return self.reports.state(name)

    def value(self, name: str) -> Any:
        return self.reports.value(name) if self.session.phase == "ready" else None

    # -- life cycle -----------------------------------------------------------------------

    def on_mount(self) -> None:
        self.hs.live_screens.add(self)
        self.update_chrome()

    def on_unmount(self) -> None:
        self.hs.live_screens.discard(self)

    def on_screen_resume(self) -> None:
        self.request_needs()
        if self._dirty:
            self._dirty = False
            self.safe_refresh()
        self.update_chrome()

    def needs(self) -> tuple[str, ...]:
        """The reports this screen shows for the capture open now (NEEDS by default)."""
        return self.NEEDS

    def request_needs(self) -> None:
        needs = self.needs()
        if self.session.phase == "ready" and needs:
            # Reversed so that the first-named report is computed first.
            for name in reversed(needs):
                self.reports.request(name, urgent=True)

    def report_changed(self, name: str, *, visible: bool) -> None:
        relevant = name == "*" or name in self.needs()
        if not visible:
            # Screens in the background redraw when their reports arrive (once), so that
            # switching to them later only lays out and paints.
            if relevant:
                self._dirty = True
                if self.is_mounted:
                    self.call_later(self._background_refresh)
            return
        if name == "*":
            self.request_needs()
        if relevant:
            self._dirty = False
            self.safe_refresh()
        self.update_chrome()

    def _background_refresh(self) -> None:
        if self._dirty and self.is_mounted and self.app.screen is not self:
            self._dirty = False
            self.safe_refresh()

    def safe_refresh(self) -> None:
        """refresh_data, with a drawing bug shown as an error rather than ending the app."""
        try:
            self.refresh_data()
        except Exception as exc:  # a bug here must not take the user's session down
            import traceback

            self.hs.load_errors.append(
                f"{self.SCREEN_TITLE}: " + "".join(traceback.format_exception(exc)).rstrip()
            )
            self.notify(
                f"{self.SCREEN_TITLE}: could not draw ({type(exc).__name__}: {exc}); "
                "e shows details",
                title="display error",
                severity="error",
            )

    def refresh_data(self) -> None:
        """Redraw from the reports (those not ready show their state)."""

    def update_chrome(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#title", TitleBar).update(program_line(self.session))
        self.query_one("#status", StatusLine).update(self.status_text())

    def status_text(self) -> Text:
        s = self.session
        if s.phase == "loading":
            return Text(f" ⋯ {s.progress or 'loading ' + ', '.join(s.labels) + '…'}")
        if s.phase == "failed":
            return Text(f" could not open: {s.error}", style="bold red")
        pending = self.reports.pending()
        if pending:
            return Text(f" ⋯ computing {', '.join(pending)}…")
        failed = [
            n for n in self.needs() if self.reports.state(n).status is Status.FAILED
        ]
        if failed:
            return Text(f" failed: {', '.join(failed)} (e: details)", style="red")
        return Text(" ready", style="dim")

    # -- search -----------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#search", SearchBar).open()

    def on_input_changed(self, event: SearchBar.Changed) -> None:
        if isinstance(event.input, SearchBar):
            self.search_changed(event.value)

    def on_search_bar_done(self, event: SearchBar.Done) -> None:
        self.search_done(event.value, cancelled=event.cancelled)

    def search_changed(self, text: str) -> None:
        """Live search as the user types (filter tables, find in text)."""

    def search_done(self, text: str, *, cancelled: bool) -> None:
        """Enter (keep) or Escape (clear) in the search bar; focus goes back to the body."""
        self.focus_body()

    def focus_body(self) -> None:
        self.focus_next()
