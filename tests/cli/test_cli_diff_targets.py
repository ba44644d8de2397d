"""`hloscope diff A B --target-a SPEC --target-b SPEC` (and `--mesh-a/-b`): one program on two
targets in one command; every side's spec checked before anything compiles."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from hloscope.diffing import SideTarget, cli_flag, side_targets
from hloscope.errors import UsageError

Run = Callable[..., subprocess.CompletedProcess[str]]

T = "sample:transformer"
BUNDLE = Path(__file__).resolve().parent.parent / "tui" / "data" / "transformer.hlos"


def test_transformer_on_4_and_8_cpu_devices(hloscope: Run) -> None:
    proc = hloscope("diff", T, T, "--target-a", "cpu:4", "--target-b", "cpu:8", "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    a, b = doc["a"], doc["b"]
    assert (a["devices"], b["devices"]) == (4, 8)
    assert (a["mesh"], b["mesh"]) == ("data=2 × model=2", "data=4 × model=2")
    assert (a["label"], b["label"]) == (f"{T} on cpu:4", f"{T} on cpu:8")
    assert a["hardware"] == b["hardware"] == "cpu"  # each side's own target's entry
    assert doc["identical"] is False
    totals = doc["totals"]
    # Twice the data-parallel devices: half the FLOPs per device.
    assert totals["b"]["flops"] == pytest.approx(totals["a"]["flops"] / 2, rel=0.01)
    assert totals["b"]["peak_bytes"] < totals["a"]["peak_bytes"]


def test_shared_target_with_one_side_overridden(hloscope: Run) -> None:
    """`--target` serves the side without its own; the text report labels both."""
    proc = hloscope("diff", "sample:mlp", "sample:mlp", "--target", "cpu:2", "--target-b", "cpu:4")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("A  sample:mlp: ")
    assert "2 devices" in lines[0]
    assert lines[1].startswith("B  sample:mlp on cpu:4: ")
    assert "4 devices" in lines[1]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--target-b", "cpu:x"), "--target-b: unknown target 'cpu:x'; expected one of: "),
        (
            ("--target-a", "tpu-v9:2x2"),
            "--target-a: target 'tpu-v9:2x2': unknown TPU generation 'v9'",
        ),
        (
            ("--target", "cpu:4", "--target-a", "cpu:2", "--target-b", "cpu:8"),
            "--target applies to neither side when --target-a and --target-b are both given",
        ),
        (
            ("--target-b", "cpu:8", "--mesh-b", "data=2,model=2"),
            "--mesh-b data=2,model=2 spans 4 devices but cpu:8 has 8",
        ),
        (("--mesh-a", "data=2,model"), "--mesh-a 'data=2,model': expected NAME=SIZE"),
        (
            ("--devices", "4", "--target-b", "cpu:8"),
            "--devices and --target-b both choose B's devices; give one",
        ),
    ],
)
def test_bad_side_options_are_one_line(
    hloscope: Run, error_line: Callable[..., str], args: tuple[str, ...], expected: str
) -> None:
    assert error_line(hloscope("diff", T, T, *args)).startswith(expected)


def test_a_side_target_on_a_file_is_refused(hloscope: Run, error_line: Callable[..., str]) -> None:
    msg = error_line(hloscope("diff", BUNDLE, T, "--target-a", "cpu:4"))
    assert msg == (
        f"--target-a: A ({BUNDLE}) is a file to read; only a program (sample:NAME, "
        "file.py:factory) is compiled for a target"
    )


def test_tui_checks_the_same_options(hloscope: Run, error_line: Callable[..., str]) -> None:
    """Without a terminal the TUI falls back to a summary, after the same checks."""
    assert error_line(hloscope("tui", T, T, "--target-b", "cpu:x")).startswith(
        "--target-b: unknown target 'cpu:x'"
    )
    assert error_line(hloscope("tui", T, "--target-a", "cpu:4")) == (
        "--target-a/--target-b and --mesh-a/--mesh-b need two TARGETs (A and B), got 1"
    )


def test_side_targets_resolution() -> None:
    """Own option over the shared one; the shared one skips a file; mesh alone kept as given
    (capture turns it into cpu:N)."""
    a, b = side_targets(T, T, target="cpu:8", target_b="cpu:4", flag=cli_flag)
    assert (a, b) == (SideTarget("cpu:8"), SideTarget("cpu:4", own=True))
    a, b = side_targets(str(BUNDLE), T, target="cpu:8")
    assert (a, b) == (SideTarget(), SideTarget("cpu:8"))
    a, b = side_targets(T, T, mesh_a="data=2,model=2")
    assert (a, b) == (SideTarget(mesh="data=2,model=2", own=True), SideTarget())
    with pytest.raises(UsageError, match=r"^target_b: unknown target 'nope'"):
        side_targets(T, T, target_b="nope")


def test_side_targets_for_factories_and_files() -> None:
    """A factory is compiled, so the shared target serves it; a shared target that serves
    neither side (two files) is refused rather than ignored."""
    from hloscope.samples.transformer import data_parallel

    a, b = side_targets(data_parallel, str(BUNDLE), target="cpu:4")
    assert (a, b) == (SideTarget("cpu:4"), SideTarget())
    with pytest.raises(UsageError, match=r"^--target: neither side is compiled here"):
        side_targets(str(BUNDLE), str(BUNDLE), target="cpu:4", flag=cli_flag)


def test_api_diff_of_a_factory_on_two_targets() -> None:
    """`hloscope.diff(factory, factory, target_a=, target_b=)` compiles each side for its
    own target (it once dropped the target of a factory silently)."""
    import hloscope
    from hloscope.samples.transformer import data_parallel

    report = hloscope.diff(data_parallel, data_parallel, target_a="cpu:4", target_b="cpu:8")
    assert (report.a.devices, report.b.devices) == (4, 8)
    assert (report.a.mesh, report.b.mesh) == ("data=2 × model=2", "data=4 × model=2")
    assert not report.identical


@pytest.mark.slow
def test_tpu_against_gpu(hloscope: Run) -> None:
    """The example of the README; needs both compile extras (minutes of compiling)."""
    from hloscope.compile_targets import missing_backend

    for platform in ("tpu", "cuda"):
        why = missing_backend(platform)
        if why is not None:
            print(f"skipped: {why}")
            pytest.skip(why)
    proc = hloscope(
        "diff", T, T, "--target-a", "tpu-v5e:2x2", "--target-b", "h100x8", "--json", timeout=1200
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["a"]["platform"], doc["b"]["platform"]) == ("tpu", "gpu")  # jax's name
    assert (doc["a"]["devices"], doc["b"]["devices"]) == (4, 8)
    assert doc["a"]["hardware"] != doc["b"]["hardware"]


def test_a_side_error_names_its_side(hloscope: Run, error_line: Callable[..., str]) -> None:
    """Both sides are the same program: an error from one says which side it is."""
    proc = hloscope("diff", T, T, "--mesh-b", "data=3,model=1")
    assert error_line(proc) == (
        "B (sample:transformer mesh data=3,model=1): this sample needs a device count that is "
        "a positive multiple of 2, got 3"
    )
