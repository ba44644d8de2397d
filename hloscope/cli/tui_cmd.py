"""`hloscope tui [TARGET ...]` (and `hloscope` alone): the TUI on the default sample or on
TARGETs. Where the TUI is not available (not built yet, or no terminal), prints the summary
of the first target, as `hloscope dump` does."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hloscope.cli._target import TARGET_HELP, add_target_options


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "tui",
        help="explore programs in the terminal UI (the default command)",
        description="Open the TUI on TARGET (default: sample:transformer); two TARGETs diff.",
    )
    p.add_argument("targets", nargs="*", metavar="TARGET", help=TARGET_HELP)
    p.add_argument("--hardware", metavar="NAME", help="hardware for estimates")
    add_target_options(p)


def _tui() -> Any:
    """`hloscope.tui.app.run_app`, or None while the TUI is not part of this build."""
    import importlib

    try:
        app = importlib.import_module("hloscope.tui.app")
    except ModuleNotFoundError as e:
        if e.name in ("hloscope.tui.app", "textual"):
            return None
        raise
    return getattr(app, "run_app", None)


def run(args: argparse.Namespace) -> int:
    run_app = _tui()
    if run_app is not None and sys.stdin.isatty() and sys.stdout.isatty():
        if args.compile_target is not None or args.mesh is not None:
            return _tui_on_target(run_app, args)
        options = {"devices": args.devices, "module": args.module}
        code: int = run_app(tuple(args.targets), hardware=args.hardware, target_options=options)
        return code
    from hloscope import samples
    from hloscope.cli import dump_cmd

    target = args.targets[0] if args.targets else f"sample:{samples.DEFAULT}"
    return dump_cmd.dump(
        target, devices=args.devices, module=args.module, hardware=args.hardware,
        compile_target=args.compile_target, mesh=args.mesh,
    )


def _tui_on_target(run_app: Any, args: argparse.Namespace) -> int:
    """`--target` / `--mesh`: compile each TARGET for it first (a worker process, progress on
    stderr), then open the TUI on the bundles, so the TUI's own loader needs no target logic."""
    import re
    import tempfile
    from pathlib import Path

    from hloscope import samples
    from hloscope.cli._target import obtain

    targets = args.targets or [f"sample:{samples.DEFAULT}"]
    with tempfile.TemporaryDirectory(prefix="hloscope-tui-") as tmp:
        paths = []
        for i, spec in enumerate(targets):
            cap = obtain(spec, devices=args.devices, module=args.module,
                         target=args.compile_target, mesh=args.mesh)
            name = re.sub(r"[^\w.-]", "_", spec)[-60:]
            paths.append(str(cap.save(Path(tmp) / f"{i}-{name}.hlos")))
        code: int = run_app(tuple(paths), hardware=args.hardware, target_options={})
        return code
