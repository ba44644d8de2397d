"""`hloscope tui [TARGET ...]` (and `hloscope` alone): the TUI on the default sample or on
TARGETs. Where the TUI is not available (not built yet, or no terminal), prints the summary
of the first target, as `hloscope dump` does."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from hloscope.cli._target import (
    TARGET_HELP,
    add_side_target_options,
    add_target_options,
    has_side_targets,
)

if TYPE_CHECKING:
    from hloscope.diffing import SideTarget


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "tui",
        help="explore programs in the terminal UI (the default command)",
        description="Open the TUI on TARGET (default: sample:transformer); two TARGETs diff "
        "(--target-a/--target-b, --mesh-a/--mesh-b: each side on its own target).",
    )
    p.add_argument("targets", nargs="*", metavar="TARGET", help=TARGET_HELP)
    p.add_argument("--hardware", metavar="NAME", help="hardware for estimates")
    add_target_options(p)
    add_side_target_options(p)


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
    sides = _side_targets(args)
    run_app = _tui()
    if run_app is not None and sys.stdin.isatty() and sys.stdout.isatty():
        if sides is not None:
            return _tui_on_target(run_app, args, sides)
        options = {"devices": args.devices, "module": args.module}
        code: int = run_app(tuple(args.targets), hardware=args.hardware, target_options=options)
        return code
    from hloscope import samples
    from hloscope.cli import dump_cmd

    target = args.targets[0] if args.targets else f"sample:{samples.DEFAULT}"
    # No TUI: the summary of the first TARGET, compiled as it would have been for the TUI.
    first = sides[0] if sides else None
    return dump_cmd.dump(
        target, devices=args.devices, module=args.module, hardware=args.hardware,
        compile_target=first.target if first else None, mesh=first.mesh if first else None,
    )


def _side_targets(args: argparse.Namespace) -> list[SideTarget] | None:
    """Each TARGET's `--target` / `--mesh` (and, for two, `--target-a/-b`, `--mesh-a/-b`),
    checked before anything compiles; None when no target option is given."""
    if not has_side_targets(args) and args.compile_target is None and args.mesh is None:
        return None
    from hloscope.diffing import SideTarget, cli_flag, side_targets
    from hloscope.errors import UsageError

    if has_side_targets(args):
        if len(args.targets) != 2:
            raise UsageError("--target-a/--target-b and --mesh-a/--mesh-b need two TARGETs "
                             f"(A and B), got {len(args.targets)}")
        return list(side_targets(
            *args.targets, target=args.compile_target, mesh=args.mesh, target_a=args.target_a,
            target_b=args.target_b, mesh_a=args.mesh_a, mesh_b=args.mesh_b,
            devices=args.devices, flag=cli_flag))
    # As before: the shared options compile every TARGET (files refuse them).
    return [SideTarget(target=args.compile_target, mesh=args.mesh) for _ in args.targets or [0]]


def _tui_on_target(run_app: Any, args: argparse.Namespace, sides: list[SideTarget]) -> int:
    """`--target` / `--mesh` (or a side's own): compile each TARGET for it first (a worker
    process, progress on stderr), then open the TUI on the bundles, so the TUI's own loader
    needs no target logic."""
    import re
    import tempfile
    from pathlib import Path

    from hloscope import samples
    from hloscope.cli._target import obtain

    targets = args.targets or [f"sample:{samples.DEFAULT}"]
    with tempfile.TemporaryDirectory(prefix="hloscope-tui-") as tmp:
        paths = []
        for i, (spec, side) in enumerate(zip(targets, sides, strict=True)):
            cap = obtain(spec, devices=args.devices, module=args.module,
                         target=side.target, mesh=side.mesh)
            name = re.sub(r"[^\w.-]", "_", spec)[-60:]
            paths.append(str(cap.save(Path(tmp) / f"{i}-{name}.hlos")))
        code: int = run_app(tuple(paths), hardware=args.hardware, target_options={})
        return code
