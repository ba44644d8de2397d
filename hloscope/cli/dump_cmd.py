"""`hloscope dump TARGET [--view NAME] [--json]`: a report on a program, as text or JSON.

The summary is always part of the JSON document (schema `hloscope.dump/1`, keys sorted);
another `--view` adds its own keys. Views live in `hloscope.views` (see its registry).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from hloscope.cli._target import TARGET_HELP, add_target_options, obtain, positive_int
from hloscope.errors import UsageError
from hloscope.views import VIEWS, ViewOptions, load_view


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "dump",
        help="print a report on a program (text, or --json)",
        description="Print a report on TARGET: the summary, or another --view.",
    )
    p.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    p.add_argument("--view", default="summary", choices=list(VIEWS), help="what to report")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--hardware", metavar="NAME", help="hardware for estimates (roofline)")
    p.add_argument("--top", type=positive_int, default=20, metavar="N",
                   help="rows in ranked tables (default 20)")
    add_target_options(p)


def run(args: argparse.Namespace) -> int:
    return dump(
        args.target,
        view=args.view,
        as_json=args.json,
        hardware=args.hardware,
        top=args.top,
        devices=args.devices,
        module=args.module,
        compile_target=args.compile_target,
        mesh=args.mesh,
    )


def dump(
    target: str,
    *,
    view: str = "summary",
    as_json: bool = False,
    hardware: str | None = None,
    top: int = 20,
    devices: int | None = None,
    module: str | None = None,
    compile_target: str | None = None,
    mesh: str | None = None,
) -> int:
    """Print TARGET's report for `view` on stdout; returns the exit code."""
    summary = _view("summary")
    chosen = _view(view)  # before capturing: an unavailable view should not cost a compile
    cap = obtain(target, devices=devices, module=module, target=compile_target, mesh=mesh)
    from hloscope.analysis import analyze

    opts = ViewOptions(top=top, hardware=hardware)
    with _available(view):
        analysis = analyze(cap, hardware=hardware)
        if as_json:
            doc = summary.to_json(analysis, opts)
            if chosen is not summary:
                doc.update(chosen.to_json(analysis, opts))
            doc["view"] = view
            sys.stdout.write(json.dumps(doc, sort_keys=True, indent=2) + "\n")
        else:
            _render(chosen, analysis, opts)
    return 0


def _view(name: str) -> ModuleType:
    with _available(name):
        view = load_view(name)
    return view


@contextmanager
def _available(view: str) -> Iterator[None]:
    """Turns a missing hloscope module (a view or pass not in this build yet) into one line."""
    try:
        yield
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("hloscope"):
            raise
        raise UsageError(
            f"the {view!r} view is not available in this build ({e.name} is missing)"
        ) from e


def _render(view: ModuleType, analysis: Any, opts: ViewOptions) -> None:
    """Rich on a terminal (colour unless NO_COLOR); plain text elsewhere: 100 columns (or
    $COLUMNS), no colour codes, no trailing spaces."""
    import io
    import os

    from rich.console import Console

    if sys.stdout.isatty():
        view.render(analysis, Console(file=sys.stdout, highlight=False), opts)
        return
    buffer = io.StringIO()
    width = int(os.environ.get("COLUMNS", "0") or 0) or 100
    console = Console(file=buffer, width=width, no_color=True, highlight=False,
                      color_system=None, force_terminal=False)
    view.render(analysis, console, opts)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))
