"""The cost views through the real command and through the API.

- `hloscope dump TARGET --view ops|fusions|roofline|source [--hardware NAME] [--top N]
  [--json]`: exit codes, the documented JSON keys, estimates labelled with the hardware.
- Every sample renders per-kernel tables on every named hardware (API, one capture each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.jax]

VIEWS = ("ops", "fusions", "roofline", "source")


def _run(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.pop("COLUMNS", None)
    full.update(env)
    return subprocess.run([sys.executable, "-m", "hloscope", *map(str, args)], env=full,
                          capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A private cache with a CPU calibration already in it (no measuring in these tests),
    and no user hardware file."""
    from hloscope.hardware import _cpu_key

    root = tmp_path_factory.mktemp("cost_views")
    cache = root / "cache" / "hloscope"
    cache.mkdir(parents=True)
    (cache / "cpu-calibration.json").write_text(json.dumps({
        "key": _cpu_key(), "measured_at": 0, "f32_flops": 5e10, "copy_bytes_per_s": 1e10}))
    return {"XDG_CACHE_HOME": str(root / "cache"), "XDG_CONFIG_HOME": str(root / "config"),
            "HLOSCOPE_HARDWARE": ""}


@pytest.fixture(scope="module")
def bundle(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "scan.hlos"
    proc = _run("capture", "sample:scan", "-o", out, env=env)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("view", VIEWS)
def test_json_has_the_documented_keys(view: str, bundle: Path, env: dict[str, str]) -> None:
    proc = _run("dump", bundle, "--view", view, "--hardware", "tpu-v5p", "--top", "3",
                "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)
    assert doc["view"] == view
    cost = doc["cost"]
    for key in ("flops", "bytes_accessed", "transcendentals"):
        assert isinstance(cost["total"][key], float)
    # The scan sample loops: executed counts the trips, total is XLA's (body once).
    assert cost["executed"]["flops"] > cost["total"]["flops"]
    xla = doc["xla"]["cost"]
    assert cost["total"]["flops"] == pytest.approx(xla["flops"], rel=1e-4)
    assert cost["unknown_ops"] == {}
    kernels = doc["kernels"]
    assert kernels
    for k in kernels:
        assert {"name", "kind", "flops", "bytes_accessed", "source", "estimated_s",
                "bound"} <= set(k)
        assert k["hardware"] == "tpu-v5p"


def test_without_hardware_fusions_have_no_estimates(bundle: Path,
                                                    env: dict[str, str]) -> None:
    proc = _run("dump", bundle, "--view", "fusions", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert all("estimated_s" not in k for k in doc["kernels"])
    assert doc["fusions"]["kernel_count"] == len(doc["kernels"])


def test_roofline_text_names_the_hardware(bundle: Path, env: dict[str, str]) -> None:
    proc = _run("dump", bundle, "--view", "roofline", "--hardware", "h100-sxm", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "estimate on h100-sxm" in proc.stdout
    assert "estimated step" in proc.stdout
    assert "\x1b[" not in proc.stdout


def test_roofline_defaults_to_this_cpu_measured(bundle: Path, env: dict[str, str]) -> None:
    proc = _run("dump", bundle, "--view", "roofline", "--json", env=env)
    doc = json.loads(proc.stdout)
    assert doc["roofline"]["hardware"]["name"] == "cpu"
    assert doc["roofline"]["hardware"]["measured"] is True
    assert doc["roofline"]["label"] == "estimate on cpu"


def test_unknown_hardware_is_one_error_line(bundle: Path, env: dict[str, str]) -> None:
    proc = _run("dump", bundle, "--view", "roofline", "--hardware", "h900", env=env)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("hloscope: error: unknown hardware 'h900'")
    assert len(proc.stderr.splitlines()) == 1


def test_user_hardware_file_is_used(bundle: Path, env: dict[str, str],
                                    tmp_path: Path) -> None:
    hw = tmp_path / "hw.toml"
    hw.write_text('[lab-chip]\npeak_flops = { bf16 = 1e15, f32 = 1e14 }\n'
                  'hbm_bytes_per_s = 2e12\n')
    proc = _run("dump", bundle, "--view", "roofline", "--hardware", "lab-chip", "--json",
                env={**env, "HLOSCOPE_HARDWARE": str(hw)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["roofline"]["hardware"]["origin"] == str(hw)
    bad = tmp_path / "bad.toml"
    bad.write_text("[lab-chip]\nhbm_bytes_per_s = 2e12\n")
    proc = _run("dump", bundle, "--view", "roofline", "--hardware", "lab-chip",
                env={**env, "HLOSCOPE_HARDWARE": str(bad)})
    assert proc.returncode == 2
    assert "missing peak_flops" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- every sample, every hardware (API) -----------------------------------------------------


def _names() -> tuple[str, ...]:
    from hloscope import samples

    return samples.names()


@pytest.mark.slow
@pytest.mark.parametrize("name", _names())
def test_every_sample_renders_on_every_hardware(name: str, env: dict[str, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    import hloscope
    from hloscope.hardware import names as hardware_names
    from hloscope.views import ViewOptions, load_view

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("HLOSCOPE_HARDWARE")
    cap = hloscope.capture(f"sample:{name}")
    base = hloscope.analyze(cap)
    for i, hw in enumerate(hardware_names()):
        analysis = base.with_hardware(hw)
        opts = ViewOptions(top=5, hardware=hw)
        # The per-kernel tables on every device; the other two views once.
        for view in VIEWS if i == 0 else ("fusions", "roofline"):
            mod: Any = load_view(view)
            doc = mod.to_json(analysis, opts)
            assert doc["kernels"], (name, hw, view)
            assert all(k["hardware"] == hw for k in doc["kernels"])
            console = Console(width=140, record=True, file=open(os.devnull, "w"))
            mod.render(analysis, console, opts)
            text = console.export_text()
            if view in ("roofline", "fusions", "source"):
                assert hw in text, (name, hw, view)
        roof = analysis.roofline
        assert roof.step_s > 0
        assert roof.hardware.name == hw


def test_kernels_link_their_stablehlo_ops(env: dict[str, str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import hloscope

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    analysis = hloscope.analyze(hloscope.capture("sample:mlp"))
    module = analysis.module
    matmuls = [k for k in analysis.fusion.kernels if k.category == "matmul"]
    assert matmuls
    assert "stablehlo" not in analysis.__dict__  # kernels are made without reading it
    links = analysis.stablehlo_links
    stable = analysis.stablehlo
    checked = 0
    for k in matmuls:
        names = {stable.ops[i].name for i in links.kernel_ops(k.name)}
        assert names, k.name  # every matmul kernel points at the ops its lines made
        comp = module.by_name[k.computation]
        inner = [comp.by_name[k.name]] if k.kind == "unfused" else \
            module.by_name[comp.by_name[k.name].called[0]].instructions
        # XLA may fold a transpose into a dot and keep the transpose's metadata: check the
        # kernels whose dot says it came from a dot_general.
        if any(i.opcode == "dot" and i.op_name.endswith("/dot_general") for i in inner):
            checked += 1
            assert "stablehlo.dot_general" in names, (k.name, names)
    assert checked >= 3
    # Every line of the per-line report that has ops lists those of StableModule.ops_at.
    for line in analysis.fusion.by_source:
        path, _, num = line.rpartition(":")
        if num.isdigit():
            assert links.line_ops(line) == tuple(op.id for op in stable.ops_at(path, int(num)))
    # The fusions view's JSON lists each kernel's ops (reading the StableHLO for them).
    from hloscope.views import ViewOptions, load_view

    doc = load_view("fusions").to_json(analysis, ViewOptions(top=5))
    assert "stablehlo_unavailable" not in doc["fusions"]
    assert {k["name"]: tuple(k["stablehlo_ops"]) for k in doc["kernels"]} == {
        k.name: links.kernel_ops(k.name) for k in analysis.fusion.kernels}
