"""Small modal lists: choose the hardware, choose where to jump."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from hloscope.tui.navigation import JumpTarget


class _Picker(ModalScreen[Any]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Close")]

    DEFAULT_CSS = """
    _Picker { align: center middle; }
    _Picker > Vertical {
        width: 80%; max-width: 100; height: auto; max-height: 80%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    _Picker OptionList { height: auto; max-height: 24; border: none; }
    """

    def __init__(self, title: str, options: Iterable[Option], note: str = "") -> None:
        super().__init__()
        self._title = title
        self._options = list(options)
        self._note = note

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            if self._note:
                yield Static(Text(self._note, style="dim"))
            yield OptionList(*self._options)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class HardwarePicker(_Picker):
    """Choose the hardware the estimates are computed for."""

    def __init__(self, current: str | None) -> None:
        options: list[Option] = []
        note = "Estimates are a roofline over each device's published specs."
        try:
            from hloscope.hardware import cpu_hardware, get_hardware, names
        except ImportError:
            options = []
            note = "not available yet: hloscope.hardware is not built"
        else:
            for name in names():
                # `cpu` is measured on first use (~1 s): describe it without measuring here.
                hw = cpu_hardware(measure=False) if name == "cpu" else get_hardware(name)
                label = Text()
                label.append("● " if name == current else "  ", style="bold")
                label.append(f"{name:<14}", style="bold" if name == current else "")
                label.append(str(getattr(hw, "description", "")), style="dim")
                options.append(Option(label, id=name))
        super().__init__("Hardware (Enter: use, Escape: close)", options, note)
        self.current = current

    def on_mount(self) -> None:
        super().on_mount()
        ol = self.query_one(OptionList)
        for i in range(ol.option_count):
            if ol.get_option_at_index(i).id == self.current:
                ol.highlighted = i

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class JumpPicker(_Picker):
    """Choose where to jump from an instruction."""

    def __init__(self, targets: Sequence[JumpTarget]) -> None:
        self._targets = list(targets)
        options = [Option(t.label, id=str(i)) for i, t in enumerate(self._targets)]
        super().__init__("Jump to (Enter: go, Escape: close)", options)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._targets[int(event.option.id or 0)].line)
