"""Roofline arithmetic on a fixed, made-up device (no calibration, no jax)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from hloscope.hardware import Hardware, Link
from hloscope.hlo import parse
from hloscope.passes import cost, fusion, roofline, source

DATA = Path(__file__).resolve().parent.parent / "data" / "cost"

TOY = Hardware(
    name="toy", description="a round-number device for tests",
    peak_flops={"f32": 1e12, "bf16": 4e12}, hbm_bytes_per_s=1e11, hbm_capacity_bytes=1e10,
    links=(Link(name="ici", scope="intra", bytes_per_s=1e10, count=4),),
    sources={"all": "made up"},
)


@pytest.fixture(scope="module")
def parts() -> tuple[object, cost.CostReport, fusion.FusionReport]:
    module = parse((DATA / "kernels.hlo").read_text())
    c = cost.run(module)
    return module, c, fusion.run(module, c)


def test_kernel_time_is_the_larger_of_compute_and_memory(parts) -> None:  # type: ignore[no-untyped-def]
    module, c, f = parts
    rep = roofline.run(module, cost=c, fusion=f, hardware=TOY)
    mm = rep.by_kernel["mm"]  # 8192 flops, 3584 bytes, a matmul in f32
    assert mm.compute_s == pytest.approx(8192 / 1e12)
    assert mm.memory_s == pytest.approx(3584 / 1e11)
    assert mm.time_s == pytest.approx(max(mm.compute_s, mm.memory_s))
    assert mm.bound == "memory"
    assert mm.intensity == pytest.approx(8192 / 3584)
    assert mm.ridge_fraction == pytest.approx((8192 / 3584) / (1e12 / 1e11))
    assert mm.peak == "f32"


def test_step_is_the_sum_over_kernels_times_counts(parts) -> None:  # type: ignore[no-untyped-def]
    module, c, f = parts
    rep = roofline.run(module, cost=c, fusion=f, hardware=TOY)
    assert rep.step_s == pytest.approx(sum(e.time_s * e.count for e in rep.by_kernel.values()))
    assert rep.step_s == pytest.approx(rep.compute_s + rep.memory_s + rep.collective_s)
    assert sum(rep.by_category.values()) == pytest.approx(rep.step_s)
    assert rep.top_kernels[0] == max(rep.by_kernel, key=lambda n: rep.by_kernel[n].total_s)
    assert "toy" in rep.label
    assert rep.to_json()["provenance"] == "estimate"


def test_shares_of_the_step(parts) -> None:  # type: ignore[no-untyped-def]
    module, c, f = parts
    rep = roofline.run(module, cost=c, fusion=f, hardware=TOY, collectives={"ars": 1e-3})
    compute, memory, collective = rep.bound_shares()
    assert compute == pytest.approx(rep.compute_s / rep.step_s)
    assert memory == pytest.approx(rep.memory_s / rep.step_s)
    assert collective == pytest.approx(1e-3 / rep.step_s)
    assert compute + memory + collective == pytest.approx(1.0)
    assert rep.kernel_share("ars") == pytest.approx(1e-3 / rep.step_s)
    assert sum(rep.kernel_share(n) or 0.0 for n in rep.by_kernel) == pytest.approx(1.0)
    empty = roofline.RooflineReport(
        hardware=TOY, step_s=0.0, compute_s=0.0, memory_s=0.0, collective_s=0.0,
        by_kernel=rep.by_kernel, by_category={}, top_kernels=())
    assert empty.bound_shares() == (0.0, 0.0, 0.0)
    assert empty.kernel_share("ars") is None


def test_source_lines_share_the_step(parts) -> None:  # type: ignore[no-untyped-def]
    module, c, f = parts
    roof = roofline.run(module, cost=c, fusion=f, hardware=TOY)
    rep = source.run(module, cost=c, fusion=f, roofline=roof)
    assert rep.step_s == roof.step_s
    assert sum(rep.share(ln) or 0.0 for ln in rep.lines) == pytest.approx(1.0)
    assert rep.attributed_share == pytest.approx(rep.attributed_flops / rep.total_flops)
    plain = source.run(module, cost=c, fusion=f)
    assert plain.step_s is None
    assert all(plain.share(ln) is None for ln in plain.lines)


def test_collectives_take_the_sharding_estimate(parts) -> None:  # type: ignore[no-untyped-def]
    module, c, f = parts
    plain = roofline.run(module, cost=c, fusion=f, hardware=TOY)
    assert any("HBM bytes only" in n for n in plain.notes)
    sharding = SimpleNamespace(collectives=(
        SimpleNamespace(name="ars", estimated_s=1e-3), SimpleNamespace(name="rss",
                                                                         estimated_s=None)))
    rep = roofline.run(module, cost=c, fusion=f, hardware=TOY, collectives=sharding)
    assert rep.by_kernel["ars"].bound == "collective"
    assert rep.by_kernel["ars"].time_s == 1e-3
    assert rep.collective_s == pytest.approx(1e-3)
    assert rep.by_kernel["rss"].bound == "memory"  # no estimate: HBM time, said in notes
    assert rep.by_category["collective"] == pytest.approx(
        1e-3 + rep.by_kernel["rss"].total_s)
    by_name = roofline.run(module, cost=c, fusion=f, hardware=TOY, collectives={"ars": 2e-3})
    assert by_name.by_kernel["ars"].time_s == 2e-3


def test_contractions_use_their_dtype_peak() -> None:
    k = SimpleNamespace(name="k", flops=4e12, bytes_accessed=1.0, dtype="bf16",
                        category="matmul", count=2)
    est = roofline.estimate_kernel(k, TOY)  # type: ignore[arg-type]
    assert est.peak == "bf16"
    assert est.time_s == pytest.approx(1.0)
    assert est.bound == "compute"
    assert est.total_s == pytest.approx(2.0)
    elementwise = SimpleNamespace(name="e", flops=4e12, bytes_accessed=1.0, dtype="bf16",
                                  category="elementwise", count=1)
    assert roofline.estimate_kernel(elementwise, TOY).peak == "f32"  # type: ignore[arg-type]


def test_uncostable_kernels_count_zero_and_are_named() -> None:
    k = SimpleNamespace(name="cc", flops=-1.0, bytes_accessed=-1.0, dtype="f32",
                        category="other", count=1)
    assert roofline.estimate_kernel(k, TOY).time_s == 0.0  # type: ignore[arg-type]
