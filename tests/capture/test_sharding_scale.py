"""Scale: a 2-layer transformer (value_and_grad, FSDP on `data` × tensor parallel on `model`)
compiled for 512 fake CPU devices in a subprocess; the collectives and per-device passes run on
it, within 2 GB of memory for the whole process (compile included).

The worker doubles as the generator of the 1024-device capture for `benchmarks/devices.py`:
`python tests/capture/test_sharding_scale.py 1024 --save out.hlos`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve()
MODEL_AXIS = 8


def run_worker(devices: int, *, save: Path | None = None, timeout: float = 600) -> dict[str, Any]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    cmd = [sys.executable, str(HERE), str(devices)]
    if save is not None:
        cmd += ["--save", str(save)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"worker printed no result (rc={proc.returncode}):\n{proc.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@pytest.mark.slow
def test_two_layer_transformer_at_512_devices() -> None:
    r = run_worker(512)
    assert r["devices"] == 512
    assert r["mesh"] == {"data": 64, "model": MODEL_AXIS}
    assert r["max_rss_mb"] <= 2048
    assert r["collectives"] > 10
    assert r["unexplained"] == []
    assert set(r["axes"]) <= {"data", "model"}
    assert {"data", "model"} <= set(r["axes"])
    assert r["per_device"] == 512
    assert r["comm_pairs"] > 512


# --------------------------------------------------------------------------------------------
# worker


def two_layer_transformer(devices: int) -> tuple[Any, tuple[Any, ...]]:
    """(jitted train step, abstract args) on a data × model mesh of `devices`."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    data = devices // MODEL_AXIS
    mesh = jax.make_mesh(
        (data, MODEL_AXIS), ("data", "model"), axis_types=(AxisType.Auto, AxisType.Auto)
    )
    d, heads, hd, ff, vocab, seq, batch = 512, 8, 64, 2048, 1024, 128, data

    def sds(shape: tuple[int, ...], spec: Any, dtype: Any = jnp.float32) -> Any:
        return jax.ShapeDtypeStruct(shape, dtype, sharding=NamedSharding(mesh, spec))

    layer = {
        "wqkv": sds((d, 3, heads, hd), P("data", None, "model", None)),
        "wo": sds((heads, hd, d), P("model", None, "data")),
        "w1": sds((d, ff), P("data", "model")),
        "w2": sds((ff, d), P("model", "data")),
    }
    params = {
        "embed": sds((vocab, d), P("model", "data")),
        "layers": [layer, dict(layer)],
        "unembed": sds((d, vocab), P("data", "model")),
    }
    tokens = sds((batch, seq), P("data", None), jnp.int32)

    def loss(p: Any, tok: Any) -> Any:
        x = p["embed"][tok]
        for lp in p["layers"]:
            q, k, v = jnp.einsum("bsd,dthk->tbshk", x, lp["wqkv"])
            att = jax.nn.softmax(jnp.einsum("bqhk,bshk->bhqs", q, k) / 8.0, axis=-1)
            x = x + jnp.einsum("bhqs,bshk,hkd->bqd", att, v, lp["wo"])
            x = x + jax.nn.gelu(x @ lp["w1"]) @ lp["w2"]
        logits = x @ p["unembed"]
        return -jnp.mean(jax.nn.log_softmax(logits)[..., 0])

    def step(p: Any, tok: Any) -> Any:
        value, grads = jax.value_and_grad(loss)(p, tok)
        return value, jax.tree.map(lambda a, g: a - 1e-3 * g, p, grads)

    return jax.jit(step), (params, tokens)


def _worker(devices: int, save: str | None) -> dict[str, Any]:
    import resource

    import hloscope

    program, args = two_layer_transformer(devices)
    t0 = time.perf_counter()
    cap = hloscope.capture(program, *args)
    t1 = time.perf_counter()
    if save:
        cap.save(save)
    a = hloscope.analyze(cap)
    module = a.module
    t2 = time.perf_counter()
    r = a.sharding
    d = a.devices
    t3 = time.perf_counter()
    mesh = cap.mesh
    assert mesh is not None
    return {
        "devices": cap.device_count,
        "mesh": dict(zip(mesh.axis_names, mesh.axis_sizes, strict=True)),
        "instructions": module.instruction_count,
        "collectives": len(r.collectives),
        "by_kind": dict(r.by_kind),
        "axes": sorted({ax for c in r.collectives for ax in c.axes}),
        "unexplained": [
            c.name for c in r.collectives if not (c.axes and c.why and c.bytes_per_device > 0)
        ],
        "per_device": len(d.devices),
        "comm_pairs": len(d.comm_matrix),
        "capture_s": t1 - t0,
        "parse_s": t2 - t1,
        "analysis_s": t3 - t2,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    n = int(sys.argv[1])
    out = sys.argv[sys.argv.index("--save") + 1] if "--save" in sys.argv else None
    print(json.dumps(_worker(n, out)))
