"""StableHLO reader speed, side by side with MLIR's own parser (run by hand).

    python benchmarks/stablehlo.py [--layers 48] [--repeat 5] [--corpus DIR] [--xla]

Lowers an unrolled transformer's value_and_grad (8 fake CPU devices, data=2 x model=4,
named scopes per layer) and times, best of `--repeat`:
  mlir parse      ir.Module.parse alone (the C++ floor every reader pays)
  mlir walk       parse + a plain Python walk reading names, types, attributes and locations
                  as strings (the JAX-XLA-NOTES Q1 baseline)
  ours            parse_stablehlo in-process (parse + conversion to StableModule)
  ours isolated   parse_stablehlo(safe=True): child process, JSON back
and prints MB/s and ratios. `--corpus` also reads every `mlir_parses=yes` corpus file.
`--xla` compiles the program and checks that XLA's op_names are our name stacks.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def lowered_transformer(layers: int) -> Any:
    import jax
    import jax.numpy as jnp
    from jax.sharding import AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    mesh = jax.make_mesh((2, 4), ("data", "model"), axis_types=(AxisType.Auto,) * 2)
    d, h, s, b = 256, 1024, 128, 8

    def rms(x: Any) -> Any:
        return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + 1e-6)

    def block(p: Any, x: Any) -> Any:
        with jax.named_scope("attn"):
            q, k, v = jnp.split(rms(x) @ p["wqkv"], 3, axis=-1)
            a = jax.nn.softmax(q @ k.transpose(0, 2, 1) / 16.0, axis=-1)
            x = x + (a @ v) @ p["wo"]
        with jax.named_scope("mlp"):
            x = x + jax.nn.gelu(rms(x) @ p["w1"]) @ p["w2"]
        return x

    def loss(params: Any, x: Any) -> Any:
        for i, p in enumerate(params):
            with jax.named_scope(f"layer{i}"):
                x = block(p, x)
        return jnp.mean(x * x)

    def sd(shape: tuple[int, ...], spec: Any) -> Any:
        return jax.ShapeDtypeStruct(shape, jnp.float32, sharding=NamedSharding(mesh, spec))

    params = [{"wqkv": sd((d, 3 * d), P("data", "model")), "wo": sd((d, d), P("model", "data")),
               "w1": sd((d, h), P("data", "model")), "w2": sd((h, d), P("model", "data"))}
              for _ in range(layers)]
    return jax.jit(jax.value_and_grad(loss)).trace(params, sd((b, s, d), P("data"))).lower()


def _cpu() -> float:
    """CPU seconds of this process and its finished children: on a shared, loaded machine a
    steadier figure than wall time."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time and best CPU time of `repeat` calls, and the last result."""
    out = None
    times, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), _cpu()
        out = fn()
        times.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    return min(times), min(cpus), out


def mlir_parse(text: str) -> None:
    from jax.extend.mlir import ir

    from hloscope._jaxapi import make_ir_context

    with make_ir_context(), ir.Location.unknown():
        ir.Module.parse(text)


def mlir_walk(text: str) -> int:
    from jax.extend.mlir import ir

    from hloscope._jaxapi import make_ir_context

    n = 0
    with make_ir_context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        todo = [module.operation]
        while todo:
            op = todo.pop()
            n += 1
            _ = (op.name, [str(v.type) for v in op.operands], [str(r.type) for r in op.results],
                 {k: str(v) for k, v in op.attributes.items()}, str(op.location))
            for region in op.regions:
                for block in region.blocks:
                    todo.extend(o.operation for o in block.operations)
    return n


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=48)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--corpus", type=Path, default=None,
                    help="corpus dir (holding stablehlo/MANIFEST.tsv) to read as well")
    ap.add_argument("--xla", action="store_true", help="compile and compare op_names")
    args = ap.parse_args(argv)

    from hloscope.stablehlo import parse_stablehlo, serial

    t = time.perf_counter()
    lowered = lowered_transformer(args.layers)
    text = str(lowered.as_text(debug_info=True))
    mb = len(text.encode()) / 1e6
    print(f"{args.layers}-layer transformer value_and_grad: {mb:.2f} MB of StableHLO "
          f"(lowered in {time.perf_counter() - t:.1f} s)")
    parse_stablehlo(text)  # warm: imports, dialect registration

    t_parse, c_parse, _ = best(lambda: mlir_parse(text), args.repeat)
    t_walk, c_walk, n_walk = best(lambda: mlir_walk(text), args.repeat)
    t_ours, c_ours, module = best(lambda: parse_stablehlo(text), args.repeat)
    t_iso, c_iso, isolated = best(lambda: parse_stablehlo(text, safe=True),
                                  max(1, args.repeat // 2))
    assert isolated == module
    import json

    t_enc, _, doc = best(lambda: json.dumps(serial.to_json(module)), args.repeat)
    t_dec, _, _ = best(lambda: serial.from_json(json.loads(doc)), args.repeat)

    rows = [("mlir parse", t_parse, c_parse), ("mlir walk (strings)", t_walk, c_walk),
            ("ours", t_ours, c_ours), ("ours isolated", t_iso, c_iso)]
    print(f"{len(module.ops)} ops ({n_walk - 1} in the plain walk incl. func.func), "
          f"{len(module.values)} values, {len(module.funcs)} funcs")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':22} {'wall s':>8} {'cpu s':>7} {'MB/s':>7} {'vs parse':>9} {'vs walk':>8}")
    for name, sec, cpu in rows:
        print(f"{name:22} {sec:8.3f} {cpu:7.3f} {mb / sec:7.1f} {sec / t_parse:8.1f}x "
              f"{sec / t_walk:7.2f}x")
    print(f"JSON hand-back: {len(doc) / 1e6:.2f} MB, encode {t_enc:.3f} s, decode {t_dec:.3f} s; "
          f"isolation costs {t_iso - t_ours:.2f} s over in-process")

    if args.corpus:
        root = args.corpus / "stablehlo"
        with (root / "MANIFEST.tsv").open() as f:
            names = [r["local_name"] for r in csv.DictReader(f, delimiter="\t")
                     if r["mlir_parses"] == "yes"]
        size = sum((root / n).stat().st_size for n in names) / 1e6
        t = time.perf_counter()
        ops = sum(len(parse_stablehlo((root / n).read_text(), source=n).ops) for n in names)
        dt = time.perf_counter() - t
        print(f"corpus: {len(names)} files, {size:.2f} MB, {ops} ops in {dt:.2f} s")

    if args.xla:
        t = time.perf_counter()
        hlo = lowered.compile().as_text()
        xla = {n.replace("\\'", "'") for n in re.findall(r'op_name="((?:[^"\\]|\\.)*)"', hlo)}
        ours = {s.name_stack for op in module.ops for s in op.sources}
        missing = xla - ours - set(module.func("main").arg_names)
        # XLA's own: names of instructions its passes made (`broadcast.12`), and op_names it
        # merged when combining ops (`jit(f)/(a:b:c)`).
        made = {n for n in missing if re.fullmatch(r"[a-z][a-z0-9-]*\.\d+", n)}
        merged = {n for n in missing if re.search(r"\(.*:.*\)", n)}
        rest = sorted(missing - made - merged)
        print(f"XLA op_names: {len(xla)}; not among our name stacks: {len(made)} made by XLA "
              f"passes, {len(merged)} merged by XLA, {len(rest)} other {rest[:5]} "
              f"(compiled in {time.perf_counter() - t:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main(sys.argv[1:]))
