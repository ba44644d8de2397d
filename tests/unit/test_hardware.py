"""Named hardware: the built-in devices, user TOML files, the measured CPU entry."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from hloscope import hardware
from hloscope.errors import InputError, UsageError
from hloscope.hardware import BUILTIN, Hardware, get_hardware, load_user_hardware
from hloscope.records import Capture, TargetInfo

REAL_MEASURE = hardware.measure_cpu
REQUIRED = ("a100-80g", "h100-sxm", "h200", "b200", "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user file, a private cache, and a CPU 'measurement' that returns at once."""
    monkeypatch.delenv("HLOSCOPE_HARDWARE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(hardware, "measure_cpu", lambda **_: {
        "f32_flops": 5e10, "copy_bytes_per_s": 2e10})


def test_required_devices_exist() -> None:
    assert set(REQUIRED) <= set(BUILTIN)
    assert set(REQUIRED) | {"cpu"} <= set(hardware.names())


@pytest.mark.parametrize("name", REQUIRED)
def test_builtin_figures_are_complete(name: str) -> None:
    hw = BUILTIN[name]
    assert hw.peak_flops["bf16"] > 0
    assert hw.peak_flops["f32"] > 0
    assert hw.peak_flops.get("int8", 0) > 0
    assert hw.hbm_bytes_per_s > 0
    assert hw.hbm_capacity_bytes > 0
    assert hw.link("intra") is not None
    assert all(lk.bytes_per_s > 0 and lk.count > 0 and lk.source for lk in hw.links)
    assert hw.sources
    for dtype in ("f32", "bf16", "f16", "f8e4m3fn", "s8"):
        peak, key = hw.peak_for(dtype)
        assert peak > 0
        assert key in hw.peak_flops


def test_every_builtin_figure_has_a_source_comment() -> None:
    """Each number in a built-in device's peaks, HBM figures and links sits on a line that
    names its source (a `#` comment or a `source=`)."""
    text = inspect.getsource(hardware)
    body = text[text.index("A100_80G = Hardware("):text.index("BUILTIN: Mapping")]
    figure = re.compile(r"^\s*(\"\w+\": |hbm_\w+=|Link\(|bytes_per_s=)")
    lines = body.splitlines()
    bad = []
    checked = 0
    for i, line in enumerate(lines):
        if figure.search(line) and re.search(r"\d", line):
            checked += 1
            context = line + (lines[i + 1] if i + 1 < len(lines) else "")
            if "#" not in line and "source=" not in context and "#" not in lines[i - 1]:
                bad.append(line.strip())
    assert checked >= 60  # the peaks, HBM figures and links of the eight devices
    assert not bad


def test_tpu_fp8_falls_back_to_bf16() -> None:
    peak, key = BUILTIN["tpu-v5e"].peak_for("f8e5m2")
    assert key == "bf16"
    assert peak == BUILTIN["tpu-v5e"].peak_flops["bf16"]
    assert BUILTIN["h100-sxm"].peak_for("f8e4m3fn")[1] == "fp8"
    assert BUILTIN["a100-80g"].ridge("bf16") == pytest.approx(312e12 / 2039e9)


def test_unknown_hardware_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown hardware 'h900'.*h100-sxm"):
        get_hardware("h900")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "hw.toml"
    p.write_text(text)
    return p


GOOD = """
[my-chip]
description = "a test accelerator"
hbm_bytes_per_s = 1.5e12
hbm_capacity_bytes = 64e9
peak_flops = { bf16 = 5e14, f32 = 6e13 }
sources = { bf16 = "our datasheet" }
device_kinds = ["My Chip 1"]
[[my-chip.links]]
name = "fabric"
scope = "intra"
bytes_per_s = 1e11
count = 8
"""


def test_user_file_adds_a_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HLOSCOPE_HARDWARE", str(_write(tmp_path, GOOD)))
    hw = get_hardware("my-chip")
    assert hw.peak_flops == {"bf16": 5e14, "f32": 6e13}
    assert hw.links[0].count == 8
    assert hw.origin.endswith("hw.toml")
    assert "my-chip" in hardware.names()
    assert hardware.by_device_kind("My Chip 1") == hw


def test_user_file_in_the_config_dir_overrides_a_builtin(tmp_path: Path) -> None:
    cfg = tmp_path / "config" / "hloscope"
    cfg.mkdir(parents=True)
    (cfg / "hardware.toml").write_text(GOOD.replace("[my-chip", "[h100-sxm"))
    assert get_hardware("h100-sxm").description == "a test accelerator"


@pytest.mark.parametrize(("text", "message"), [
    ("[x]\nhbm_bytes_per_s = 1e12\n", r"\[x\]: missing peak_flops"),
    ("[x]\npeak_flops = { bf16 = 1e14 }\n", r"\[x\]: missing hbm_bytes_per_s"),
    ("[x]\npeak_flops = { fp64 = 1e14 }\nhbm_bytes_per_s = 1e12\n", "unknown dtype 'fp64'"),
    ("[x]\npeak_flops = { bf16 = -1 }\nhbm_bytes_per_s = 1e12\n", r"bf16 must be > 0"),
    ("[x]\npeak_flops = { bf16 = 'fast' }\nhbm_bytes_per_s = 1e12\n", "must be a number"),
    ("[x]\npeak_flops = { bf16 = 1e14 }\nhbm_bytes_per_s = 1e12\nspeed = 3\n",
     "unknown field"),
    ("[x]\npeak_flops = { bf16 = 1e14 }\nhbm_bytes_per_s = 1e12\n"
     "[[x.links]]\nscope = 'far'\nbytes_per_s = 1e9\n", r"links\[0\]\.scope"),
    ("[x]\npeak_flops = { bf16 = 1e14 }\nhbm_bytes_per_s = 1e12\n"
     "[[x.links]]\nscope = 'inter'\nbytes_per_s = 1e9\ncount = 0\n", "positive integer"),
    ("x = 3\n", r"\[x\] must be a table"),
    ("[x\n", "not valid TOML"),
])
def test_bad_user_files_fail_with_one_clear_line(tmp_path: Path, text: str,
                                                 message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        load_user_hardware(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_named_by_the_environment(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HLOSCOPE_HARDWARE", str(tmp_path / "nope.toml"))
    with pytest.raises(InputError, match="hardware file not found"):
        get_hardware("h100-sxm")


def test_cpu_is_measured_once_and_cached(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(hardware, "measure_cpu", lambda **_: calls.append(1) or {
        "f32_flops": 7e10, "copy_bytes_per_s": 3e10})
    first = get_hardware("cpu")
    second = get_hardware("cpu")
    assert len(calls) == 1
    assert first.peak_flops["f32"] == 7e10 == second.peak_flops["f32"]
    assert first.hbm_bytes_per_s == 3e10
    assert first.measured
    cache = tmp_path / "cache" / "hloscope" / "cpu-calibration.json"
    assert json.loads(cache.read_text())["f32_flops"] == 7e10


def test_cpu_placeholder_says_it_was_not_measured(tmp_path: Path) -> None:
    hw = hardware.cpu_hardware(measure=False, cache=tmp_path / "none.json")
    assert not hw.measured
    assert "not measured" in hw.description


def test_real_measurement_returns_positive_rates() -> None:
    # Tiny sizes: this checks the code path, not the machine's speed.
    got = REAL_MEASURE(matmul_n=32, copy_mib=1, repeats=1)
    assert got["f32_flops"] > 0
    assert got["copy_bytes_per_s"] > 0


def _capture(**kw: object) -> Capture:
    return Capture(name="c", **kw)  # type: ignore[arg-type]


def test_default_hardware_from_the_capture() -> None:
    assert hardware.default_hardware(_capture(device_kind="TPU v5 lite")).name == "tpu-v5e"
    target = TargetInfo(name="h100x8", platform="cuda", hardware="h100-sxm")
    assert hardware.default_hardware(_capture(target=target)).name == "h100-sxm"
    assert hardware.default_hardware(_capture(platform="cpu")).name == "cpu"


def test_to_json_round_trips_the_figures() -> None:
    doc = BUILTIN["tpu-v5p"].to_json()
    assert doc["peak_flops"]["bf16"] == 459e12
    assert doc["links"][0]["name"] == "ici"
    assert isinstance(BUILTIN["tpu-v5p"], Hardware)
