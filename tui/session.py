"""What the TUI has open: the targets, their captures, the Analysis the screens show, the
hardware estimates use, and (with two targets) the diff. Loading runs in a thread worker.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from hloscope.errors import Error
from hloscope.tui.reports import ReportState, Status, describe_failure

if TYPE_CHECKING:
    from hloscope.analysis import Analysis
    from hloscope.records import Capture
    from hloscope.tui.app import HloscopeApp



def default_target() -> str:
    """`hloscope` with no target opens the default sample."""
    from hloscope import samples

    return f"sample:{samples.DEFAULT}"


class Session:
    def __init__(
        self,
        *,
        targets: tuple[str, ...],
        captures: tuple[Capture, ...] | None,
        hardware_name: str | None,
        target_options: dict[str, Any],
        analyses: tuple[Analysis, ...] | None = None,
    ) -> None:
        self._given = analyses or ()
        if self._given:
            captures = tuple(a.capture for a in self._given)
            hw = self._given[0].hardware
            hardware_name = getattr(hw, "name", None) or hardware_name
        if not targets and not captures:
            targets = (default_target(),)
        self.targets = targets
        self.captures: tuple[Capture, ...] = captures or ()
        self.hardware_name = hardware_name
        self.target_options = target_options
        self.analyses: list[Analysis] = []
        self.side = 0
        """Which capture the single-program screens show (0 = A, 1 = B in a diff)."""
        self.phase = "loading"
        self.progress = ""
        self.error = ""
        self.loaded_s = 0.0
        self._t0 = time.perf_counter()

    @property
    def is_diff(self) -> bool:
        return len(self.targets) == 2 or len(self.captures) == 2

    @property
    def labels(self) -> tuple[str, ...]:
        """How to name each program: its origin, and its mesh when both origins are alike."""
        if not self.captures:
            return self.targets
        names = tuple(c.origin or c.name for c in self.captures)
        if len(set(names)) < len(names):
            names = tuple(
                f"{n} ({c.mesh.describe() if c.mesh else f'{c.device_count} devices'})"
                for n, c in zip(names, self.captures, strict=True)
            )
        return names

    @property
    def capture(self) -> Capture | None:
        return self.captures[self.side] if self.captures else None

    @property
    def analysis(self) -> Analysis | None:
        return self.analyses[self.side] if self.analyses else None

    # -- loading --------------------------------------------------------------------------

    def start(self, app: HloscopeApp) -> None:
        app.run_worker(
            lambda: self._load(app),
            thread=True,
            exclusive=True,
            group="load",
            name="load",
            exit_on_error=False,
        )

    def _say(self, app: HloscopeApp, text: str) -> None:
        def update() -> None:
            self.progress = text
            app.reports.listeners_notify("progress")

        app.call_from_thread(update)

    def _stage(self, app: HloscopeApp, target: str, stage: str) -> None:
        self._say(app, f"{target}: {stage}…")

    def _load(self, app: HloscopeApp) -> None:
        """Worker: targets -> captures, then the hardware (resolving `cpu` may measure this
        machine once, so it stays off the UI thread too)."""
        from hloscope.tui.loading import load_target, resolve_hardware

        captures = list(self.captures)
        try:
            if not captures:
                for target in self.targets:
                    self._say(app, f"opening {target}…")
                    captures.append(
                        load_target(
                            target,
                            options=self.target_options,
                            progress=partial(self._stage, app, target),
                        )
                    )
            self._say(app, "choosing hardware…")
            hardware = ((self._given[0].hardware if self._given else None)
                        or resolve_hardware(self.hardware_name, captures[0]))
        except Exception as exc:  # shown in the UI, never a crash
            _, message = describe_failure(exc)
            detail = "" if isinstance(exc, Error) else "".join(traceback.format_exception(exc))
            app.call_from_thread(self._failed, app, message, detail)
            return
        app.call_from_thread(self._loaded, app, tuple(captures), hardware)

    def _failed(self, app: HloscopeApp, message: str, detail: str) -> None:
        self.phase = "failed"
        self.error = message
        if detail:
            app.load_errors.append(detail)
        app.notify(message, title="could not open", severity="error", timeout=30)
        app.reports.listeners_notify("*")

    def _loaded(self, app: HloscopeApp, captures: tuple[Capture, ...], hardware: Any) -> None:
        import hloscope

        self.captures = captures
        self.loaded_s = time.perf_counter() - self._t0
        self.hardware_name = getattr(hardware, "name", None) or self.hardware_name
        # Given analyses keep their reports; one without a named hardware gets the one
        # chosen here, so every screen (the per-line estimates too) uses the same device.
        self.analyses = ([a if a.hardware_chosen and a.hardware is hardware
                          else a.with_hardware(hardware) for a in self._given] if self._given
                         else [hloscope.analyze(c, hardware=hardware) for c in captures])
        self.phase = "ready"
        self.progress = ""
        if self.is_diff:
            app.reports.compute["diff"] = (self._diff_fn(), True)
        app.reports.set_analysis(self.analyses[self.side])

    def _diff_fn(self) -> Callable[[Analysis], Any]:
        def run(_: Analysis) -> Any:
            import hloscope

            # The session's analyses (same hardware object): their reports are shared with
            # the other screens rather than computed again.
            a, b = self.analyses
            return hloscope.diff(a, b, hardware=a.hardware)

        return run

    # -- switching ------------------------------------------------------------------------

    def set_hardware(self, app: HloscopeApp, name: str) -> None:
        if not self.analyses or name == self.hardware_name:
            return
        app.run_worker(
            lambda: self._switch_hardware(app, name),
            thread=True,
            exclusive=True,
            group="hardware",
            name="hardware",
            exit_on_error=False,
        )

    def _switch_hardware(self, app: HloscopeApp, name: str) -> None:
        from hloscope.tui.loading import resolve_hardware

        try:
            hardware = resolve_hardware(name, self.captures[0])
        except Exception as exc:  # shown in the UI, never a crash
            _, message = describe_failure(exc)
            app.call_from_thread(app.notify, message, severity="error")
            return
        app.call_from_thread(self._hardware_ready, app, hardware)

    def _hardware_ready(self, app: HloscopeApp, hardware: Any) -> None:
        self.analyses = [a.with_hardware(hardware) for a in self.analyses]
        self.hardware_name = hardware.name
        app.reports.set_analysis(
            self.analyses[self.side], keep=app.reports.hardware_independent()
        )
        app.notify(f"estimates now on {hardware.name}", timeout=3)

    def set_side(self, app: HloscopeApp, side: int) -> None:
        if side == self.side or side >= len(self.analyses):
            return
        self.side = side
        # The diff is the same whichever side the other screens show.
        app.reports.set_analysis(self.analyses[side], keep=("diff",))

    def load_state(self) -> ReportState:
        if self.phase == "failed":
            return ReportState(Status.FAILED, message=self.error)
        if self.phase == "loading":
            return ReportState(Status.PENDING,
                               message=f"loading {self.progress or ', '.join(self.labels)}")
        return ReportState(Status.READY)

