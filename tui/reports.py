"""The TUI's one door to the analyses: reports are computed on demand, one at a time, in a
thread worker, and every screen hears when one is ready (or failed, or is not available).

Screens never call `Analysis` properties on the UI thread: a 100k-instruction parse takes
seconds. They ask `ReportService.request(...)`, read `state(...)`, and redraw on `changed`.
"""

from __future__ import annotations

import gc
import re
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hloscope.errors import Error, MissingPartError

if TYPE_CHECKING:
    from textual.app import App

    from hloscope.analysis import Analysis


class Status(StrEnum):
    IDLE = "idle"
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class ReportState:
    status: Status
    value: Any = None
    message: str = ""
    """Why it failed or is unavailable, one line."""
    elapsed_s: float = 0.0

    @property
    def ready(self) -> bool:
        return self.status is Status.READY


# Report name -> (how to compute it from an Analysis, whether it depends on the hardware).
# `index` is the TUI's own navigation index (names -> lines, users); it holds no figures.
def _attr(name: str) -> Callable[[Analysis], Any]:
    return lambda a: getattr(a, name)


def _index(a: Analysis) -> Any:
    from hloscope.tui.index import build_index

    return build_index(a.module)


def _stablehlo_index(a: Analysis) -> Any:
    from hloscope.tui.mlir_index import op_lines

    return op_lines(a.stablehlo, (a.capture.stablehlo or "").splitlines())


def _stablehlo_lines(a: Analysis) -> Any:
    return tuple((a.capture.stablehlo or "").splitlines())


def _hlo_lines(a: Analysis) -> Any:
    return tuple((a.capture.hlo or "").splitlines())


COMPUTE: dict[str, tuple[Callable[[Analysis], Any], bool]] = {
    "module": (_attr("module"), False),
    "stablehlo": (_attr("stablehlo"), False),
    "stablehlo_facts": (lambda a: a.stablehlo.facts(), False),
    "cost": (_attr("cost"), False),
    "fusion": (_attr("fusion"), False),
    # Kernels / lines -> StableHLO ops: reads the StableHLO (seconds on a large program), so
    # only the screens that list those ops ask for it, after what they show first.
    "stablehlo_links": (_attr("stablehlo_links"), False),
    "memory": (_attr("memory"), False),
    "roofline": (_attr("roofline"), True),
    "sharding": (_attr("sharding"), True),
    "devices": (_attr("devices"), True),
    "source": (_attr("source"), True),
    "index": (_index, False),
    "stablehlo_index": (_stablehlo_index, False),
    "hlo_lines": (_hlo_lines, False),
    "stablehlo_lines": (_stablehlo_lines, False),
}


UNKNOWN = {"diff": "the diff needs two targets: hloscope tui A B"}


def describe_failure(exc: BaseException) -> tuple[Status, str]:
    """Sort an exception into 'not available' (a part not built yet, or absent from this
    capture) and 'failed' (a real error, shown to the user with its one line)."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("hloscope"):
        return Status.UNAVAILABLE, f"not available yet: {exc.name} is not built"
    if isinstance(exc, ImportError) and "hloscope" in str(exc):
        m = re.search(r"cannot import name '(\w+)' from '([\w.]+)'", str(exc))
        what = f"{m.group(2)}.{m.group(1)}" if m else str(exc)
        return Status.UNAVAILABLE, f"not available yet: {what} is not built"
    if isinstance(exc, MissingPartError):
        return Status.UNAVAILABLE, exc.message
    if isinstance(exc, Error):
        return Status.FAILED, exc.message
    return Status.FAILED, f"internal error: {type(exc).__name__}: {exc}"


class ReportService:
    """Computes reports of one Analysis in a single background thread, most urgent first.

    One thread, not one per report: the machine may have 2 cores and the work is Python, so
    parallel threads would only contend for the GIL and delay the report the user waits for.
    """

    def __init__(self, app: App[Any], analysis: Analysis | None = None) -> None:
        self.app = app
        self.analysis = analysis
        self._states: dict[str, ReportState] = {}
        self._queue: deque[str] = deque()
        self._lock = threading.Lock()
        self._running = False
        self._generation = 0
        self.compute: dict[str, tuple[Callable[[Analysis], Any], bool]] = dict(COMPUTE)
        """Name -> (function of the Analysis, hardware-dependent). The session adds `diff`."""
        self.listeners: list[Callable[[str], None]] = []
        self.errors: list[str] = []
        """Internal errors seen, with tracebacks, for the error panel."""

    # -- queries ------------------------------------------------------------------------

    def state(self, name: str) -> ReportState:
        if self.analysis is None:
            return ReportState(Status.PENDING, message="loading…")
        if name not in self.compute:
            return ReportState(Status.UNAVAILABLE, message=UNKNOWN.get(name, f"no {name} here"))
        return self._states.get(name, ReportState(Status.IDLE))

    def value(self, name: str) -> Any:
        """The report when ready, else None (no computing)."""
        st = self.state(name)
        return st.value if st.ready else None

    def pending(self) -> tuple[str, ...]:
        with self._lock:
            queued = list(self._queue)
        busy = [n for n, s in self._states.items() if s.status is Status.PENDING]
        return tuple(dict.fromkeys(busy + queued))

    # -- changes ------------------------------------------------------------------------

    def set_analysis(self, analysis: Analysis, *, keep: tuple[str, ...] = ()) -> None:
        """Switch to another Analysis (new capture, or other hardware). Reports named in `keep`
        (hardware-independent ones) carry over when already ready."""
        with self._lock:
            self._generation += 1
            kept = {n: s for n, s in self._states.items() if n in keep and s.ready}
            self._states = kept
            self._queue.clear()
        self.analysis = analysis
        self.listeners_notify("*")

    def hardware_independent(self) -> tuple[str, ...]:
        return tuple(n for n, (_, hw) in self.compute.items() if not hw)

    def request(self, *names: str, urgent: bool = False) -> None:
        """Ask for reports; already ready or queued ones are left alone."""
        if self.analysis is None:
            return
        start = False
        with self._lock:
            for name in names:
                if name not in self.compute:
                    continue
                st = self._states.get(name)
                if st is not None and st.status is not Status.IDLE:
                    if urgent and name in self._queue:
                        self._queue.remove(name)
                        self._queue.appendleft(name)
                    continue
                self._states[name] = ReportState(Status.PENDING)
                if urgent:
                    self._queue.appendleft(name)
                else:
                    self._queue.append(name)
            if self._queue and not self._running:
                self._running = True
                start = True
        if start:
            self.app.run_worker(
                self._drain, thread=True, name="analysis", group="analysis", exit_on_error=False
            )

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue or self.analysis is None:
                    self._running = False
                    return
                name = self._queue.popleft()
                generation = self._generation
                analysis = self.analysis
            state = self._compute(name, analysis, generation)
            if state is not None:
                self._post(name, state)

    def _compute(self, name: str, analysis: Analysis, generation: int) -> ReportState | None:
        fn, _ = self.compute[name]
        t0 = time.perf_counter()
        try:
            value = fn(analysis)
            state = ReportState(Status.READY, value, elapsed_s=time.perf_counter() - t0)
            # Reports live as long as the session: move them out of the collector's reach.
            # A full collection over a 100k-instruction IR pauses the UI for 100+ ms.
            gc.freeze()
        except Exception as exc:  # shown in the UI, never a crash
            status, message = describe_failure(exc)
            if status is Status.FAILED and not isinstance(exc, Error):
                self.errors.append(
                    f"{name}: " + "".join(traceback.format_exception(exc)).rstrip()
                )
            state = ReportState(status, message=message, elapsed_s=time.perf_counter() - t0)
        with self._lock:
            if generation != self._generation:
                return None  # the analysis changed while we worked: drop the stale result
            self._states[name] = state
        return state

    def _post(self, name: str, state: ReportState) -> None:
        try:
            self.app.call_from_thread(self._deliver, name, state)
        except RuntimeError:
            # App already closed (quit while computing): nothing to tell.
            pass

    def _deliver(self, name: str, state: ReportState) -> None:
        if state.status is Status.FAILED:
            self.app.notify(f"{name}: {state.message}", title="analysis failed", severity="error")
        self.listeners_notify(name)

    def listeners_notify(self, name: str) -> None:
        for listener in list(self.listeners):
            listener(name)
