"""`hloscope.capture` on every kind of input, its errors, and device-count arrangement."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import jax
import jax.numpy as jnp
import pytest

import hloscope
from hloscope.capture import DeviceCountError, flag_device_count, hlo_type, xla_cost_from
from hloscope.errors import CaptureError, InputError, UsageError
from hloscope.targets import capture_target

X = jax.ShapeDtypeStruct((8, 16), jnp.float32)
W = jax.ShapeDtypeStruct((16, 4), jnp.float32)


def layer(x: jax.Array, w: jax.Array, *, scale: float = 1.0) -> jax.Array:
    return jnp.tanh(x @ w) * scale


def test_a_plain_function_is_jitted_with_abstract_args() -> None:
    cap = hloscope.capture(layer, X, W, scale=2.0)
    assert cap.name == "jit_layer"
    assert cap.jaxpr is not None
    assert "tanh" in cap.jaxpr
    assert cap.stablehlo is not None
    assert "stablehlo.tanh" in cap.stablehlo
    assert cap.hlo is not None
    assert cap.hlo.startswith("HloModule jit_layer")
    # `scale` is a keyword argument: jax traces it as a scalar input.
    assert [s.shape for s in cap.in_shardings] == ["f32[8,16]", "f32[16,4]", "f32[]"]
    assert [s.shape for s in cap.out_shardings] == ["f32[8,4]"]
    assert set(cap.timings_s) == {"trace", "lower", "compile", "record"}
    assert cap.notes == ()


def test_each_jax_stage_is_accepted_and_says_what_it_lacks() -> None:
    jitted = jax.jit(layer)
    traced = jitted.trace(X, W)
    lowered = traced.lower()
    compiled = lowered.compile()
    from_wrapped = hloscope.capture(jitted, X, W)
    from_traced = hloscope.capture(traced)
    from_lowered = hloscope.capture(lowered)
    from_compiled = hloscope.capture(compiled)
    for cap in (from_wrapped, from_traced, from_lowered, from_compiled):
        assert cap.hlo == compiled.as_text()
        assert cap.xla_cost == from_wrapped.xla_cost
    assert from_traced.jaxpr == str(traced.jaxpr)
    assert from_lowered.jaxpr is None
    assert "no jaxpr" in from_lowered.notes[0]
    assert from_lowered.stablehlo == lowered.as_text(debug_info=True)
    assert from_compiled.stablehlo is None
    assert from_compiled.jaxpr is None
    assert any("no StableHLO" in n for n in from_compiled.notes)
    assert set(from_compiled.timings_s) == {"record"}
    assert set(from_lowered.timings_s) == {"compile", "record"}


def test_progress_reports_each_stage_in_order() -> None:
    seen: list[str] = []
    hloscope.capture(layer, X, W, progress=seen.append)
    assert seen == ["trace", "lower", "compile"]


def test_a_jax_error_is_a_capture_error_with_jax_s_message_on_one_line() -> None:
    bad = jax.ShapeDtypeStruct((8, 15), jnp.float32)
    with pytest.raises(CaptureError) as info:
        hloscope.capture(layer, bad, W)
    message = info.value.message
    assert info.value.exit_code == 3
    assert message.startswith("trace failed: TypeError: dot_general requires contracting")
    assert "\n" not in message


def test_stage_with_arguments_and_non_callables_are_usage_errors() -> None:
    traced = jax.jit(layer).trace(X, W)
    with pytest.raises(UsageError, match="arguments are only for a function"):
        hloscope.capture(traced, X)
    with pytest.raises(UsageError, match="cannot capture a int"):
        hloscope.capture(3)
    with pytest.raises(UsageError, match="takes no arguments"):
        hloscope.capture("sample:mlp", X)


def test_target_strings_capture_samples() -> None:
    cap = hloscope.capture("sample:mlp")
    assert cap.origin == "sample:mlp"
    assert cap.name == "jit_mlp_step"
    assert {"trace", "lower", "compile"} <= set(cap.timings_s)


def test_too_few_devices_after_the_backend_started_is_a_clear_error() -> None:
    assert len(jax.devices()) == 8  # tests/conftest.py
    with pytest.raises(DeviceCountError, match="needs 16 devices but jax already started with 8"):
        hloscope.capture("sample:moe", devices=16)
    with pytest.raises(DeviceCountError):
        hloscope.capture(layer, X, W, devices=16)
    hloscope.capture(layer, X, W, devices=8)  # enough: fine


@pytest.mark.slow
def test_the_subprocess_fallback_captures_with_more_devices() -> None:
    assert len(jax.devices()) == 8  # the backend has started: 16 needs a fresh process
    cap = capture_target("sample:moe", devices=16, subprocess_fallback=True)
    assert cap.device_count == 16
    assert cap.mesh is not None
    assert cap.mesh.axis_sizes == (16,)
    assert "captured in a subprocess" in cap.notes
    assert cap.hlo is not None
    assert "num_partitions=16" in cap.hlo.splitlines()[0]


def test_a_fresh_process_gets_the_device_count_it_asks_for() -> None:
    # No XLA_FLAGS at all: the sample arranges its 8 devices before jax's backend starts, and a
    # smaller forced count in XLA_FLAGS is raised (jax_num_cpu_devices wins over the flag).
    code = textwrap.dedent(
        """
        import jax, hloscope
        from hloscope import samples
        traced = samples.get("ring_attention").program()
        print(len(jax.devices()), traced.lower().as_text().count('"ring"=8'))
        """
    )
    for flags in ("", "--xla_force_host_platform_device_count=2"):
        env = {"XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        assert out == ["8", "1"], flags


def test_xla_flag_device_count_is_read_from_the_last_occurrence() -> None:
    assert flag_device_count("") is None
    assert flag_device_count("--xla_force_host_platform_device_count=4 --foo") == 4
    assert flag_device_count(
        "--xla_force_host_platform_device_count=4 --xla_force_host_platform_device_count=16"
    ) == 16


@pytest.mark.parametrize(
    ("dtype", "name"),
    [
        (jnp.float32, "f32"),
        (jnp.bfloat16, "bf16"),
        (jnp.bool_, "pred"),
        (jnp.int8, "s8"),
        (jnp.uint32, "u32"),
        (jnp.complex64, "c64"),
        (jnp.float8_e4m3fn, "f8e4m3fn"),
        (jnp.int4, "s4"),
    ],
)
def test_dtypes_are_spelled_as_hlo_spells_them(dtype: Any, name: str) -> None:
    assert hlo_type(jnp.dtype(dtype)) == name


def test_cost_analysis_is_normalized_whatever_shape_jax_returns() -> None:
    raw = {"flops": 10, "bytes accessed": 4.0, "utilization0{}": 1.0, "weird": "text"}
    for form in (raw, [raw]):
        cost = xla_cost_from(form)
        assert cost is not None
        assert (cost.flops, cost.transcendentals, cost.bytes_accessed) == (10.0, 0.0, 4.0)
        assert cost.raw == {"flops": 10.0, "bytes accessed": 4.0, "utilization0{}": 1.0}
    assert xla_cost_from(None) is None
    assert xla_cost_from([]) is None
    assert xla_cost_from({}) is None


@pytest.mark.slow
def test_a_failing_subprocess_capture_passes_its_one_line_on(tmp_path: Any) -> None:
    from hloscope.targets import capture_in_subprocess

    bad = tmp_path / "bad.py"
    bad.write_text("def make():\n    raise ValueError('nope')\n")
    with pytest.raises(CaptureError) as info:
        capture_in_subprocess(f"{bad}:make", devices=2)
    assert info.value.message == f"{bad}:make: ValueError: nope"
    with pytest.raises(InputError, match="unknown sample 'nope'"):
        capture_in_subprocess("sample:nope")
