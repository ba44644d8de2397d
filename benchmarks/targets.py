"""Deviceless target captures against bare jax doing the same compile, side by side.

    python benchmarks/targets.py [--reps N] [--targets tpu-v5e:2x2,h100x8] [--programs mlp]

For each sample x target: hloscope's capture (`hloscope.capture("sample:X", target=T)`: worker
process, topology, trace, lower, compile, record, bundle round trip) against a bare script in a
fresh process that makes the same topology and compiles the same sample (`get_topology_desc` +
trace + lower + compile, what MaxText's train_compile does). Both pay the interpreter, jax and
libtpu / CUDA-plugin start-up; the ratio is median(hloscope) / median(bare). Also prints the
compile time jax reported inside the worker. Needs the tpu / cuda extras; run it by hand on an
otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time

BARE = textwrap.dedent("""
    import sys, time
    import jax
    from hloscope.compile_targets import parse_target
    from hloscope.target_runtime import ActiveTarget, activate, make_devices
    from hloscope import samples

    spec = parse_target(sys.argv[1])
    devices = make_devices(spec)
    with activate(ActiveTarget(spec, tuple(devices), None)), jax.default_device(devices[0]):
        traced = samples.get(sys.argv[2]).program(devices=spec.device_count)
    start = time.perf_counter()
    compiled = traced.lower().compile()
    compiled.as_text()
    print(time.perf_counter() - start)
""")


def bare(target: str, program: str) -> tuple[float, float]:
    from hloscope.compile_targets import parse_target
    from hloscope.remote_compile import worker_env

    env = worker_env(parse_target(target), __import__("pathlib").Path("/tmp"))
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", BARE, target, program], env=env, capture_output=True, text=True,
        check=True,
    ).stdout
    return time.perf_counter() - start, float(out.split()[-1])


def ours(target: str, program: str) -> tuple[float, float]:
    import hloscope

    start = time.perf_counter()
    cap = hloscope.capture(f"sample:{program}", target=target)
    return time.perf_counter() - start, cap.timings_s["compile"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--targets", default="tpu-v5e:2x2,tpu-v5p:4x4x4,tpu-v5e:16x16,h100x8")
    ap.add_argument("--programs", default="mlp,transformer")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"{'program':12} {'target':15} {'hloscope s':>10} {'bare s':>8} {'ratio':>6} "
          f"{'compile s (ours/bare)':>22}")
    for program in args.programs.split(","):
        for target in args.targets.split(","):
            a, b, ca, cb = [], [], [], []
            for i in range(args.reps):
                # Alternate who goes first, so neither always meets a warm page cache.
                for side in ((ours, bare) if i % 2 == 0 else (bare, ours)):
                    wall, compile_s = side(target, program)
                    (a if side is ours else b).append(wall)
                    (ca if side is ours else cb).append(compile_s)
            ma, mb = statistics.median(a), statistics.median(b)
            print(f"{program:12} {target:15} {ma:10.2f} {mb:8.2f} {ma / mb:6.2f} "
                  f"{statistics.median(ca):10.2f} / {statistics.median(cb):.2f}")


if __name__ == "__main__":
    main()
