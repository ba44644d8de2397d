"""`hloscope diff A B [--json] [--hardware NAME]`: what changed between two programs.

Exit 0 when they are the same program (names, ids and metadata aside), 1 when they differ,
2 on bad input. `--json` prints one document, schema `hloscope.diff/1`.
`--devices`, `--target` and `--mesh` apply to the targets that run jax (samples, factories);
`--target-a/-b` and `--mesh-a/-b` to one side (one program on two targets); `--module` to
files and dump folders.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import TYPE_CHECKING, Any

from hloscope.cli._target import (
    TARGET_HELP,
    add_side_target_options,
    add_target_options,
    positive_int,
    progress,
)
from hloscope.errors import Error

if TYPE_CHECKING:
    from hloscope.diffing import SideTarget
    from hloscope.passes.diff import DiffReport
    from hloscope.records import Capture

EXIT_SAME = 0
EXIT_DIFFERENT = 1


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "diff",
        help="what changed between two programs, and what it costs",
        description="Compare programs A and B: totals side by side, then the collectives, "
        "kernels, source lines, parameters and memory that explain the change. Exit 0: no "
        "differences; 1: different; 2: bad input. --target-a/--target-b (--mesh-a/--mesh-b) "
        "compile each side for its own target: `hloscope diff sample:transformer "
        "sample:transformer --target-a cpu:4 --target-b cpu:8`.",
    )
    p.add_argument("a", metavar="A", help=TARGET_HELP)
    p.add_argument("b", metavar="B", help="the program to compare with A (same forms)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--hardware", metavar="NAME",
                   help="hardware for both sides' time estimates (default: each side's own)")
    p.add_argument("--top", type=positive_int, default=10, metavar="N",
                   help="rows per section in the text report (default 10)")
    add_target_options(p)
    add_side_target_options(p)


def run(args: argparse.Namespace) -> int:
    if args.hardware is not None:
        from hloscope.hardware import get_hardware

        get_hardware(args.hardware)  # an unknown name fails before any compile
    from hloscope.diffing import cli_flag, compare, side_targets

    # Every side's spec is checked before either side compiles.
    sides = side_targets(args.a, args.b, target=args.compile_target, mesh=args.mesh,
                         target_a=args.target_a, target_b=args.target_b, mesh_a=args.mesh_a,
                         mesh_b=args.mesh_b, devices=args.devices, flag=cli_flag)
    caps = [_obtain_side(tag, spec, args, side)
            for tag, spec, side in zip("AB", (args.a, args.b), sides, strict=True)]
    report = compare(caps[0], caps[1], hardware=args.hardware)
    report = _labelled(report, *(side_label(spec, side)
                                 for spec, side in zip((args.a, args.b), sides, strict=True)))
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), sort_keys=True, indent=2) + "\n")
    else:
        _render(report, args.top)
    return EXIT_SAME if report.identical else EXIT_DIFFERENT


def _obtain_side(tag: str, spec: str, args: argparse.Namespace, side: SideTarget) -> Capture:
    """`_obtain`, with an error naming its side when the side has its own target or mesh
    (both sides are often the same program then, so the spec alone does not say which)."""
    try:
        return _obtain(spec, args, side)
    except Error as e:
        if not side.own:
            raise
        named = copy.copy(e)
        named.message = f"{tag} ({side_label(spec, side)}): {e.message}"
        named.args = (named.message,)
        raise named from None


def _obtain(spec: str, args: argparse.Namespace, side: SideTarget) -> Capture:
    """Capture or load one side; options that do not apply to it (a file has no mesh, a
    sample no module) are left out rather than refused, since they serve the other side
    (`side_targets` already left the shared target out for a file)."""
    from hloscope.targets import capture_target, parse_target

    runs = parse_target(spec).captures
    with progress(spec) as report:
        return capture_target(
            spec,
            devices=args.devices if runs else None,
            module=None if runs else args.module,
            progress=report,
            subprocess_fallback=True,
            compile_target=side.target,
            mesh=side.mesh,
        )


def side_label(spec: str, side: SideTarget) -> str:
    """The side as typed, with its own target or mesh when it has one (both sides may be the
    same program)."""
    parts = [spec]
    if side.own and side.target is not None:
        parts.append(f"on {side.target}")
    if side.own and side.mesh is not None:
        parts.append(f"mesh {side.mesh}")
    return " ".join(parts)


def _labelled(report: DiffReport, a: str, b: str) -> DiffReport:
    """The sides named as the user typed them."""
    import dataclasses

    return dataclasses.replace(report, a=dataclasses.replace(report.a, label=a),
                               b=dataclasses.replace(report.b, label=b))


def _render(report: DiffReport, top: int) -> None:
    """Rich on a terminal (colour unless NO_COLOR); elsewhere plain text, 100 columns (or
    $COLUMNS), no trailing spaces."""
    import io
    import os

    from rich.console import Console

    from hloscope.views.diff import render

    if sys.stdout.isatty():
        render(report, Console(file=sys.stdout, highlight=False), top=top)
        return
    buffer = io.StringIO()
    width = int(os.environ.get("COLUMNS", "0") or 0) or 100
    console = Console(file=buffer, width=width, no_color=True, highlight=False,
                      color_system=None, force_terminal=False)
    render(report, console, top=top)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))
