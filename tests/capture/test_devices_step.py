"""The per-device step and the module step are one figure: a device taking part in every
collective has exactly the roofline's compute / memory / collective split."""

from __future__ import annotations

import math

import pytest

import hloscope

pytestmark = pytest.mark.jax


@pytest.mark.parametrize("sample", ["transformer", "ring_attention"])
def test_device_step_matches_the_roofline(sample: str) -> None:
    a = hloscope.analyze(hloscope.capture(f"sample:{sample}"), "h100-sxm")
    r, devices = a.roofline, a.devices.devices
    everywhere = [d for d in devices if d.collectives == max(x.collectives for x in devices)]
    assert everywhere
    for d in everywhere:
        assert math.isclose(d.compute_s, r.compute_s, rel_tol=1e-9, abs_tol=1e-15)
        assert math.isclose(d.memory_s, r.memory_s, rel_tol=1e-9, abs_tol=1e-15)
        assert math.isclose(d.collective_s, r.collective_s, rel_tol=1e-9, abs_tol=1e-15)
        assert math.isclose(d.estimated_s, r.step_s, rel_tol=1e-9)
    # No device's step exceeds what the module's collectives allow it.
    assert max(d.estimated_s for d in devices) <= r.step_s * (1 + 1e-9)
