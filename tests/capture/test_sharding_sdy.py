"""Shardy shardings read from StableHLO -> per-device shards, against jax and XLA.

- `lowered`: jax lowers random NamedShardings (meshes of 1-4 axes up to 512 devices, unreduced
  axes included) to `sdy.sharding` argument attributes; our StableHLO reader reads them, our
  conversion and geometry give each device's shard, compared with jax's
  `devices_indices_map` (for unreduced axes, the same spec without them, plus the flag).
- `manual`: inside `shard_map` (an `sdy.manual_computation`), a sharding constraint over the
  free axes, read with the computation's manual axes, against jax's HloSharding of the same
  spec on a mesh whose manual axes have type Manual.
- `subaxes`: hand-written modules with sub-axes (`"x":(2)4`) and explicit mesh `device_ids`,
  compiled by XLA: our geometry equals that of XLA's own HloSharding of each parameter.

All run in one subprocess with 512 fake CPU devices (`python tests/capture/test_sharding_sdy.py
MODE N` by hand).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WORKER_DEVICES = 512
HERE = Path(__file__).resolve()


def _run_worker(mode: str, examples: int, timeout: float = 600) -> dict[str, Any]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={WORKER_DEVICES}"
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, str(HERE), mode, str(examples)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"worker printed no result (rc={proc.returncode}):\n{proc.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@pytest.mark.slow
def test_lowered_sdy_shardings_equal_devices_indices_map() -> None:
    r = _run_worker("lowered", 110)
    assert r["failure"] is None, r["failure"]
    assert r["cases"] >= 1000  # arguments compared (10 per lowered program)
    assert r["max_devices"] == WORKER_DEVICES
    assert set(r["axis_counts"]) == {"1", "2", "3", "4"}
    assert r["with_unreduced"] > 20
    assert r["multi_axis_dims"] > 100


@pytest.mark.slow
def test_manual_computation_shardings_match_jax() -> None:
    r = _run_worker("manual", 80)
    assert r["failure"] is None, r["failure"]
    assert r["cases"] >= 40
    assert r["live_manual"] == r["cases"]


@pytest.mark.slow
def test_sub_axes_and_device_ids_match_xla() -> None:
    r = _run_worker("subaxes", 60)
    assert r["failure"] is None, r["failure"]
    assert r["cases"] >= 300  # arguments compared (5 per compiled module)
    assert r["sub_axis_refs"] > 100
    assert r["with_device_ids"] > 15


# --------------------------------------------------------------------------------------------
# worker (runs in the subprocess)


def _describe(e: BaseException) -> str:
    if isinstance(e, BaseExceptionGroup):
        return " | ".join(_describe(x) for x in e.exceptions)[:4000]
    return f"{type(e).__name__}: {e}"[:2000]


def _run(check: Any, stats: dict[str, Any]) -> dict[str, Any]:
    try:
        check()
        stats["failure"] = None
    except Exception as e:  # reported to the parent test, which fails with it
        stats["failure"] = _describe(e)
    return stats


def _ranges(table: Any) -> dict[int, tuple[tuple[int, int], ...]]:
    return {
        int(d): tuple(zip(a, b, strict=True))
        for d, a, b in zip(
            table.devices.tolist(), table.starts.tolist(), table.stops.tolist(), strict=True
        )
    }


def _jax_ranges(expected: Any, shape: tuple[int, ...], dev: Any) -> tuple[tuple[int, int], ...]:
    return tuple(
        (0 if s.start is None else s.start, n if s.stop is None else s.stop)
        for s, n in zip(expected[dev], shape, strict=True)
    )


def _mesh_axes(draw: Any, st: Any, limit: int) -> tuple[list[int], list[str]]:
    n_axes = draw(st.integers(1, 4))
    sizes: list[int] = []
    for i in range(n_axes):
        room = limit // max(1, _prod(sizes))
        if i == n_axes - 1 and room > 1 and draw(st.integers(0, 4)) == 0:
            sizes.append(room)  # fill the mesh to `limit` devices
            continue
        sizes.append(draw(st.sampled_from([s for s in (1, 2, 3, 4, 8) if s <= room] or [1])))
    names = list(draw(st.permutations(["data", "model", "x", "seq"])))[:n_axes]
    return sizes, names


def _prod(xs: Any) -> int:
    n = 1
    for x in xs:
        n *= int(x)
    return n


def _lowered_worker(examples: int) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

    from hloscope.hlo.sdy_shards import sdy_sharding
    from hloscope.hlo.shards import shard_table
    from hloscope.stablehlo import parse_stablehlo

    devices = jax.devices()
    stats: dict[str, Any] = {
        "cases": 0,
        "max_devices": 0,
        "axis_counts": {},
        "with_unreduced": 0,
        "multi_axis_dims": 0,
    }
    per_program = 10

    @st.composite
    def program(draw: Any) -> Any:
        sizes, names = _mesh_axes(draw, st, WORKER_DEVICES)
        args = []
        for _ in range(per_program):
            rank = draw(st.integers(0, 3))
            free = list(draw(st.permutations(names)))
            spec: list[Any] = []
            for _ in range(rank):
                take = draw(st.integers(0, min(2, len(free))))
                group, free = free[:take], free[take:]
                spec.append(None if not group else group[0] if len(group) == 1 else tuple(group))
            unreduced = frozenset(
                draw(st.lists(st.sampled_from(free), unique=True)) if free else []
            )
            shape = []
            for entry in spec:
                axes = entry if isinstance(entry, tuple) else (entry,) if entry else ()
                ways = _prod(sizes[names.index(a)] for a in axes)
                shape.append(ways * draw(st.sampled_from([1, 1, 2, 3])))
            args.append((spec, unreduced, tuple(shape)))
        return sizes, names, args, draw(st.integers(0, 2**31 - 1))

    @settings(
        max_examples=examples, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(program())
    def check(p: Any) -> None:
        sizes, names, args, seed = p
        n = _prod(sizes)
        chosen = np.random.default_rng(seed).permutation(len(devices))[:n]
        mesh_devices = np.array([devices[i] for i in chosen], dtype=object).reshape(sizes)
        # Explicit axes: jax allows unreduced only on them.
        mesh = Mesh(mesh_devices, tuple(names), axis_types=(AxisType.Explicit,) * len(names))
        shardings = [NamedSharding(mesh, PartitionSpec(*s, unreduced=u)) for s, u, _ in args]
        structs = [
            jax.ShapeDtypeStruct(shape, jnp.float32, sharding=ns)
            for ns, (_, _, shape) in zip(shardings, args, strict=True)
        ]
        text = jax.jit(lambda *xs: xs).trace(*structs).lower().as_text()
        module = parse_stablehlo(text)
        entry = module.entry
        assert entry is not None
        flat = list(mesh_devices.flat)
        for i, (spec, unreduced, shape) in enumerate(args):
            ts = entry.arg_shardings[i]
            assert ts is not None, (i, spec)
            mesh_of = module.mesh(ts.mesh) if ts.mesh else module.meshes[0]
            table = shard_table(shape, sdy_sharding(ts, mesh_of), num_devices=n)
            expected = NamedSharding(mesh, PartitionSpec(*spec)).devices_indices_map(shape)
            got = _ranges(table)
            assert sorted(got) == list(range(n)), (str(ts), sorted(got)[:5])
            for logical, dev in enumerate(flat):
                want = _jax_ranges(expected, shape, dev)
                assert got[logical] == want, (str(ts), shape, logical, got[logical], want)
            live = any(sizes[names.index(a)] > 1 for a in unreduced)
            assert table.partial == live, str(ts)
            stats["cases"] += 1
            stats["with_unreduced"] += live
            stats["multi_axis_dims"] += any(isinstance(e, tuple) for e in spec)
        stats["max_devices"] = max(stats["max_devices"], n)
        key = str(len(sizes))
        stats["axis_counts"][key] = stats["axis_counts"].get(key, 0) + 1

    return _run(check, stats)


def _manual_worker(examples: int) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

    from hloscope import _jaxapi
    from hloscope.hlo.sdy_shards import sdy_sharding
    from hloscope.hlo.sharding import parse_sharding
    from hloscope.hlo.shards import shard_table
    from hloscope.stablehlo import parse_stablehlo

    devices = jax.devices()
    stats: dict[str, Any] = {"cases": 0, "live_manual": 0}

    @st.composite
    def case(draw: Any) -> Any:
        sizes, names = _mesh_axes(draw, st, 64)
        manual = draw(st.lists(st.sampled_from(names), unique=True, min_size=1))
        free = [a for a in names if a not in manual]
        free = list(draw(st.permutations(free)))
        take = draw(st.integers(0, min(2, len(free))))
        inner = free[:take]
        spec = PartitionSpec(None if not inner else inner[0] if len(inner) == 1 else tuple(inner))
        local0 = _prod(sizes[names.index(a)] for a in inner) * draw(st.sampled_from([1, 2]))
        return sizes, names, manual, spec, local0

    @settings(
        max_examples=examples, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case())
    def check(c: Any) -> None:
        sizes, names, manual, spec, local0 = c
        n = _prod(sizes)
        mesh = Mesh(
            np.array(devices[:n], dtype=object).reshape(sizes),
            tuple(names),
            axis_types=(AxisType.Auto,) * len(names),
        )
        manual_ways = _prod(sizes[names.index(a)] for a in manual)
        global_shape = (local0 * manual_ways, 4)
        in_spec = PartitionSpec(tuple(manual) if len(manual) > 1 else manual[0])

        def body(x: Any) -> Any:
            return jax.lax.with_sharding_constraint(x * 2, spec)

        f = jax.shard_map(
            body, mesh=mesh, in_specs=in_spec, out_specs=in_spec, axis_names=set(manual)
        )
        text = jax.jit(f).trace(jax.ShapeDtypeStruct(global_shape, jnp.float32)).lower().as_text()
        module = parse_stablehlo(text)
        if manual_ways == 1:
            # jax emits no manual computation over size-1 axes: nothing to compare.
            assert not module.manual_computations
            return
        (mc,) = module.manual_computations
        constraints = [
            op for i in mc.body if (op := module.ops[i]).name == "sdy.sharding_constraint"
        ]
        ts = constraints[-1].shardings[0]
        ours = sdy_sharding(ts, module.mesh(ts.mesh), manual_axes=mc.manual_axes)
        oracle_mesh = Mesh(
            mesh.devices,
            tuple(names),
            axis_types=tuple(AxisType.Manual if a in manual else AxisType.Auto for a in names),
        )
        jax_text = _jaxapi.hlo_sharding_text(NamedSharding(oracle_mesh, spec), 2)
        local = (local0, 4)
        a = shard_table(local, ours, num_devices=n)
        b = shard_table(local, parse_sharding(jax_text), num_devices=n)
        assert _ranges(a) == _ranges(b), (str(ts), mc.manual_axes, jax_text)
        live_manual = manual_ways > 1
        assert (a.manual_index is not None) == live_manual, (str(ts), jax_text)
        if live_manual:
            assert b.manual_index is not None
            # Devices share a manual index exactly when jax's sharding says so.
            pa = dict(zip(a.devices.tolist(), a.manual_index.tolist(), strict=True))
            pb = dict(zip(b.devices.tolist(), b.manual_index.tolist(), strict=True))
            assert pa == pb, (str(ts), jax_text)
        stats["cases"] += 1
        stats["live_manual"] += live_manual

    return _run(check, stats)


def _subaxes_worker(examples: int) -> dict[str, Any]:
    import numpy as np
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from hloscope import _jaxapi
    from hloscope.hlo.sdy_shards import sdy_sharding
    from hloscope.hlo.sharding import parse_sharding
    from hloscope.hlo.shards import shard_table
    from hloscope.stablehlo import parse_stablehlo

    stats: dict[str, Any] = {"cases": 0, "sub_axis_refs": 0, "with_device_ids": 0}
    per_module = 5

    def pieces(draw: Any, name: str, size: int) -> list[str]:
        """Refs that cut axis `name` into consecutive sub-axes (or the whole axis)."""
        factors = []
        left = size
        while left > 1:
            # Prefer proper divisors: they make sub-axes.
            divisors = [d for d in range(2, left) if left % d == 0] or [left]
            f = draw(st.sampled_from(divisors))
            factors.append(f)
            left //= f
        if len(factors) <= 1:
            return [f'"{name}"'] if size > 1 else []
        refs, pre = [], 1
        for f in factors:
            refs.append(f'"{name}":({pre}){f}')
            pre *= f
        return refs

    @st.composite
    def module(draw: Any) -> Any:
        n_axes = draw(st.integers(1, 3))
        sizes = [draw(st.sampled_from([2, 4, 8, 16])) for _ in range(n_axes)]
        while _prod(sizes) > 256:
            sizes[draw(st.integers(0, n_axes - 1))] = 2
        names = ["x", "y", "z"][:n_axes]
        n = _prod(sizes)
        ids = draw(st.booleans())
        args = []
        for _ in range(per_module):
            refs = [r for a, s in zip(names, sizes, strict=True) for r in pieces(draw, a, s)]
            refs = list(draw(st.permutations(refs)))
            rank = draw(st.integers(1, 3))
            dims: list[list[str]] = [[] for _ in range(rank)]
            for r in refs:
                slot = draw(st.integers(0, rank))  # `rank` = leave it out (replicated)
                if slot < rank:
                    dims[slot].append(r)
            args.append([_merge_adjacent(d, sizes, names) for d in dims])
        return sizes, names, n, ids, args, draw(st.integers(0, 2**31 - 1))

    @settings(
        max_examples=examples, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(module())
    def check(m: Any) -> None:
        sizes, names, n, ids, args, seed = m
        axes = ", ".join(f'"{a}"={s}' for a, s in zip(names, sizes, strict=True))
        device_ids = ""
        if ids:
            perm = np.random.default_rng(seed).permutation(n)
            device_ids = f", device_ids=[{', '.join(map(str, perm))}]"
        arg_text = []
        shapes = []
        for i, dims in enumerate(args):
            # Each dimension: 2x the ways it is split, to keep splits even.
            shape = [2 * _prod(_ref_size(r, sizes, names) for r in d) for d in dims]
            shapes.append(tuple(shape))
            ttype = "tensor<" + "x".join(map(str, shape)) + "xf32>"
            dims_text = ", ".join("{" + ", ".join(d) + "}" for d in dims)
            arg_text.append(
                f"%arg{i}: {ttype} {{sdy.sharding = #sdy.sharding<@mesh, [{dims_text}]>}}"
            )
        text = (
            f"module @m attributes {{mhlo.num_partitions = {n} : i32, mhlo.num_replicas = 1 : i32}}"
            f" {{\n  sdy.mesh @mesh = <[{axes}]{device_ids}>\n"
            f"  func.func public @main({', '.join(arg_text)}) {{\n    return\n  }}\n}}\n"
        )
        xla = _jaxapi.xla_parameter_shardings(text, n)
        module_ir = parse_stablehlo(text)
        entry = module_ir.entry
        assert entry is not None
        for i, shape in enumerate(shapes):
            ts = entry.arg_shardings[i]
            assert ts is not None
            ours = shard_table(shape, sdy_sharding(ts, module_ir.mesh("mesh")), num_devices=n)
            theirs = shard_table(shape, parse_sharding(xla[i]), num_devices=n)
            assert _ranges(ours) == _ranges(theirs), (str(ts), xla[i], device_ids[:80])
            stats["cases"] += 1
            stats["sub_axis_refs"] += sum(":(" in r for d in args[i] for r in d)
        stats["with_device_ids"] += bool(ids)

    return _run(check, stats)


def _merge_adjacent(dim: list[str], sizes: list[int], names: list[str]) -> list[str]:
    """Shardy's verifier rejects `"y":(1)2, "y":(2)2` in one dimension (they merge into
    `"y":(1)4`, or `"y"` when that is the whole axis): merge such neighbours."""
    out: list[tuple[str, int, int]] = []
    for ref in dim:
        name, pre, size = _parse_ref(ref, sizes, names)
        if out and out[-1][0] == name and out[-1][1] * out[-1][2] == pre:
            prev = out.pop()
            name, pre, size = name, prev[1], prev[2] * size
        out.append((name, pre, size))
    return [
        f'"{n}"' if p == 1 and k == sizes[names.index(n)] else f'"{n}":({p}){k}' for n, p, k in out
    ]


def _parse_ref(ref: str, sizes: list[int], names: list[str]) -> tuple[str, int, int]:
    if ":(" in ref:
        name, rest = ref.split(":(")
        pre, size = rest.split(")")
        return name.strip('"'), int(pre), int(size)
    name = ref.strip('"')
    return name, 1, sizes[names.index(name)]


def _ref_size(ref: str, sizes: list[int], names: list[str]) -> int:
    if ":(" in ref:
        return int(ref.rsplit(")", 1)[1])
    return sizes[names.index(ref.strip('"'))]


if __name__ == "__main__":
    mode, count = sys.argv[1], int(sys.argv[2])
    worker = {"lowered": _lowered_worker, "manual": _manual_worker, "subaxes": _subaxes_worker}[
        mode
    ]
    print(json.dumps(worker(count)))
