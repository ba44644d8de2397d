"""The hloscope TUI: bindings, screens, the first push. Everything else lives in screens/,
widgets/ and the workers; this module stays thin.

`make_app(...)` serves the CLI (`run_app`), the tests and `textual run --dev
hloscope.tui.app:HloscopeApp` (no arguments: the default sample).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from hloscope.tui.commands import HloscopeCommands
from hloscope.tui.reports import ReportService
from hloscope.tui.session import Session

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hloscope.analysis import Analysis
    from hloscope.records import Capture
    from hloscope.tui.screens.base import HloscopeScreen
    from hloscope.tui.screens.kernel import KernelScreen

# Screen modes, in footer order: key, mode, title.
MODE_KEYS: tuple[tuple[str, str, str], ...] = (
    ("o", "overview", "Overview"),
    ("k", "kernels", "Kernels"),
    ("s", "source", "Source"),
    ("c", "collectives", "Collectives"),
    ("d", "devices", "Devices"),
    ("m", "memory", "Memory"),
    ("t", "text", "Text"),
    ("f", "diff", "Diff"),
)


def _mode_factories() -> dict[str, Any]:
    # Imported here so `import hloscope.tui.app` stays cheap for the CLI's --help.
    from hloscope.tui.screens.collectives import CollectivesScreen
    from hloscope.tui.screens.devices import DevicesScreen
    from hloscope.tui.screens.diff import DiffScreen
    from hloscope.tui.screens.kernels import KernelsScreen
    from hloscope.tui.screens.memory import MemoryScreen
    from hloscope.tui.screens.overview import OverviewScreen
    from hloscope.tui.screens.source import SourceScreen
    from hloscope.tui.screens.text import TextScreen

    return {
        "overview": OverviewScreen,
        "kernels": KernelsScreen,
        "source": SourceScreen,
        "collectives": CollectivesScreen,
        "devices": DevicesScreen,
        "memory": MemoryScreen,
        "text": TextScreen,
        "diff": DiffScreen,
    }


class HloscopeApp(App[int]):
    """Summary first, detail on demand: one screen per question, a key for each."""

    CSS_PATH = "hloscope.tcss"
    TITLE = "hloscope"
    COMMANDS: ClassVar[set[Any]] = {HloscopeCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"show('{mode}')", title, show=False) for key, mode, title in MODE_KEYS),
        Binding("h", "pick_hardware", "Hardware"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("e", "errors", "Errors", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        targets: Sequence[str] = (),
        *,
        captures: Sequence[Capture] | None = None,
        hardware: str | None = None,
        screen: str | None = None,
        target_options: dict[str, Any] | None = None,
        analyses: Sequence[Analysis] | None = None,
    ) -> None:
        super().__init__()
        self.session = Session(
            targets=tuple(targets),
            captures=tuple(captures) if captures else None,
            hardware_name=hardware,
            target_options=dict(target_options or {}),
            analyses=tuple(analyses) if analyses else None,
        )
        self.reports = ReportService(self)
        self.reports.listeners.append(self._on_report)
        self.initial_mode = screen or ("diff" if self.session.is_diff else "overview")
        self.load_errors: list[str] = []
        self.live_screens: weakref.WeakSet[HloscopeScreen] = weakref.WeakSet()
        self._warm_started = False
        self._built_modes: set[str] = set()

    # -- start ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        for mode, factory in _mode_factories().items():
            self.add_mode(mode, factory)
        self.switch_mode(self.initial_mode)
        self.session.start(self)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for _key, mode, title in MODE_KEYS:
            if mode == "diff" and not self.session.is_diff:
                continue
            yield SystemCommand(f"Go to {title}", f"Show the {title} screen", self._goto(mode))
        yield SystemCommand(
            "Hardware…", "Choose the hardware estimates use", self.action_pick_hardware
        )

    def _goto(self, mode: str) -> Any:
        return lambda: self.action_show(mode)

    def mode_tabs(self) -> tuple[tuple[str, str, str], ...]:
        return tuple(m for m in MODE_KEYS if m[1] != "diff" or self.session.is_diff)

    # -- report fan-out -------------------------------------------------------------------

    def _on_report(self, name: str) -> None:
        """A report changed: the visible screen redraws now, the others when shown."""
        for screen in list(self.live_screens):
            screen.report_changed(name, visible=screen is self.screen)
        self._prefetch()

    def needs_of(self, mode: str) -> tuple[str, ...]:
        factory = _mode_factories().get(mode)
        return tuple(getattr(factory, "NEEDS", ()))

    def _prefetch(self) -> None:
        """Once the visible screen has what it needs, compute what the other screens need,
        and build the other screens, so that switching to them only paints."""
        if self.session.phase != "ready" or self.reports.pending():
            return
        wanted = [n for mode in _mode_factories() for n in self.needs_of(mode)]
        self.reports.request(*dict.fromkeys(wanted))
        if not self._warm_started:
            self._warm_started = True
            self.set_timer(0.05, self._warm_next)

    @property
    def warming(self) -> bool:
        """True until every screen has been built in the background."""
        modes = [m for _, m, _ in MODE_KEYS if m != "diff" or self.session.is_diff]
        return not set(modes) <= self._built_modes

    def _warm_next(self) -> None:
        """Build one screen not built yet (one per tick: a keypress waits for at most one).
        A switch there and back inside one batch paints nothing."""
        if not self.is_running or not self.screen_stack:
            return  # closing
        if len(self.screen_stack) > 1:
            self.set_timer(0.5, self._warm_next)  # a modal or detail is open: later
            return
        current = self.current_mode
        self._built_modes.add(current)
        for mode, _, _ in ((m, k, t) for k, m, t in MODE_KEYS):
            if mode == "diff" and not self.session.is_diff:
                continue
            if mode not in self._built_modes and mode != current:
                with self.batch_update():
                    self.switch_mode(mode)
                    self.switch_mode(current)
                self._built_modes.add(mode)
                self.set_timer(0.05, self._warm_next)
                return

    # -- actions --------------------------------------------------------------------------

    def action_show(self, mode: str) -> None:
        if mode == "diff" and not self.session.is_diff:
            self.notify("The diff view needs two targets: hloscope tui A B", severity="warning")
            return
        if self.current_mode == mode:
            # Pressing the screen's key again goes back to its top (e.g. out of a detail view).
            for _ in range(len(self.screen_stack) - 1):
                self.pop_screen()
            return
        self.switch_mode(mode)

    # -- cross-screen navigation --------------------------------------------------------

    def _mode_screen(self, mode: str) -> Screen[Any]:
        """The base screen of a mode, switching to it."""
        if self.current_mode != mode:
            self.switch_mode(mode)
        for _ in range(len(self.screen_stack) - 1):
            self.pop_screen()
        return self.screen_stack[0]

    def open_kernel(self, name: str) -> None:
        """The kernel screen, over the screen it was opened from (one kept per mode: a
        screen can sit on one mode's stack only)."""
        if self.current_mode not in ("kernels", "overview", "source", "diff"):
            self.switch_mode("kernels")
        screen = self._kernel_screen(self.current_mode)
        screen.show_kernel(name)
        if screen not in self.screen_stack:
            self.push_screen(screen)
        else:
            while self.screen is not screen:
                self.pop_screen()

    def _kernel_screen(self, mode: str) -> KernelScreen:
        from hloscope.tui.screens.kernel import KernelScreen

        key = f"kernel-{mode}"
        if not self.is_screen_installed(key):
            screen = KernelScreen()
            screen.MODE = mode  # the tab it was opened from stays highlighted
            self.install_screen(screen, key)
        return self.get_screen(key, KernelScreen)

    def open_instruction(self, name: str) -> None:
        from hloscope.tui.screens.text import TextScreen

        screen = self._mode_screen("text")
        if isinstance(screen, TextScreen):
            screen.goto_instruction(name)

    def open_stablehlo_op(self, op_id: int) -> None:
        """The StableHLO text at an op (by the reader's op id)."""
        from hloscope.tui.screens.text import TextScreen

        index = self.reports.value("stablehlo_index")
        line = index.line_of(op_id) if index is not None else None
        if line is None:
            self.notify("this op's line in the StableHLO text is not known", timeout=3)
            return
        screen = self._mode_screen("text")
        if isinstance(screen, TextScreen):
            screen.goto_stablehlo(line)

    def open_source(self, key: str) -> None:
        from hloscope.tui.screens.source import SourceScreen

        screen = self._mode_screen("source")
        if isinstance(screen, SourceScreen):
            screen.open_line(key)

    def action_pick_hardware(self) -> None:
        from hloscope.tui.screens.pickers import HardwarePicker

        def chosen(name: str | None) -> None:
            if name:
                self.session.set_hardware(self, name)

        self.push_screen(HardwarePicker(self.session.hardware_name), chosen)

    def action_help(self) -> None:
        from hloscope.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    def action_errors(self) -> None:
        from hloscope.tui.screens.help import ErrorsScreen

        self.push_screen(ErrorsScreen(self.load_errors + self.reports.errors))


def make_app(
    targets: Sequence[str] = (),
    *,
    captures: Sequence[Capture] | None = None,
    hardware: str | None = None,
    screen: str | None = None,
    target_options: dict[str, Any] | None = None,
    analyses: Sequence[Analysis] | None = None,
) -> HloscopeApp:
    """The app for targets (`sample:NAME`, bundle, HLO/MLIR file, dump folder, factory), for
    captures already in hand, or for analyses (whose computed reports it reuses: the Python
    API, tests). None of them: the default sample. Two programs: the diff view."""
    return HloscopeApp(
        targets,
        captures=captures,
        hardware=hardware,
        screen=screen,
        target_options=target_options,
        analyses=analyses,
    )


def run_app(
    targets: Sequence[str] = (),
    *,
    hardware: str | None = None,
    screen: str | None = None,
    target_options: dict[str, Any] | None = None,
    captures: Sequence[Capture] | None = None,
) -> int:
    """Run the TUI in the terminal; returns the exit code."""
    app = make_app(
        targets,
        captures=captures,
        hardware=hardware,
        screen=screen,
        target_options=target_options,
    )
    code = app.run()
    return int(code or 0)
