"""Command palette (ctrl+p): jump to a kernel, an instruction, a collective or a hardware
choice by typing part of its name."""

from __future__ import annotations

from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from hloscope.tui.app import HloscopeApp

# Fuzzy matching costs ~20 µs a candidate; a substring pre-filter and a cap keep a keystroke
# in the palette fast on 100k-instruction programs.
MAX_HITS = 40


class HloscopeCommands(Provider):
    @property
    def hs(self) -> HloscopeApp:
        return cast("HloscopeApp", self.app)

    async def discover(self) -> Hits:
        yield DiscoveryHit("Hardware…", self.hs.action_pick_hardware,
                           help="Choose the hardware estimates use")
        yield DiscoveryHit("Help", self.hs.action_help, help="Keys and what this screen shows")

    async def search(self, query: str) -> Hits:
        q = query.strip().lower()
        if not q:
            return
        matcher = self.matcher(query)
        for label, action, help_text in self._candidates(q):
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), action, help=help_text)

    def _candidates(self, q: str) -> list[tuple[str, Any, str]]:
        out: list[tuple[str, Any, str]] = []
        for source in (self._hardware, self._kernels, self._collectives, self._instructions):
            out.extend(source(q))
            if len(out) >= MAX_HITS:
                break
        return out[:MAX_HITS]

    def _hardware(self, q: str) -> list[tuple[str, Any, str]]:
        app = self.hs
        try:
            from hloscope.hardware import names
        except ImportError:
            return []
        return [
            (f"hardware {name}", partial(app.session.set_hardware, app, name),
             "Estimate on this hardware")
            for name in names()
            if q in f"hardware {name}"
        ]

    def _kernels(self, q: str) -> list[tuple[str, Any, str]]:
        fusion = self.hs.reports.value("fusion")
        if fusion is None:
            return []
        hits = (k.name for k in fusion.kernels if q in k.name.lower())
        return [(f"kernel {n}", partial(self.hs.open_kernel, n), "Open this kernel")
                for n in islice(hits, MAX_HITS)]

    def _collectives(self, q: str) -> list[tuple[str, Any, str]]:
        sharding = self.hs.reports.value("sharding")
        if sharding is None:
            return []
        hits = (c.name for c in sharding.collectives if q in c.name.lower())
        return [(f"collective {n}", partial(self.hs.open_instruction, n),
                 "Show this collective in the HLO text") for n in islice(hits, MAX_HITS)]

    def _instructions(self, q: str) -> list[tuple[str, Any, str]]:
        index = self.hs.reports.value("index")
        if index is None:
            return []
        hits = (n for n in index.instructions if q in n.lower())
        return [(f"instruction {n}", partial(self.hs.open_instruction, n), "Show in the HLO text")
                for n in islice(hits, MAX_HITS)]
