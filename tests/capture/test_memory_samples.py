"""The memory pass against XLA on every sample and on small programs: XLA's own totals
(`memory_analysis()`), its buffer assignment (dumped while compiling) and the report's faces.

What is compared, and why (see passes/memory.py):
- arguments, outputs and aliases: exactly `memory_analysis()`.
- XLA's CPU `peak_memory_in_bytes`: exactly our whole-run bytes (parameters + outputs +
  constants); on CPU XLA leaves temporaries out of that figure.
- our peak and reserved bytes: within 5% of what XLA holds for the run (arguments + outputs -
  aliases + temp arena), the peak never above it by more than that.
- the most temporaries live at once: within 5% of XLA's temp arena.
- XLA's placement: no two values XLA stores in the same bytes are live together in our model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from hloscope import analyze
from hloscope.capture import capture_stage
from hloscope.records import Capture

SAMPLES = ("mlp", "transformer", "scan", "moe", "ring_attention", "convnet")
TOLERANCE = 0.05

pytestmark = pytest.mark.jax


def _compile_with_dump(stage: Any, folder: Path) -> Capture:
    compiled = stage.lower().compile(compiler_options={"xla_dump_to": str(folder)})
    cap = capture_stage(compiled)
    (ba,) = folder.glob("*after_optimizations-buffer-assignment.txt")
    return dataclasses.replace(cap, buffer_assignment=ba.read_text())


@pytest.fixture(scope="module")
def sample_capture(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cache: dict[str, Capture] = {}

    def get(name: str) -> Capture:
        if name not in cache:
            from hloscope import samples

            folder = tmp_path_factory.mktemp(f"dump_{name}")
            cache[name] = _compile_with_dump(samples.get(name).program(), folder)
        return cache[name]

    return get


def _close(ours: int, xla: int) -> bool:
    return abs(ours - xla) <= TOLERANCE * xla


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_matches_xla(name: str, sample_capture: Any) -> None:
    cap = sample_capture(name)
    x = cap.xla_memory
    r = analyze(cap).memory
    assert (r.argument_bytes, r.output_bytes, r.alias_bytes) == (
        x.argument_bytes, x.output_bytes, x.alias_bytes)
    assert r.whole_run_bytes == x.peak_bytes == r.xla_peak_bytes
    held = x.argument_bytes + x.output_bytes - x.alias_bytes + x.temp_bytes
    assert _close(r.reserved_bytes, held), (r.reserved_bytes, held)
    assert _close(r.peak_bytes, held)
    assert r.peak_bytes <= held * (1 + TOLERANCE)
    assert _close(r.temp_bytes, x.temp_bytes), (r.temp_bytes, x.temp_bytes)
    assert r.assignment_conflicts == ()
    assert sum(b.bytes for b in r.at_peak) == r.peak_bytes == max(r.timeline)
    assert any("no heap-simulator trace" in n for n in r.notes)


def _small(fn: Any, *args: Any, tmp_path: Path, **jit: Any) -> Capture:
    import jax

    return _compile_with_dump(jax.jit(fn, **jit).trace(*args), tmp_path)


def _exact(cap: Capture) -> Any:
    r = analyze(cap).memory
    x = cap.xla_memory
    assert x is not None
    assert (r.argument_bytes, r.output_bytes, r.alias_bytes, r.whole_run_bytes) == (
        x.argument_bytes, x.output_bytes, x.alias_bytes, x.peak_bytes)
    assert r.assignment_conflicts == ()
    return r


def test_donation_and_passthrough_outputs(tmp_path: Path) -> None:
    import jax.numpy as jnp

    x = jnp.zeros((256, 256), jnp.float32)
    r = _exact(_small(lambda a, b: (a * 2 + 1, b, a.sum()), x, x, tmp_path=tmp_path,
                      donate_argnums=0))
    assert r.alias_bytes == 256 * 256 * 4
    assert [p.donated_to for p in r.parameters] == [((0,),), ()]


def test_scan_with_a_stacked_carry(tmp_path: Path) -> None:
    import jax
    import jax.numpy as jnp

    def f(x: Any, w: Any) -> Any:
        def body(c: Any, _: Any) -> Any:
            c = jnp.tanh(c @ w)
            return c, c.sum(0)

        return jax.lax.scan(body, x, None, length=8)

    a = jnp.zeros((128, 128), jnp.float32)
    r = _exact(_small(f, a, a, tmp_path=tmp_path))
    # The peak is inside the loop body: charged to the while step of the entry.
    entry = analyze(_small(f, a, a, tmp_path=tmp_path / "again")).module.entry_computation
    assert entry.instructions[r.peak_step].opcode == "while"
    assert r.peak_computation != entry.name


def test_dump_folder_loads_with_xla_assignment_beside_ours(tmp_path: Path) -> None:
    import jax.numpy as jnp

    from hloscope import load

    _small(lambda a: jnp.tanh(a @ a).sum(), jnp.zeros((64, 64), jnp.float32), tmp_path=tmp_path)
    r = analyze(load(tmp_path)).memory
    assert r.xla_source == "buffer-assignment"
    assert r.xla_assignment
    assert all(row.agrees for row in r.xla_assignment)
    assert r.argument_bytes == r.xla["argument_bytes"] == 64 * 64 * 4


def test_dump_view_memory_json(capsys: pytest.CaptureFixture[str]) -> None:
    from hloscope.cli.dump_cmd import dump

    assert dump("sample:mlp", view="memory", as_json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    m = doc["memory"]
    assert m["peak_bytes"] == max(m["timeline"]) > 0
    assert m["xla_peak_bytes"] == doc["xla"]["memory"]["peak_bytes"]
    assert {"name", "bytes", "source"} <= set(m["at_peak"][0])
    assert any(b["source"] and b["source"].endswith(".py:39") for b in m["at_peak"])
    assert m["fits"]["h100-sxm"]["fits"] is True


def test_dump_view_memory_text(capsys: pytest.CaptureFixture[str]) -> None:
    from hloscope.cli.dump_cmd import dump

    assert dump("sample:mlp", view="memory", top=5) == 0
    out = capsys.readouterr().out
    assert "peak" in out
    assert "^ peak" in out
    assert "Live at the peak" in out
    assert "Fit per device" in out
    assert "Notes" in out
