"""Kernels and Python lines linked to StableHLO ops (passes/stablehlo_links.py), on the
hand-written kernels.hlo and a StableModule built by hand (no jax); and the kernel report
never reading the StableHLO (the link is its own lazy report on Analysis)."""

from __future__ import annotations

from pathlib import Path

import pytest

import hloscope
from hloscope.errors import MissingPartError
from hloscope.hlo import parse
from hloscope.passes import cost, fusion, stablehlo_links
from hloscope.records import Capture
from hloscope.stablehlo import Frame, Source, StableFunc, StableModule, StableOp

DATA = Path(__file__).resolve().parent.parent / "data" / "cost"
KERNELS = (DATA / "kernels.hlo").read_text()


def _op(i: int, name: str, file: str, line: int, stack: str) -> StableOp:
    src = Source(name_stack=stack, frames=(Frame(file=file, line=line),))
    return StableOp(id=i, name=name, func="main", loc=src, sources=(src,))


def _stable() -> StableModule:
    """What jax would lower kernels.hlo's program from: one op per line and scope, the
    exponential under another name stack than XLA's op_name, and a return on its line."""
    ops = (
        _op(0, "stablehlo.dot_general", "/src/model.py", 10, "jit(step)/layer/dot_general"),
        _op(1, "stablehlo.multiply", "/src/model.py", 11, "jit(step)/layer/mul"),
        _op(2, "stablehlo.maximum", "/src/model.py", 11, "jit(step)/layer/max"),
        _op(3, "stablehlo.exponential", "/src/train.py", 30, "jit(step)/while/body/exp"),
        _op(4, "func.return", "/src/train.py", 30, "jit(step)"),
    )
    return StableModule(name="jit_step", funcs=(StableFunc(name="main", ops=(0, 1, 2, 3, 4)),),
                        ops=ops)


@pytest.fixture(scope="module")
def links() -> stablehlo_links.StableLinks:
    module = parse(KERNELS)
    report = fusion.run(module, cost.run(module))
    return stablehlo_links.run(module, fusion=report, stablehlo=_stable())


def test_kernels_link_the_ops_of_their_lines_and_scopes(links: stablehlo_links.StableLinks
                                                        ) -> None:
    # Line 11 made both the multiply and the maximum: each kernel gets the op of its scope.
    assert links.kernel_ops("mm") == (0,)
    assert links.kernel_ops("scaled") == (1,)
    assert links.kernel_ops("relu") == (2,)
    # No op has the exponential's op_name: every op of its line, less call/return plumbing.
    assert links.kernel_ops("ex") == (3,)
    # Kernels without a source line link nothing.
    assert links.kernel_ops("lt") == ()
    assert set(links.kernels) == {"mm", "scaled", "relu", "ex"}


def test_lines_link_every_op_they_made(links: stablehlo_links.StableLinks) -> None:
    assert dict(links.lines) == {
        "/src/model.py:10": (0,),
        "/src/model.py:11": (1, 2),
        "/src/train.py:30": (3, 4),
    }
    assert links.line_ops("/src/model.py:99") == ()
    doc = links.to_json()
    assert doc["kernels"]["relu"] == [2]
    assert doc["op_count"] == 5


def test_kernels_and_estimates_never_read_the_stablehlo() -> None:
    # StableHLO that would not read: the kernel report, the estimates and the per-line report
    # are computed without touching it.
    cap = Capture(name="k", origin="kernels.hlo", hlo=KERNELS, stablehlo="not mlir at all")
    analysis = hloscope.analyze(cap, hardware="h100-sxm")
    assert analysis.roofline.step_s > 0
    assert analysis.source.lines
    assert "stablehlo" not in analysis.__dict__
    assert not any(hasattr(k, "stablehlo_ops") for k in analysis.fusion.kernels)


def test_the_link_needs_stablehlo() -> None:
    analysis = hloscope.analyze(Capture(name="k", hlo=KERNELS), hardware="h100-sxm")
    with pytest.raises(MissingPartError):
        _ = analysis.stablehlo_links


def test_the_link_is_shared_across_hardware() -> None:
    cap = Capture(name="k", hlo=KERNELS)
    a = hloscope.analyze(cap, hardware="h100-sxm")
    a.__dict__["stablehlo_links"] = made = stablehlo_links.StableLinks(kernels={}, lines={})
    assert a.with_hardware("tpu-v5p").stablehlo_links is made


def test_the_source_report_has_estimates_only_on_a_named_hardware() -> None:
    cap = Capture(name="k", hlo=KERNELS)
    plain = hloscope.analyze(cap)
    assert plain.roofline.step_s > 0  # estimates fall back to a default device...
    assert plain.source.hardware is None  # ...the per-line report does not
    assert all(ln.estimated_s is None for ln in plain.source.lines)
    timed = hloscope.analyze(cap, hardware="h100-sxm")
    assert timed.source is timed.source  # cached: every face reads the same object
    assert timed.source.hardware == "h100-sxm"
    assert sum(ln.estimated_s or 0.0 for ln in timed.source.lines) == pytest.approx(
        sum(e.total_s for e in timed.roofline.by_kernel.values()), rel=1e-12)
