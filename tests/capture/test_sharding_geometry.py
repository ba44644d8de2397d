"""Shard geometry against jax: for random meshes (1-4 axes, up to 512 devices), random
PartitionSpecs and shapes, our shard of every device (from the HloSharding *text* jax lowers
to, read by our parser) equals `NamedSharding(mesh, spec).devices_indices_map(shape)`.

The cases run in one subprocess with 512 fake CPU devices (the test process has 8); hypothesis
draws them there and the worker reports counts as JSON. Run the worker by hand with
`python tests/capture/test_sharding_geometry.py named 200`.

jax's `devices_indices_map` refuses unreduced axes and Manual mesh axes; for those the oracle
is the same spec with those axes left out (the data ranges are the same; what differs is that
each device holds a partial sum, or its own manual data), and we also check the flags.
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
def test_named_sharding_shards_equal_devices_indices_map() -> None:
    r = _run_worker("named", 1100)
    assert r["failure"] is None, r["failure"]
    assert r["cases"] >= 1000
    assert r["checked_devices"] > r["cases"]  # every device of every case was compared
    # The draws reach the corners the issue names.
    assert r["max_devices"] == WORKER_DEVICES
    assert set(r["axis_counts"]) == {"1", "2", "3", "4"}
    assert r["with_unreduced"] > 20
    assert r["with_manual"] > 20
    assert r["transposed"] > 100


@pytest.mark.slow
def test_iota_and_explicit_tile_assignments_match_xla() -> None:
    r = _run_worker("tiles", 450)
    assert r["failure"] is None, r["failure"]
    assert r["cases"] >= 400


# --------------------------------------------------------------------------------------------
# worker (runs in the subprocess)


def _describe(e: BaseException) -> str:
    if isinstance(e, BaseExceptionGroup):
        return " | ".join(_describe(x) for x in e.exceptions)[:4000]
    return f"{type(e).__name__}: {e}"[:2000]


def _named_worker(examples: int) -> dict[str, Any]:
    import jax
    import numpy as np
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

    from hloscope import _jaxapi
    from hloscope.hlo.sharding import parse_sharding
    from hloscope.hlo.shards import shard_table

    devices = jax.devices()
    assert len(devices) == WORKER_DEVICES
    stats: dict[str, Any] = {
        "cases": 0,
        "checked_devices": 0,
        "max_devices": 0,
        "axis_counts": {},
        "with_unreduced": 0,
        "with_manual": 0,
        "transposed": 0,
    }
    sizes = (1, 2, 3, 4, 5, 8, 16)

    @st.composite
    def case(draw: Any) -> Any:
        n_axes = draw(st.integers(1, 4))
        axis_sizes: list[int] = []
        for i in range(n_axes):
            room = WORKER_DEVICES // max(1, int(np.prod(axis_sizes)) if axis_sizes else 1)
            # Sometimes fill the mesh up to 512 devices exactly.
            if i == n_axes - 1 and draw(st.integers(0, 5)) == 0 and room > 1:
                axis_sizes.append(room)
                continue
            allowed = [s for s in sizes if s <= room] or [1]
            axis_sizes.append(draw(st.sampled_from(allowed)))
        names = tuple(draw(st.permutations(["data", "model", "x", "seq"]))[:n_axes])
        types = tuple(
            draw(
                st.sampled_from(
                    [AxisType.Auto, AxisType.Explicit, AxisType.Explicit, AxisType.Manual]
                )
            )
            for _ in range(n_axes)
        )
        rank = draw(st.integers(0, 4))
        free = [n for n, t in zip(names, types, strict=True) if t is not AxisType.Manual]
        free = list(draw(st.permutations(free)))
        spec: list[Any] = []
        for _ in range(rank):
            take = draw(st.integers(0, min(2, len(free))))
            group, free = free[:take], free[take:]
            spec.append(None if not group else group[0] if len(group) == 1 else tuple(group))
        explicit_left = [n for n in free if types[names.index(n)] is AxisType.Explicit]
        unreduced = set(
            draw(st.lists(st.sampled_from(explicit_left), unique=True)) if explicit_left else []
        )
        size_of = dict(zip(names, axis_sizes, strict=True))
        shape = []
        for entry in spec:
            ways = 1
            for ax in entry if isinstance(entry, tuple) else (entry,) if entry else ():
                ways *= size_of[ax]
            shape.append(ways * draw(st.sampled_from([0, 1, 1, 2, 3])))
        seed = draw(st.integers(0, 2**31 - 1))
        return axis_sizes, names, types, spec, unreduced, tuple(shape), seed

    @settings(
        max_examples=examples, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case())
    def check(c: Any) -> None:
        axis_sizes, names, types, spec, unreduced, shape, seed = c
        n = int(np.prod(axis_sizes))
        # A random choice and order of devices: the HloSharding names logical ids (mesh
        # positions); jax keys its map by Device.
        rng = np.random.default_rng(seed)
        chosen = rng.permutation(len(devices))[:n]
        mesh_devices = np.array([devices[i] for i in chosen], dtype=object).reshape(axis_sizes)
        mesh = Mesh(mesh_devices, names, axis_types=types)
        pspec = PartitionSpec(*spec, unreduced=frozenset(unreduced))
        ns = NamedSharding(mesh, pspec)
        text = _jaxapi.hlo_sharding_text(ns, len(shape))
        manual = {
            a for a, t, s in zip(names, types, axis_sizes, strict=True) if t is AxisType.Manual
        }
        if unreduced or manual:
            oracle_mesh = Mesh(
                mesh_devices,
                names,
                axis_types=tuple(AxisType.Auto if t is AxisType.Manual else t for t in types),
            )
            expected = NamedSharding(oracle_mesh, PartitionSpec(*spec)).devices_indices_map(shape)
        else:
            expected = ns.devices_indices_map(shape)
        table = shard_table(shape, parse_sharding(text), num_devices=n)
        got = {
            int(d): tuple(zip(a, b, strict=True))
            for d, a, b in zip(
                table.devices.tolist(), table.starts.tolist(), table.stops.tolist(), strict=True
            )
        }
        flat = list(mesh_devices.flat)
        assert sorted(got) == list(range(n)), (text, sorted(got)[:8])
        for logical, dev in enumerate(flat):
            want = tuple(
                (0 if s.start is None else s.start, dim if s.stop is None else s.stop)
                for s, dim in zip(expected[dev], shape, strict=True)
            )
            assert got[logical] == want, (text, shape, logical, got[logical], want)
        assert (table.padding == 0).all()
        live_unreduced = {a for a in unreduced if size_of(names, axis_sizes, a) > 1}
        assert table.partial == bool(live_unreduced), text
        live_manual = {a for a in manual if size_of(names, axis_sizes, a) > 1}
        assert (table.manual_index is not None) == bool(live_manual), text
        stats["cases"] += 1
        stats["checked_devices"] += n
        stats["max_devices"] = max(stats["max_devices"], n)
        key = str(len(axis_sizes))
        stats["axis_counts"][key] = stats["axis_counts"].get(key, 0) + 1
        stats["with_unreduced"] += bool(live_unreduced)
        stats["with_manual"] += bool(live_manual)
        stats["transposed"] += "T(" in text

    def size_of(names: Any, sizes: Any, axis: str) -> int:
        return int(sizes[list(names).index(axis)])

    failure = None
    try:
        check()
    except Exception as e:  # reported to the parent test, which fails with it
        failure = _describe(e)
    stats["failure"] = failure
    return stats


def _tiles_worker(examples: int) -> dict[str, Any]:
    """Random iota (`<=[r]T(p)`) and explicit tile assignments, with and without replicated
    subgroups: our decoding and geometry against XLA's parser and jax's index function."""
    import numpy as np
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from hloscope import _jaxapi
    from hloscope.hlo.sharding import parse_sharding
    from hloscope.hlo.shards import shard_table, tile_assignment_array

    stats: dict[str, Any] = {"cases": 0}

    @st.composite
    def case(draw: Any) -> Any:
        n_reshape = draw(st.integers(1, 4))
        reshape = [draw(st.sampled_from([1, 2, 3, 4, 8])) for _ in range(n_reshape)]
        if max(reshape) == 1:
            reshape[0] = 2  # one device is not a tiled sharding
        total = int(np.prod(reshape))
        perm = draw(st.permutations(list(range(n_reshape))))
        # Split the total into tile dims (data dims + maybe a replicated subgroup).
        factors = [f for f in range(1, total + 1) if total % f == 0]
        dims: list[int] = []
        left = total
        for _ in range(draw(st.integers(1, 3))):
            f = draw(st.sampled_from([f for f in factors if left % f == 0]))
            dims.append(f)
            left //= f
        dims.append(left)
        replicate = draw(st.booleans())
        explicit = draw(st.booleans())
        shape = [d * draw(st.integers(1, 3)) for d in (dims[:-1] if replicate else dims)]
        return reshape, perm, dims, replicate, explicit, shape, draw(st.integers(0, 2**31))

    @settings(
        max_examples=examples, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case())
    def check(c: Any) -> None:
        reshape, perm, dims, replicate, explicit, shape, seed = c
        total = int(np.prod(reshape))
        if explicit:
            devs = np.random.default_rng(seed).permutation(total)
            ta = f"devices=[{','.join(map(str, dims))}]{','.join(map(str, devs))}"
        else:
            # XLA's parser wants `T(...)` exactly when the iota is reshaped to 2+ dims.
            tr = f"T({','.join(map(str, perm))})" if len(perm) > 1 else ""
            ta = f"devices=[{','.join(map(str, dims))}]<=[{','.join(map(str, reshape))}]{tr}"
        text = "{" + ta + (" last_tile_dim_replicate" if replicate else "") + "}"
        xla = _jaxapi.hlo_sharding_from_string(text)
        ours = parse_sharding(text)
        assert ours.tile_assignment is not None
        if xla.is_replicated():  # XLA folds `[1,n] last_tile_dim_replicate` to {replicated}
            assert replicate, text
            assert list(dims[:-1]) == [1] * (len(dims) - 1), text
            stats["cases"] += 1
            return
        # Same devices at every tile; XLA sorts the devices of each replicated subgroup
        # (PartialTile canonicalization), so compare those as sets.
        got_arr = tile_assignment_array(ours.tile_assignment).reshape(-1, dims[-1])
        xla_arr = np.asarray(xla.tile_assignment_devices()).reshape(-1, dims[-1])
        if replicate:
            got_arr, xla_arr = np.sort(got_arr, axis=1), np.sort(xla_arr, axis=1)
        assert got_arr.tolist() == xla_arr.tolist(), text
        expected = _jaxapi.xla_devices_indices(text, tuple(shape), total)
        table = shard_table(shape, ours, num_devices=total)
        for dev, a, b in zip(
            table.devices.tolist(), table.starts.tolist(), table.stops.tolist(), strict=True
        ):
            want = tuple(
                (0 if s.start is None else s.start, n if s.stop is None else s.stop)
                for s, n in zip(expected[dev], shape, strict=True)
            )
            assert tuple(zip(a, b, strict=True)) == want, (text, shape, dev)
        stats["cases"] += 1

    failure = None
    try:
        check()
    except Exception as e:
        failure = _describe(e)
    stats["failure"] = failure
    return stats


if __name__ == "__main__":
    mode, count = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={WORKER_DEVICES}")
    worker = {"named": _named_worker, "tiles": _tiles_worker}[mode]
    print(json.dumps(worker(count)))
