"""Diff speed: two ~100k-instruction modules, a 400-layer unrolled program against the same
program with one change (layer 200's activation is relu instead of gelu).

    python benchmarks/diff.py                  # compiles both once (cached), then times
    python benchmarks/diff.py --layers 100 --profile

The program: value_and_grad of 400 unrolled residual blocks (RMSNorm with a scale, a gated MLP
with a bias, d=64, f=128, batch 16, f32, one CPU device), compiled by XLA in a subprocess, so B
is a real second compile (names after the change differ). Both captures are cached as bundles
in the temp dir (`hloscope-bench/`, outside the repository).

Printed: instruction counts; per side the load, then what `hloscope.diff` computes (parse,
XLA-rule costs and kernels; no StableHLO is read for them) and the other reports
it reads (sharding, roofline, memory; those passes' own costs); the structural matching; the
diff pass over the reports; `hloscope.diff` end to end from the two bundles. Goal: matching
plus the diff pass <= 10 s. Last, what the diff found (the change should be all of it).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CACHE = Path(tempfile.gettempdir()) / "hloscope-bench"

_GEN = r'''
import sys
import jax, jax.numpy as jnp
import hloscope
L, CHANGE, OUT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
D, F, B = 64, 128, 16

def rms_norm(x):
    return x * jax.lax.rsqrt((x * x).mean(-1, keepdims=True) + 1e-5)

def block(p, x, act):
    h = rms_norm(x) * (1.0 + p["scale"])
    return x + (act(h @ p["w1"] + p["b1"]) * jnp.tanh(h @ p["w3"])) @ p["w2"]

def loss(params, x):
    for i, p in enumerate(params["layers"]):
        x = block(p, x, jax.nn.relu if i == CHANGE else jax.nn.gelu)
    return (x * x).mean()

S, f32 = jax.ShapeDtypeStruct, jnp.float32
layer = {"w1": S((D, F), f32), "w2": S((F, D), f32), "w3": S((D, F), f32),
         "scale": S((D,), f32), "b1": S((F,), f32)}
params = {"layers": [dict(layer) for _ in range(L)]}
hloscope.capture(jax.jit(jax.value_and_grad(loss)), params, S((B, D), f32)).save(OUT)
'''


def bundle(layers: int, change: int) -> Path:
    """The capture of the benchmark program, compiled in a subprocess once and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"diff-l{layers}-c{change}.hlos"
    if not path.exists():
        env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
        env.pop("XLA_FLAGS", None)
        t0 = time.perf_counter()
        tmp = path.with_suffix(".tmp.hlos")
        subprocess.run([sys.executable, "-c", _GEN, str(layers), str(change), str(tmp)],
                       check=True, env=env)
        tmp.rename(path)
        print(f"compiled {path.name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


def timed(label: str, fn: Any, times: dict[str, float]) -> Any:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    times[label] = time.perf_counter() - t0
    print(f"  {label}: {times[label]:.3f} s", file=sys.stderr, flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=400)
    ap.add_argument("--profile", action="store_true", help="cProfile the matching and pass")
    args = ap.parse_args()

    import hloscope
    from hloscope.diffing import REPORTS, analysis_for, side_of
    from hloscope.hardware import get_hardware
    from hloscope.passes import diff as diff_pass
    from hloscope.passes.diff_match import match

    path_a = bundle(args.layers, -1)
    path_b = bundle(args.layers, args.layers // 2)
    times: dict[str, float] = {}
    caps = [timed(f"load {s}", lambda p=p: hloscope.load(p), times)  # type: ignore[misc]
            for s, p in (("A", path_a), ("B", path_b))]
    hw = get_hardware("h100-sxm")
    analyses = []
    for side, cap in zip("AB", caps, strict=True):
        # What hloscope.diff reads: parse, cost and kernels ...
        an = analysis_for(cap, hw)
        timed(f"parse, cost, kernels {side}", lambda an=an: an.fusion, times)  # type: ignore[misc]
        analyses.append(an)
        for name in REPORTS[2:]:  # ... and the other reports (REPORTS starts with cost, fusion)
            timed(f"{name} {side}", lambda an=an, name=name: getattr(an, name),  # type: ignore[misc]
                  times)
    sides = [side_of(an) for an in analyses]
    print(f"instructions: A {analyses[0].module.instruction_count:,}, "
          f"B {analyses[1].module.instruction_count:,}")
    prof = cProfile.Profile() if args.profile else None
    if prof:
        prof.enable()
    matching = timed("matching", lambda: match(analyses[0].module, analyses[1].module), times)
    report = timed("diff pass", lambda: diff_pass.run(sides[0], sides[1], matching=matching),
                   times)
    if prof:
        prof.disable()
    gc.collect()
    t0 = time.perf_counter()
    hloscope.diff(path_a, path_b, hardware=hw)
    times["hloscope.diff end to end"] = time.perf_counter() - t0

    width = max(map(len, times))
    for label, seconds in times.items():
        print(f"{label:<{width}}  {seconds:8.3f} s")
    core = times["matching"] + times["diff pass"]
    print(f"{'matching + diff pass':<{width}}  {core:8.3f} s  (goal <= 10 s: "
          f"{'met' if core <= 10 else 'NOT met'})")
    m = report.matching
    assert m is not None
    print(f"matched {len(m.a_to_b):,} ({dict(m.by_stage)}); A only {len(m.unmatched_a)}, "
          f"B only {len(m.unmatched_b)}, changed {len(m.changed)}")
    print("kernels:", {s: len(report.kernels_with(s)) for s in
                       ("added", "removed", "split", "merged", "regrouped", "changed")})
    for k in report.kernels[:6]:
        print(f"  {k.status:<9} {k.what}")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
