"""Memory pass speed: the live-range model on real and large modules, beside our parse and XLA's.

    python benchmarks/memory.py               # best of 3
    python benchmarks/memory.py --repeat 5 --profile big

Inputs
- the six samples (optimized HLO compiled here, fresh process state);
- transformer48: benchmarks/parse.py's 48-layer unrolled transformer grad (about 25k
  instructions, cached in the temp dir);
- big: transformer48 four times in one module: each copy's ENTRY becomes a computation that a
  new ENTRY `call`s (calls are flattened, so every copy is walked).
- flat100k: a synthetic scheduled module whose ENTRY alone holds about 100k instructions (the
  pass's work grows with entry + loop-body steps, not with fusion bodies).

For each: instructions, flattened steps, buffers; seconds of our parse, of the memory pass
(`passes.memory.run`, XLA figures off), of XLA's `hlo_module_from_text` parse (the yardstick:
XLA has no standalone live-range API); and memory-pass seconds per 100k instructions.
Goal: linear; a 100k-instruction module in about 2 s (the TUI opens such programs in 2 s).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from parse import transformer_hlo  # noqa: E402  (the sibling benchmark's cached compile)

_ENTRY_RE = re.compile(r"^ENTRY %(\S+) ", re.M)
_NAME_RE = re.compile(r"%([A-Za-z_][A-Za-z0-9_.\-]*)")


def best_time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def called_copies(text: str, copies: int) -> str:
    """`text` with its entry computation copied `copies` times (names suffixed), each copy a
    plain computation, and a new ENTRY that calls every copy with its own parameters."""
    from hloscope.hlo import parse
    from hloscope.hlo.shapes import format_shape

    module = parse(text)
    entry = module.entry_computation
    first = text.index("\n%") + 1
    header, body = text[:first], text[first:]
    header = re.sub(r", input_output_alias=\{[^}]*\}[^,]*\}", "", header)
    parts = [header]
    for k in range(copies):
        part = _NAME_RE.sub(lambda m, k=k: f"%{m.group(1)}_c{k}", body)  # type: ignore[misc]
        parts.append(part.replace("\nENTRY %", "\n%").removeprefix("ENTRY "))
    params = [entry.by_name[p] for p in entry.parameters]
    sig = ", ".join(f"{p.name}: {format_shape(p.shape, layout=False)}" for p in params)
    root = format_shape(entry.root_instruction.shape)
    lines = [f"\nENTRY %bench_main ({sig}) -> ({', '.join([root] * copies)}) {{"]
    lines += [f"  %{p.name} = {format_shape(p.shape)} parameter({i})"
              for i, p in enumerate(params)]
    args = ", ".join(f"%{p.name}" for p in params)
    lines += [f"  %call_{k} = {root} call({args}), to_apply=%{entry.name}_c{k}"
              for k in range(copies)]
    calls = ", ".join(f"%call_{k}" for k in range(copies))
    lines.append(f"  ROOT %out = ({', '.join([root] * copies)}) tuple({calls})\n}}\n")
    return "".join(parts) + "\n".join(lines)


def flat(steps: int) -> str:
    """A scheduled module whose ENTRY alone has `steps` instructions: elementwise ops, dots,
    tuples and get-tuple-elements over 256x256 arrays, each op reading the previous result and
    one from 37 steps back (so many temporaries overlap)."""
    t = "f32[256,256]{1,0}"
    lines = ["HloModule flat, is_scheduled=true\n", "ENTRY %main (p0: f32[256,256]) -> "
             "f32[256,256] {", f"  %v0 = {t} parameter(0)"]
    ops = ("add", "multiply", "dot", "tuple", "subtract", "maximum")
    n = 1
    while n < steps - 1:
        op = ops[n % len(ops)]
        a, b = f"%v{n - 1}", f"%v{max(0, n - 37)}"
        if op == "dot":
            lines.append(f"  %v{n} = {t} dot({a}, {b}), lhs_contracting_dims={{1}}, "
                         "rhs_contracting_dims={0}")
        elif op == "tuple":
            lines.append(f"  %t{n} = ({t}, {t}) tuple({a}, {b})")
            lines.append(f"  %v{n} = {t} get-tuple-element(%t{n}), index=1")
        else:
            lines.append(f"  %v{n} = {t} {op}({a}, {b})")
        n += 1
    lines.append(f"  ROOT %out = {t} negate(%v{n - 1})\n}}\n")
    return "\n".join(lines)


def sample_hlo(name: str) -> str:
    from hloscope import samples

    return str(samples.get(name).program().lower().compile().as_text())


def inputs() -> list[tuple[str, str]]:
    from hloscope import samples

    out = [(n, sample_hlo(n)) for n in samples.names()]
    t48 = transformer_hlo(48)
    out.append(("transformer48", t48))
    out.append(("big", called_copies(t48, 4)))
    out.append(("flat100k", flat(100_000)))
    return out


def measure(name: str, text: str, repeat: int) -> None:
    from hloscope._jaxapi import hlo_module_from_text
    from hloscope.hlo import parse
    from hloscope.passes import liveness, memory

    module = parse(text)
    live = liveness.build(module)
    parse_s = best_time(lambda: parse(text), repeat)
    pass_s = best_time(lambda: memory.run(module, hardware=[]), repeat)
    xla_s = best_time(lambda: hlo_module_from_text(text), repeat)
    n = module.instruction_count
    print(f"{name:16} {n:8d} {len(live.sequence):8d} {len(live.buffers):8d} "
          f"{parse_s:8.3f} {pass_s:8.3f} {xla_s:8.3f} {pass_s / n * 1e5:9.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", metavar="INPUT", help="cProfile the memory pass on one input")
    args = ap.parse_args()
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
    items = inputs()
    if args.profile:
        from hloscope.hlo import parse

        module = parse(dict(items)[args.profile])
        cProfile.runctx("memory.run(module, hardware=[])", globals(), locals(), "/tmp/mem.prof")
        pstats.Stats("/tmp/mem.prof").sort_stats("cumulative").print_stats(25)
        return
    print(f"{'input':16} {'instrs':>8} {'steps':>8} {'buffers':>8} {'parse_s':>8} "
          f"{'memory_s':>8} {'xla_s':>8} {'s/100k':>9}")
    for name, text in items:
        measure(name, text, args.repeat)


if __name__ == "__main__":
    main()
