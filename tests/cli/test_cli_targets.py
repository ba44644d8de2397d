"""`--target` / `--mesh` on the command line: a TPU and a GPU capture written and read back, and
one clear line for each misuse (no compile is paid for a bad spec)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from hloscope import compile_targets as ct

Run = Callable[..., subprocess.CompletedProcess[str]]


def _need(platform: str) -> None:
    why = ct.missing_backend(platform)
    if why is not None:
        pytest.skip(f"--target for {platform} needs {why}")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "kind"), [("tpu-v5e:2x2", "TPU v5 lite"), ("h100x8", "NVIDIA H100 80GB HBM3")]
)
def test_capture_for_a_target(hloscope: Run, tmp_path: Path, target: str, kind: str) -> None:
    spec = ct.parse_target(target)
    _need(spec.platform)
    out = tmp_path / "t.hlos"
    proc = hloscope("capture", "sample:mlp", "--target", target, "-o", out)
    assert proc.returncode == 0, proc.stderr
    # libtpu's and the plugin's start-up noise stays in the worker's log.
    assert proc.stderr == ""
    assert f"{spec.device_count} devices on " in proc.stdout
    from hloscope.bundle import load_bundle

    cap = load_bundle(out)
    assert cap.target is not None
    assert (cap.target.name, cap.target.hardware, cap.device_kind) == (
        spec.name, spec.hardware, kind,
    )
    assert len(cap.target.devices) == spec.device_count


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "tpu-v9:2x2"], "target 'tpu-v9:2x2': unknown TPU generation 'v9'"),
        (["--target", "h100x12"], "12 GPUs do not fill whole hosts of 8"),
        (["--target", "tpu-v5e:4x4", "--mesh", "data=4"], "spans 4 devices but tpu-v5e:4x4"),
        (["--target", "h100x8", "--devices", "8"], "--devices and --target both choose"),
        (["--mesh", "data"], "expected NAME=SIZE"),
    ],
)
def test_bad_target_options_are_one_line(
    hloscope: Run, error_line: Callable[..., str], tmp_path: Path, args: list[str], message: str
) -> None:
    proc = hloscope("capture", "sample:transformer", *args, "-o", tmp_path / "x.hlos")
    assert message in error_line(proc)
    assert not (tmp_path / "x.hlos").exists()


def test_target_on_a_file_is_refused(
    hloscope: Run, error_line: Callable[..., str], tmp_path: Path
) -> None:
    hlo = tmp_path / "m.hlo"
    hlo.write_text("HloModule m\n\nENTRY e {\n  ROOT p = f32[2] parameter(0)\n}\n")
    proc = hloscope("dump", hlo, "--target", "tpu-v5e:2x2")
    assert "--target and --mesh compile a program; this is a file" in error_line(proc)


def test_tui_opens_on_the_targets_captures(monkeypatch: pytest.MonkeyPatch) -> None:
    """The TUI gets bundles compiled for --target/--mesh (its loader knows nothing of them)."""
    import sys

    from hloscope.bundle import load_bundle
    from hloscope.cli import build_parser, tui_cmd

    opened: list[tuple[str, ...]] = []

    def run_app(targets: tuple[str, ...], **_: object) -> int:
        opened.append(targets)
        caps = [load_bundle(t) for t in targets]
        assert [c.target.name for c in caps if c.target] == ["cpu:4"]
        assert caps[0].mesh is not None
        assert caps[0].mesh.axis_sizes == (2, 2)
        return 0

    monkeypatch.setattr(tui_cmd, "_tui", lambda: run_app)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    args = build_parser().parse_args(["tui", "sample:transformer", "--mesh", "data=2,model=2"])
    assert tui_cmd.run(args) == 0
    assert len(opened) == 1
