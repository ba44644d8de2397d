"""What every command that takes a TARGET shares: its arguments, and capture-or-load with
progress on stderr when stderr is a terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hloscope.records import Capture

TARGET_HELP = (
    "sample:NAME, path/to/file.py:factory, package.module:factory, a .hlos bundle, "
    "an .hlo/.txt HLO file, a .mlir StableHLO file or an XLA dump folder"
)

STAGE_WORDS = {
    "trace": "tracing",
    "lower": "lowering",
    "compile": "compiling",
    "topology": "making the target's devices for",
}


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """`--devices N`, `--module NAME`, `--target SPEC` and `--mesh AXES` (the TARGET
    positional is the command's own)."""
    parser.add_argument(
        "--devices",
        type=positive_int,
        metavar="N",
        help="give the program N fake CPU devices (samples default to their own count)",
    )
    parser.add_argument(
        "--module",
        metavar="NAME",
        help="the module to read from a file or dump folder that holds several (name or number)",
    )
    parser.add_argument(
        "--target",
        dest="compile_target",
        metavar="SPEC",
        help="compile for hardware this machine need not have: tpu-v5e:16x16, tpu-v6e:4x4, "
        "tpu-v4:2x2x2, tpu-v5p:8x8x16 (add ,slices=N), h100x8, a100x8, h200x8, b200x8, cpu:N "
        "(TPU and GPU need the hloscope[tpu] / hloscope[cuda] extras)",
    )
    parser.add_argument(
        "--mesh",
        metavar="AXES",
        help="the program's mesh sizes, e.g. data=16,model=16 (same axis names; must use every "
        "device of --target; alone, it means --target cpu:N)",
    )


def add_side_target_options(parser: argparse.ArgumentParser) -> None:
    """`--target-a/--target-b` and `--mesh-a/--mesh-b`: one side's target or mesh, overriding
    `--target` / `--mesh` for that side (commands that compare A and B)."""
    parser.add_argument(
        "--target-a",
        metavar="SPEC",
        help="compile A for SPEC instead of --target (same forms); with --target-b, one "
        "program on two targets: --target-a cpu:4 --target-b cpu:8",
    )
    parser.add_argument("--target-b", metavar="SPEC",
                        help="compile B for SPEC instead of --target")
    for side in "ab":
        parser.add_argument(
            f"--mesh-{side}",
            metavar="AXES",
            help=f"{side.upper()}'s mesh sizes instead of --mesh (must use every device of "
            f"{side.upper()}'s target; alone, it means --target-{side} cpu:N)",
        )


def has_side_targets(args: argparse.Namespace) -> bool:
    return any(getattr(args, f"{o}_{s}", None) is not None
               for o in ("target", "mesh") for s in "ab")


def obtain(
    spec: str,
    *,
    devices: int | None = None,
    module: str | None = None,
    target: str | None = None,
    mesh: str | None = None,
) -> Capture:
    """Load or capture TARGET; a capture needing more devices than this process's jax has
    runs in a subprocess, and so does one for `--target` hardware."""
    from hloscope.targets import capture_target

    with progress(spec) as report:
        return capture_target(
            spec, devices=devices, module=module, progress=report, subprocess_fallback=True,
            compile_target=target, mesh=mesh,
        )


@contextmanager
def progress(spec: str) -> Iterator[Callable[[str], None] | None]:
    """A stage callback that shows `compiling sample:x  0:00:03` on stderr, only when stderr
    is a terminal (never in pipes or logs). On leaving, a Ctrl-C that jax swallowed during the
    capture stops the command before it writes anything."""
    from hloscope.cli._interrupt import check

    if not sys.stderr.isatty():
        yield None
        check()
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(f"loading {spec}")

    def report(stage: str) -> None:
        bar.update(task, description=f"{STAGE_WORDS.get(stage, stage)} {spec}")

    with bar:
        yield report
    check()
