"""`hloscope samples`: the sample programs, one line each (name, devices, what it is)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    sub.add_parser(
        "samples",
        help="list the sample programs (TARGET sample:NAME)",
        description="List the sample programs: name, default device count, description.",
    )


def run(args: argparse.Namespace) -> int:
    from hloscope import samples

    names = samples.names()
    width = max(len(n) for n in names)
    for name in names:
        devices = samples.get(name).DEVICES
        mark = " (default)" if name == samples.DEFAULT else ""
        print(f"{name:<{width}}  {devices} dev  {samples.describe(name)}{mark}")
    return 0
