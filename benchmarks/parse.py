"""Parse speed: hloscope's HLO reader against XLA's C++ parser, side by side, in one run.

    python benchmarks/parse.py                 # all inputs, best of 3
    python benchmarks/parse.py --repeat 5 --profile transformer48

Inputs
- transformer48: optimized HLO of a 48-layer unrolled decoder-only transformer grad (d_model 512,
  8 heads, d_ff 2048, vocab 1024, batch 8x128, f32, jit(value_and_grad(loss)) on ShapeDtypeStruct
  inputs, RMSNorm, one CPU device): about 3.6 MB. Compiled once and cached in the temp dir.
- the largest model dumps of the corpus (Mixtral, Llama, Gemma, MaxText...).
- synthetic40: about 40 MB, copies of transformer48 with every name suffixed per copy and one
  ENTRY (real HLO: XLA parses it; the other copies are unused computations).

For each: MB/s of ours and of XLA's `hlo_module_from_text` (best of N, so our parser's caches
are warm), the ratio (ours / XLA; >= 1 means we are faster), our first parse in a fresh process
(cold caches, as a user opening one file sees it) and its ratio to XLA's best, and the peak
memory of our parse (tracemalloc, a separate run) over the text
size. Goal: ratio >= 1.0 (done at >= 0.5); memory <= 10x.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("HLOSCOPE_CORPUS", REPO.parent / "shared" / "corpus"))
CACHE = Path(tempfile.gettempdir()) / "hloscope-bench"
LARGEST_CORPUS = 4

_GEN = r'''
import sys
import jax, jax.numpy as jnp
L = int(sys.argv[1])
D, H, F, V, B, T = 512, 8, 2048, 1024, 8, 128

def rms_norm(x):
    return x * jax.lax.rsqrt((x * x).mean(-1, keepdims=True) + 1e-5)

def block(p, x):
    h = rms_norm(x)
    q, k, v = (h @ p["wq"], h @ p["wk"], h @ p["wv"])
    split = lambda t: t.reshape(B, T, H, D // H).transpose(0, 2, 1, 3)
    q, k, v = split(q), split(k), split(v)
    s = (q @ k.transpose(0, 1, 3, 2)) / (D // H) ** 0.5
    mask = jnp.tril(jnp.ones((T, T), bool))
    s = jnp.where(mask, s, -1e9)
    a = jax.nn.softmax(s, axis=-1) @ v
    x = x + a.transpose(0, 2, 1, 3).reshape(B, T, D) @ p["wo"]
    h = rms_norm(x)
    return x + jax.nn.gelu(h @ p["w1"]) @ p["w2"]

def loss(params, tokens, targets):
    x = params["emb"][tokens]
    for p in params["layers"]:
        x = block(p, x)
    logits = rms_norm(x) @ params["emb"].T
    logp = jax.nn.log_softmax(logits)
    return -jnp.take_along_axis(logp, targets[..., None], -1).mean()

f32 = jnp.float32
S = jax.ShapeDtypeStruct
layer = {"wq": S((D, D), f32), "wk": S((D, D), f32), "wv": S((D, D), f32),
         "wo": S((D, D), f32), "w1": S((D, F), f32), "w2": S((F, D), f32)}
params = {"emb": S((V, D), f32), "layers": [dict(layer) for _ in range(L)]}
tok = S((B, T), jnp.int32)
text = jax.jit(jax.value_and_grad(loss)).trace(params, tok, tok).lower().compile().as_text()
sys.stdout.write(text)
'''


def transformer_hlo(layers: int) -> str:
    """Optimized HLO of the benchmark transformer, compiled in a subprocess and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"transformer{layers}-rms.hlo"
    if not path.exists():
        env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
        env.pop("XLA_FLAGS", None)
        out = subprocess.run([sys.executable, "-c", _GEN, str(layers)], check=True,
                             capture_output=True, text=True, env=env).stdout
        path.write_text(out, encoding="utf-8")
    return path.read_text(encoding="utf-8")


_NAME_RE = re.compile(r"%([A-Za-z_][A-Za-z0-9_.\-]*)")
_BODY_RE = re.compile(r"^(?:ENTRY )?%", re.M)


def synthetic(base: str, target_bytes: int) -> str:
    """`base` repeated with names suffixed per copy until about `target_bytes`; one ENTRY."""
    first = _BODY_RE.search(base)
    assert first is not None
    header, body = base[: first.start()], base[first.start() :]
    copies = max(1, round(target_bytes / len(body)))
    parts = [header]
    for k in range(copies):
        part = _NAME_RE.sub(lambda m, k=k: f"%{m.group(1)}_c{k}", body)  # type: ignore[misc]
        if k < copies - 1:
            part = part.replace("\nENTRY %", "\n%").removeprefix("ENTRY ")
        parts.append(part)
    return "".join(parts)


def corpus_largest(n: int) -> list[tuple[str, str]]:
    """The n largest single-module corpus files (model dumps)."""
    files = sorted((CORPUS / "hlo" / "files").glob("*.hlo"), key=lambda p: -p.stat().st_size)
    out = []
    for p in files:
        text = p.read_text(encoding="utf-8")
        if text.count("HloModule ") <= 1:
            out.append((p.name.removeprefix("xla__").replace("__", "/"), text))
        if len(out) == n:
            break
    return out


def best_times(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best wall time of each function, the functions interleaved in every round so that a
    change of machine load hits them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            gc.collect()
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


_COLD = """
import sys, time
from hloscope.hlo import parse
text = open(sys.argv[1], encoding="utf-8").read()
t0 = time.perf_counter()
parse(text)
print(time.perf_counter() - t0)
"""


def cold_time(text: str) -> float:
    """Our first parse in a fresh process: the parser's caches (shapes, metadata, attribute
    texts) start empty, as when a user opens one file. The best-of-N figures are warm."""
    with tempfile.NamedTemporaryFile("w", suffix=".hlo", encoding="utf-8", delete=False) as f:
        f.write(text)
    try:
        out = subprocess.run([sys.executable, "-c", _COLD, f.name], check=True,
                             capture_output=True, text=True).stdout
        return float(out.strip().splitlines()[-1])
    finally:
        os.unlink(f.name)


def peak_memory(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    keep = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del keep
    return peak


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", metavar="INPUT", help="cProfile our parse of this input")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--only", help="comma-separated input names")
    args = ap.parse_args()

    from hloscope import _jaxapi
    from hloscope.hlo import parse

    t48 = transformer_hlo(48)
    inputs = [("transformer48", t48), *corpus_largest(LARGEST_CORPUS),
              ("synthetic40", synthetic(t48, 40_000_000))]
    if args.only:
        keep = set(args.only.split(","))
        inputs = [i for i in inputs if i[0] in keep]
    print(f"{'input':<44} {'MB':>7} {'ours MB/s':>10} {'XLA MB/s':>9} {'ratio':>6} "
          f"{'1st MB/s':>9} {'1st ratio':>9} {'instrs':>8} {'mem x':>6}")
    for name, text in inputs:
        mb = len(text.encode()) / 1e6
        ours, xla = best_times([lambda text=text: parse(text),  # type: ignore[misc]
                                lambda text=text: _jaxapi.hlo_module_from_text(text)],
                               args.repeat)
        first = cold_time(text)
        module = parse(text)
        mem = "" if args.no_memory else (
            f"{peak_memory(lambda text=text: parse(text)) / len(text.encode()):.1f}")  # type: ignore[misc]
        print(f"{name[:44]:<44} {mb:7.2f} {mb / ours:10.2f} {mb / xla:9.2f} "
              f"{xla / ours:6.2f} {mb / first:9.2f} {xla / first:9.2f} "
              f"{module.instruction_count:8d} {mem:>6}")
        del module
    if args.profile:
        text = dict(inputs)[args.profile]
        prof = cProfile.Profile()
        prof.enable()
        parse(text)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
