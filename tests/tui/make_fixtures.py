"""Writes the fixed bundles the TUI tests open (`tests/tui/data/*.hlos`).

    python tests/tui/make_fixtures.py

Run it again only when the bundle format or the samples change, then review the snapshot
diffs (`pytest tests/tui --snapshot-update`). Absolute paths of this checkout are rewritten to
repo-relative ones, so the rendered screens do not depend on where the repo lives (and the
kernel screen can show the sample's Python file from the repo root).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = HERE / "data"

# (file name, target, devices): the default sample, and the same program on half the devices
# (data=2 instead of 4) for the diff view.
FIXTURES = (
    ("transformer.hlos", "sample:transformer", 8),
    ("transformer_4dev.hlos", "sample:transformer", 4),
)


def relative(text: str | None) -> str | None:
    if text is None:
        return None
    return text.replace(str(REPO) + os.sep, "")


def main() -> int:
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from hloscope.targets import capture_target

    DATA.mkdir(parents=True, exist_ok=True)
    for name, target, devices in FIXTURES:
        cap = capture_target(target, devices=devices)
        cap = dataclasses.replace(
            cap,
            hlo=relative(cap.hlo),
            stablehlo=relative(cap.stablehlo),
            hlo_before_optimizations=relative(cap.hlo_before_optimizations),
            jaxpr=relative(cap.jaxpr),
            timings_s={},
        )
        path = DATA / name
        cap.save(path)
        print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
