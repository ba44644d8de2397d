"""HLO / StableHLO text with syntax colouring. Enter on an instruction lists where its
operands are defined and who uses it; pick one to jump there. `b` jumps back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Static

from hloscope.tui import navigation
from hloscope.tui.screens.base import HloscopeScreen
from hloscope.tui.widgets.chrome import Line, state_text
from hloscope.tui.widgets.codeview import CodeView

DOCS: dict[str, tuple[str, str]] = {
    "hlo": ("hlo_lines", "optimized HLO"),
    "stablehlo": ("stablehlo_lines", "StableHLO"),
}


class TextScreen(HloscopeScreen):
    MODE = "text"
    SCREEN_TITLE = "Text"
    NEEDS: ClassVar[tuple[str, ...]] = ("hlo_lines", "stablehlo_lines", "module", "index")
    HELP = (
        "The optimized HLO XLA compiled (tab: the StableHLO jax lowered). Enter on an "
        "instruction: jump to the definition of an operand, to a user, or into a called "
        "computation. b jumps back. / finds text (n, N: next, previous)."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "toggle_doc", "HLO/StableHLO"),
        Binding("b", "back", "Jump back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.doc = "hlo"
        self._doc_chosen = False
        self.history: list[tuple[str, int]] = []
        self._shown: dict[str, Any] = {}
        self._pending_goto: str | None = None
        self._pending_line: int | None = None
        self._open_when_shown: tuple[CodeView, int] | None = None

    def compose_body(self) -> Iterable[Widget]:
        yield Line(id="t-head", classes="summary")
        # One view per text, so each keeps its position when the other is shown.
        yield CodeView(language="hlo", id="t-hlo")
        yield CodeView(language="mlir", id="t-stablehlo")
        yield Line(id="t-where", classes="where")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#t-stablehlo").display = False
        self.safe_refresh()
        self.code.focus()

    @property
    def code(self) -> CodeView:
        """The view of the text shown now."""
        return self.query_one(f"#t-{self.doc}", CodeView)

    def focus_body(self) -> None:
        self.code.focus()

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        cap = self.capture
        if not self._doc_chosen and cap is not None and self.session.phase == "ready":
            # Open on the text the capture has: a `.mlir` file has no optimized HLO.
            self._doc_chosen = True
            if cap.hlo is None and cap.stablehlo is not None:
                self.doc = "stablehlo"
        report, label = DOCS[self.doc]
        st = self.state(report)
        head = Text()
        for key, (_, name) in DOCS.items():
            head.append(f" {name} ", style="reverse bold" if key == self.doc else "dim")
            head.append(" ")
        head.append("  tab switches", style="dim")
        if not st.ready:
            head.append("   ")
            head.append_text(state_text(st, label))
        elif not st.value:
            head.append(f"   this capture has no {label}", style="italic")
        self.query_one("#t-head", Static).update(head)
        lines = st.value if st.ready else ()
        for doc in DOCS:
            self.query_one(f"#t-{doc}").display = doc == self.doc
        if self._shown.get(self.doc) is not lines:
            self._shown[self.doc] = lines
            self.code.set_lines(lines or (), language="hlo" if self.doc == "hlo" else "mlir")
            if lines:
                # Open where the program starts, past the tables printed first (FileNames...
                # in HLO, #loc in StableHLO).
                first = "ENTRY" if self.doc == "hlo" else "module"
                start = next((i for i, s in enumerate(lines) if s.startswith(first)), 0)
                self.call_after_refresh(self._open_at, self.code, start)
        self._apply_pending(bool(lines))
        self._update_where(self.code.cursor_line)

    def _open_at(self, code: CodeView, line: int) -> None:
        if code.cursor_line != 0:
            return  # a jump got there first
        code.goto(line, top=True)
        if self.app.screen is not self:
            # Text that arrived while the screen was in the background: the cursor is there
            # but a view not on screen cannot scroll. Scroll when the screen is shown.
            self._open_when_shown = (code, line)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self._open_when_shown is not None:
            code, line = self._open_when_shown
            self._open_when_shown = None
            if code.cursor_line == line:  # nothing moved it meanwhile
                self.call_after_refresh(code.goto, line, top=True)

    def _apply_pending(self, have_lines: bool) -> None:
        """Jumps asked for before the screen or its text was ready."""
        if self._pending_goto and self.doc == "hlo":
            name = self._pending_goto
            if self.goto_instruction(name, record=False):
                self._pending_goto = None
        if self._pending_line is not None and self.doc == "stablehlo" and have_lines:
            self.call_after_refresh(self.code.goto, self._pending_line)
            self._pending_line = None

    # -- jumping --------------------------------------------------------------------------

    def goto_instruction(self, name: str, *, record: bool = True) -> bool:
        """Show the HLO text at `name`'s definition. False while the screen or the index is
        not ready (it goes there when they are)."""
        self._doc_chosen = True  # the user's choice outranks the default
        if not self.is_mounted:
            self.doc = "hlo"
            self._pending_goto = name
            return False
        if self.doc != "hlo":
            self.doc = "hlo"
            self.refresh_data()
        index = self.value("index")
        lines = self.value("hlo_lines")
        if index is None or lines is None:
            self._pending_goto = name
            return False
        line = index.line_of(name)
        if line < 0:
            self.notify(f"{name} is not in the text", severity="warning")
            return True
        if record:
            self.history.append((self.doc, self.code.cursor_line))
        self.code.goto(line)
        return True

    def goto_stablehlo(self, line: int) -> None:
        """Show the StableHLO text at a 0-based line."""
        self._doc_chosen = True
        if not self.is_mounted:
            self.doc = "stablehlo"
            self._pending_line = line
            return
        if self.doc != "stablehlo":
            self.doc = "stablehlo"
            self.refresh_data()
        self.history.append((self.doc, self.code.cursor_line))
        self.call_after_refresh(self.code.goto, line)

    def action_toggle_doc(self) -> None:
        self._doc_chosen = True
        self.doc = "stablehlo" if self.doc == "hlo" else "hlo"
        self.safe_refresh()

    def action_back(self) -> None:
        if not self.history:
            self.notify("nothing to go back to", timeout=2)
            return
        doc, line = self.history.pop()
        if doc != self.doc:
            self.doc = doc
            self.refresh_data()
        self.code.goto(line)

    def on_code_view_cursor_moved(self, event: CodeView.CursorMoved) -> None:
        self._update_where(event.line)

    def _update_where(self, line: int) -> None:
        where = self.query_one("#t-where", Static)
        if self.doc != "hlo":
            where.update("")
            return
        index, module = self.value("index"), self.value("module")
        if index is None or module is None:
            where.update(state_text(self.state("index"), "navigation").plain)
            return
        where.update(navigation.describe_line(module, index, line))

    def on_code_view_line_chosen(self, event: CodeView.LineChosen) -> None:
        if self.doc == "hlo":
            index, module = self.value("index"), self.value("module")
            if index is None or module is None:
                self.notify("navigation is not ready yet", timeout=2)
                return
            targets = navigation.jump_targets(module, index, event.line)
        else:
            targets = navigation.mlir_jump_targets(self.code.lines, event.line)
        if not targets:
            self.notify("nothing to jump to from this line", timeout=2)
            return
        from hloscope.tui.screens.pickers import JumpPicker

        def chosen(line: int | None) -> None:
            if line is not None:
                self.history.append((self.doc, self.code.cursor_line))
                self.code.goto(line)

        self.app.push_screen(JumpPicker(targets), chosen)

    # -- search ---------------------------------------------------------------------------

    def search_changed(self, text: str) -> None:
        self.code.search(text)

    def search_done(self, text: str, *, cancelled: bool) -> None:
        if cancelled:
            self.code.search("")
        self.code.focus()
