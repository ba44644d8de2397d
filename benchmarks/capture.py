"""hloscope.capture against bare jax trace + lower + compile of the same program, in one run.

    python benchmarks/capture.py [--reps N] [--only transformer|unrolled48]

Programs: the `transformer` sample (8 fake CPU devices, FSDP x TP) and a 48-layer unrolled
transformer's value_and_grad (d_model 512, 8 heads, d_ff 2048, vocab 1024, batch 8 x 128, 1
device; the Q7 model of JAX-XLA-NOTES). Each repetition builds fresh functions and clears jax's
caches, so neither side reuses the other's trace, lowering or executable; the two sides
alternate which goes first. The ratio is median(hloscope) / median(bare jax); goal <= 1.10.
Also prints what the capture's extra work costs (`record`) and the bundle's size and save/load
times. Run it by hand on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GOAL = 1.10


def _programs() -> dict[str, Callable[[], Any]]:
    """name -> a thunk making a fresh `jax.stages.Traced` (new function, new jit): both sides
    call it inside their timing, so both pay the trace."""
    import jax

    from hloscope import samples
    from hloscope.samples import _blocks

    big = _blocks.Config(
        vocab=1024, d_model=512, heads=8, head_dim=64, d_ff=2048, seq=128, batch=8, layers=48
    )

    def transformer() -> Any:
        return samples.get("transformer").program()  # a fresh jit of a fresh closure

    def unrolled48() -> Any:
        fn = jax.jit(jax.value_and_grad(_blocks.unrolled_loss(None)))
        return fn.trace(_blocks.params(big, None), *_blocks.batch(big, None))

    return {"transformer": transformer, "unrolled48": unrolled48}


def _bare(make: Callable[[], Any]) -> float:
    start = time.perf_counter()
    make().lower().compile()
    return time.perf_counter() - start


def _hloscope(make: Callable[[], Any], keep: list[Any]) -> float:
    import hloscope

    start = time.perf_counter()
    cap = hloscope.capture(make())
    elapsed = time.perf_counter() - start
    keep[:] = [cap]
    return elapsed


def run(name: str, make: Callable[[], Any], reps: int) -> float:
    import jax

    bare: list[float] = []
    ours: list[float] = []
    last: list[Any] = []
    for rep in range(reps):
        order = ("bare", "ours") if rep % 2 == 0 else ("ours", "bare")
        for side in order:
            jax.clear_caches()
            if side == "bare":
                bare.append(_bare(make))
            else:
                ours.append(_hloscope(make, last))
    ratio = statistics.median(ours) / statistics.median(bare)
    cap = last[0]
    print(f"{name}: bare jax {_fmt(bare)}  hloscope {_fmt(ours)}  ratio {ratio:.3f}x "
          f"({'ok' if ratio <= GOAL else 'OVER'} goal {GOAL:.2f}x)")
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in cap.timings_s.items())
    print(f"  last capture: {stages}")
    _bundle(cap)
    return ratio


def _bundle(cap: Any) -> None:
    import hloscope

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.hlos"
        start = time.perf_counter()
        cap.save(path)
        saved = time.perf_counter() - start
        start = time.perf_counter()
        back = hloscope.load(path)
        loaded = time.perf_counter() - start
        assert back == cap
        texts = sum(len((getattr(cap, p) or "").encode()) for p in ("stablehlo", "hlo", "jaxpr"))
        print(f"  bundle: {os.path.getsize(path):,} bytes ({texts:,} bytes of text), "
              f"save {saved:.3f} s, load {loaded:.3f} s")


def _fmt(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} s (min {min(times):.2f}, n={len(times)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions per side (default 5)")
    parser.add_argument("--only", choices=("transformer", "unrolled48"))
    args = parser.parse_args()
    from hloscope.capture import ensure_devices

    ensure_devices(8)  # the transformer sample's mesh, before jax's backend starts
    programs = _programs()
    worst = 0.0
    for name, make in programs.items():
        if args.only in (None, name):
            make().lower().compile()  # warm-up: imports and backend start-up, not measured
            worst = max(worst, run(name, make, args.reps))
    print(f"worst ratio {worst:.3f}x (goal <= {GOAL:.2f}x)")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
