"""`hloscope capture TARGET -o FILE.hlos`: capture (or load) a program and save it as a bundle."""

from __future__ import annotations

import argparse
from typing import Any

from hloscope.cli._target import TARGET_HELP, add_target_options, obtain


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "capture",
        help="capture a program into a .hlos bundle",
        description="Capture TARGET (trace, lower and compile it, or read it) into a .hlos bundle.",
    )
    p.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="bundle to write (.hlos)")
    add_target_options(p)


def run(args: argparse.Namespace) -> int:
    import os

    cap = obtain(
        args.target, devices=args.devices, module=args.module, target=args.compile_target,
        mesh=args.mesh,
    )
    path = cap.save(args.output)
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in cap.timings_s.items() if k != "record")
    print(
        f"wrote {path} ({os.path.getsize(path):,} bytes): {cap.name}, "
        f"{cap.device_count} device{'s' if cap.device_count != 1 else ''}"
        + (f" on {cap.platform}" if cap.platform else "")
        + (f"; {timings}" if timings else "")
    )
    return 0
