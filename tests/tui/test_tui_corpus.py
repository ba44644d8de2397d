"""Every screen on every sample and on the largest corpus models: the app opens the target
itself (capturing samples with jax in its loader thread), then each screen is visited and
must show its report, or say why it has none, without an error."""

from __future__ import annotations

from typing import Any

import pytest
from tui_helpers import HARDWARE, settle

from hloscope import samples
from hloscope.tui.app import make_app
from hloscope.tui.reports import Status

# Keys that visit every screen, the kernel detail (its three tabs), an unfolded source line,
# the collective detail, the communication matrix and both texts.
TOUR = ("k", "enter", "2", "3", "escape", "s", "enter", "c", "d", "x", "tab", "m", "t", "tab",
        "o")

CORPUS = (
    "generated/tpu_tf_v5p_8x8x16_L4.hlo",  # 1024 devices, mesh 64x16
    "hlo/files/xla__tools__benchmarks__hlo__hlo_mixtral_8x7b_bf16_2x8.hlo",
    "hlo/files/xla__tools__benchmarks__hlo__hlo_llama31_405b_bf16_64x8.hlo",
    "hlo/files/xla__backends__cpu__benchmarks__hlo__gemma3_1b_flax_call.hlo",
)


async def tour(target: str) -> Any:
    app = make_app([target], hardware=HARDWARE)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, timeout=300)
        assert app.session.phase == "ready", app.session.error
        for key in TOUR:
            await pilot.press(key)
            await settle(pilot, timeout=300)
            assert app.is_running
        assert not app.load_errors, app.load_errors
        assert not app.reports.errors, app.reports.errors
        for name, state in app.reports._states.items():
            assert state.status in (Status.READY, Status.UNAVAILABLE), (name, state)
        return app


@pytest.mark.slow
@pytest.mark.jax
@pytest.mark.parametrize("name", samples.names())
async def test_every_screen_on_each_sample(name: str) -> None:
    app = await tour(f"sample:{name}")
    # A capture has every part: nothing may be unavailable.
    assert all(s.status is Status.READY for s in app.reports._states.values())


@pytest.mark.slow
@pytest.mark.parametrize("path", CORPUS)
async def test_every_screen_on_large_corpus_models(corpus: Any, path: str) -> None:
    app = await tour(str(corpus / path))
    # HLO files carry no StableHLO: what reads it is unavailable, and says so; the rest is
    # there.
    unavailable = {n for n, s in app.reports._states.items() if s.status is Status.UNAVAILABLE}
    assert unavailable <= {"stablehlo", "stablehlo_index", "stablehlo_links"}
    assert "no StableHLO" in app.reports.state("stablehlo").message
    assert "no StableHLO" in app.reports.state("stablehlo_links").message
