"""`?`: what the current screen shows and every key that works there. `e`: internal errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GENERAL = (
    "hloscope shows what XLA did to a JAX program. Figures marked XLA are XLA's own "
    "(cost_analysis, memory_analysis); others are computed from the optimized HLO; times "
    "are estimates (a roofline over the chosen hardware's published specs), never "
    "measurements. Every figure is per device: in SPMD each device runs the same program."
)


class _Modal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    DEFAULT_CSS = """
    _Modal { align: center middle; }
    _Modal > VerticalScroll {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def action_close(self) -> None:
        self.dismiss(None)


class HelpScreen(_Modal):
    def __init__(self, under: Screen[Any]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        title = getattr(self.under, "SCREEN_TITLE", "") or "hloscope"
        body: list[Any] = []
        body.append(Text(GENERAL + "\n"))
        help_text = getattr(self.under, "HELP", "")
        if help_text:
            body.append(Text(help_text + "\n", style="italic"))
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        seen = set()
        is_diff = getattr(getattr(self.app, "session", None), "is_diff", False)
        for binding in self._all_bindings():
            if binding.key in seen or not binding.description:
                continue
            if binding.action == "show('diff')" and not is_diff:
                continue
            seen.add(binding.key)
            keys.add_row(binding.key_display or _key_name(binding.key), binding.description)
        keys.add_row("ctrl+p", "command palette: screens, kernels, instructions, hardware")
        with VerticalScroll() as box:
            box.border_title = f"Help: {title} (Escape: close)"
            for item in body:
                yield Static(item)
            yield Static(keys)

    def _all_bindings(self) -> list[Binding]:
        out: list[Binding] = []
        nodes: list[Any] = [self.under]
        focused = getattr(self.under, "focused", None)
        if focused is not None:
            nodes.insert(0, focused)
        nodes.append(self.app)
        for node in nodes:
            for b in getattr(node, "BINDINGS", ()):
                if isinstance(b, Binding):
                    out.append(b)
        return out


def _key_name(key: str) -> str:
    return {"question_mark": "?", "slash": "/"}.get(key, key)


class ErrorsScreen(_Modal):
    """Internal errors caught from workers, with their tracebacks, for bug reports."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__()
        self.errors = list(errors)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Errors (Escape: close)"
            if not self.errors:
                yield Static("No errors.")
            for e in self.errors:
                yield Static(Text(e + "\n"))
