"""Cost and fusion pass speed, beside XLA's own HloCostAnalysis on the same text, in one run.

    python benchmarks/cost.py              # largest corpus modules + a synthetic 100k module
    python benchmarks/cost.py --profile synthetic100k

For each input: our parse, `passes.cost.run`, `passes.fusion.run` (no StableHLO), and XLA's
`hlo_module_from_text` + `hlo_module_cost_analysis` (C++), best of --repeat. The ratio is
XLA's analysis time over ours (>= 1: we are faster). Goal: cost + fusion on a 100k-instruction
module in a few seconds (the TUI opens such programs in <= 2 s, with these passes in workers).

synthetic100k: an entry chaining 12,500 loop fusions (each a fused computation of
parameter, add, multiply, exponential, select over f32[256,256]) with a dot every 50 steps:
about 100k instructions, every one reachable. Generated text, not from jax.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import pstats
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("HLOSCOPE_CORPUS", REPO.parent / "shared" / "corpus"))


def synthetic(fusions: int = 12_500) -> str:
    """HLO text with ~8 instructions per fusion step (see the module docstring)."""
    t = "f32[256,256]{1,0}"
    comps = []
    body = [f"  %a = {t} parameter(0)", f"  %x0 = {t} parameter(1)",
            f"  %s = {t} add(%a, %x0)", f"  %m = {t} multiply(%s, %a)",
            f"  %e = {t} exponential(%m)", "  %c = f32[] constant(0)",
            f"  %z = {t} broadcast(%c), dimensions={{}}",
            "  %p = pred[256,256]{1,0} compare(%e, %z), "
            "direction=GT", f"  ROOT %r = {t} select(%p, %e, %s)"]
    entry = [f"  %in = {t} parameter(0)", f"  %w = {t} parameter(1)"]
    prev = "%in"
    for i in range(fusions):
        comps.append(f"%f{i} (a: f32[256,256], x0: f32[256,256]) -> f32[256,256] {{\n"
                     + "\n".join(line.replace("%", f"%f{i}_") for line in body) + "\n}\n")
        entry.append(f"  %k{i} = {t} fusion({prev}, %w), kind=kLoop, calls=%f{i}")
        prev = f"%k{i}"
        if i % 50 == 49:
            entry.append(f"  %d{i} = {t} dot({prev}, %w), lhs_contracting_dims={{1}}, "
                         "rhs_contracting_dims={0}")
            prev = f"%d{i}"
    entry.append(f"  ROOT %out = {t} copy({prev})")
    text = "HloModule synthetic100k\n\n" + "\n".join(comps)
    text += "\nENTRY %main (in: f32[256,256], w: f32[256,256]) -> f32[256,256] {\n"
    return text + "\n".join(entry) + "\n}\n"


def inputs(largest: int) -> dict[str, Callable[[], str]]:
    out: dict[str, Callable[[], str]] = {}
    rows = []
    with open(CORPUS / "hlo" / "MANIFEST.tsv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["xla_parses"] == "yes"]
    rows.sort(key=lambda r: -int(r["bytes"]))
    for r in rows[:largest]:
        path = CORPUS / "hlo" / r["local_name"]
        out[path.stem.split("__")[-1]] = path.read_text
    out["synthetic100k"] = synthetic
    return out


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--largest", type=int, default=3, help="largest corpus modules to time")
    ap.add_argument("--profile", metavar="INPUT", help="cProfile cost+fusion on one input")
    args = ap.parse_args()

    from hloscope import _jaxapi
    from hloscope.hlo import parse
    from hloscope.passes import cost, fusion

    print(f"{'input':<28}{'instrs':>9}{'parse':>9}{'cost':>9}{'fusion':>9}"
          f"{'XLA parse':>11}{'XLA cost':>10}{'ratio':>8}")
    for name, load in inputs(args.largest).items():
        if args.profile and name != args.profile:
            continue
        text = load()
        t_parse, module = best(lambda t=text: parse(t), 1)
        t_cost, report = best(lambda m=module: cost.run(m), args.repeat)
        t_fusion, _ = best(lambda m=module, r=report: fusion.run(m, r), args.repeat)
        t_xparse, xmod = best(lambda t=text: _jaxapi.hlo_module_from_text(t), args.repeat)
        t_xcost, xla = best(lambda x=xmod: _jaxapi.hlo_module_cost_analysis(x), args.repeat)
        assert abs(report.total.flops - xla.get("flops", 0.0)) <= 1e-4 * max(
            1.0, abs(xla.get("flops", 0.0))), (name, report.total, xla)
        print(f"{name[:27]:<28}{module.instruction_count:>9,}{t_parse:>8.2f}s{t_cost:>8.2f}s"
              f"{t_fusion:>8.2f}s{t_xparse:>10.2f}s{t_xcost:>9.3f}s"
              f"{t_xcost / t_cost:>8.2f}")
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            fusion.run(module, cost.run(module))
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
