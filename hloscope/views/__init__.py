"""Text and JSON renderings of reports for the CLI (`hloscope dump --view NAME`).

A view module defines:
    to_json(analysis: Analysis, opts: ViewOptions) -> dict   # merged into the dump document
    render(analysis: Analysis, console: rich.console.Console, opts: ViewOptions) -> None

Views never compute figures: they read the reports on `Analysis`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

# view name -> module. The default view is "summary".
VIEWS: dict[str, str] = {
    "summary": "hloscope.views.summary",
    "ops": "hloscope.views.ops",
    "fusions": "hloscope.views.fusions",
    "roofline": "hloscope.views.roofline",
    "source": "hloscope.views.source",
    "collectives": "hloscope.views.collectives",
    "devices": "hloscope.views.devices",
    "sharding": "hloscope.views.sharding",
    "memory": "hloscope.views.memory",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ViewOptions:
    top: int = 20
    """Rows to show in ranked tables."""
    hardware: str | None = None
    """Hardware name given on the command line, if any."""


def load_view(name: str) -> ModuleType:
    return importlib.import_module(VIEWS[name])
