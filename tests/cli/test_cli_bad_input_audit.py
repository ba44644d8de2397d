"""Hostile input found by the bad-input audit: each case once printed a traceback, exited 0/1,
hung, replaced a device node or wrote its output despite Ctrl-C. Now: one `hloscope: error:`
line and exit 2 (3 when the user's code failed, 130 on Ctrl-C), nothing written."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hloscope.bundle import to_bytes
from hloscope.records import Capture, MeshInfo, XlaCost

Run = Callable[..., subprocess.CompletedProcess[str]]
ErrorLine = Callable[..., str]

HLO = "HloModule m\n\nENTRY %e () -> f32[] {\n  ROOT %c = f32[] constant(1)\n}\n"

FACTORIES = """
import gc, os, signal, sys
import jax, jax.numpy as jnp

X = jax.ShapeDtypeStruct((4, 3), jnp.float32)

def exits():
    sys.exit(5)

def exits_ok():
    sys.exit(0)

def exits_in_fn():
    def f(a):
        sys.exit(9)
    return (f, (X,))

def base_exception():
    raise BaseException("not an Exception")

def prints():
    print("chatter from the factory")
    return (lambda a: a * 2, (X,))

def interrupted_in_gc():
    # Ctrl-C landing in a gc callback: Python prints it as "Exception ignored" and goes on.
    def callback(phase, info):
        if phase == "start" and callback in gc.callbacks:
            gc.callbacks.remove(callback)
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
    gc.callbacks.append(callback)
    gc.collect()
    return (lambda a: a * 2, (X,))
"""


@pytest.fixture
def factories(tmp_path: Path) -> Path:
    path = tmp_path / "factories.py"
    path.write_text(FACTORIES)
    (tmp_path / "exit_on_import.py").write_text("import sys\nsys.exit(4)\n")
    return path


def _bundle(path: Path, capture: dict[str, Any]) -> Path:
    """A bundle whose manifest's capture record has `capture`'s values."""
    good = to_bytes(
        Capture(
            name="m",
            hlo=HLO,
            device_count=4,
            mesh=MeshInfo(axis_names=("data",), axis_sizes=(4,), device_ids=(0, 1, 2, 3)),
            xla_cost=XlaCost(flops=1.0, transcendentals=0.0, bytes_accessed=4.0),
        )
    )
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    for key, value in capture.items():
        record = manifest["capture"]
        *parents, last = key.split(".")
        for parent in parents:
            record = record[parent]
        record[last] = value
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"device_count": 0}, "capture.device_count must be >= 1, got 0"),
        ({"hlo_first_line": -5}, "capture.hlo_first_line must be >= 1, got -5"),
        (
            {"mesh.axis_names": ["data", "model"]},
            "capture.mesh: axis names, sizes and types differ in number",
        ),
        ({"mesh.axis_sizes": [-4]}, "capture.mesh.axis_sizes must be >= 1, got (-4,)"),
        ({"mesh.device_ids": [0, 0, 1, 2]}, "capture.mesh.device_ids must be 4 distinct ids >= 0"),
        ({"timings_s.trace": float("nan")}, "capture.timings_s.trace is not a number (NaN)"),
    ],
)
@pytest.mark.parametrize("view", ["summary", "devices"])
def test_a_bundle_with_impossible_capture_values(
    hloscope: Run,
    error_line: ErrorLine,
    tmp_path: Path,
    values: dict[str, Any],
    message: str,
    view: str,
) -> None:
    # Were: a wrong number shown ('-5 devices'), or a traceback in the mesh views.
    path = _bundle(tmp_path / "b.hlos", values)
    assert error_line(hloscope("dump", path, "--view", view)) == f"{path}: {message}"


def test_a_bundle_with_a_nan_figure(hloscope: Run, error_line: ErrorLine, tmp_path: Path) -> None:
    # Was: 'XLA cost  nan FLOP' in the summary.
    path = _bundle(tmp_path / "b.hlos", {"xla_cost.flops": float("nan")})
    assert (
        error_line(hloscope("dump", path))
        == f"{path}: capture.xla_cost.flops is not a number (NaN)"
    )


def test_tui_without_a_terminal_reports_a_bad_bundle(
    hloscope: Run, error_line: ErrorLine, tmp_path: Path
) -> None:
    path = _bundle(tmp_path / "b.hlos", {"mesh.axis_names": []})
    assert error_line(hloscope("tui", path)).startswith(f"{path}: capture.mesh")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("exits", "{f}:exits: the program called sys.exit(5)"),
        ("exits_ok", "{f}:exits_ok: the program called sys.exit(0)"),
        ("exits_in_fn", "{f}:exits_in_fn: trace failed: the program called sys.exit(9)"),
        ("base_exception", "{f}:base_exception: BaseException: not an Exception"),
    ],
)
def test_a_factory_that_exits_is_a_failed_capture(
    hloscope: Run, error_line: ErrorLine, factories: Path, name: str, message: str
) -> None:
    # Were: hloscope exited with the factory's code (0 with no output for sys.exit(0)), or a
    # traceback for a BaseException.
    proc = hloscope("capture", f"{factories}:{name}", "-o", factories.parent / "x.hlos")
    assert error_line(proc, code=3) == message.format(f=factories)
    assert not (factories.parent / "x.hlos").exists()


def test_a_module_that_exits_on_import(
    hloscope: Run, error_line: ErrorLine, factories: Path
) -> None:
    path = factories.parent / "exit_on_import.py"
    assert error_line(hloscope("dump", f"{path}:make"), code=3) == (
        f"importing {path} failed: the program called sys.exit(4)"
    )


def test_a_factory_printing_leaves_stdout_to_the_json(hloscope: Run, factories: Path) -> None:
    proc = hloscope("dump", f"{factories}:prints", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["view"] == "summary"
    assert "chatter from the factory" in proc.stderr


@pytest.mark.parametrize("count", ["99999999999", "100000"])
def test_too_many_devices(hloscope: Run, error_line: ErrorLine, count: str) -> None:
    # Were: a traceback from jaxlib (int overflow), or minutes making 100000 fake devices.
    assert error_line(hloscope("dump", "sample:mlp", "--devices", count)) == (
        f"--devices must be 1..4096, got {count}"
    )


def test_output_onto_a_fifo_writes_into_it(hloscope: Run, tmp_path: Path) -> None:
    # Was: the bundle renamed over the FIFO (as root, `-o /dev/full` replaced the device node).
    src = Capture(name="m", hlo=HLO).save(tmp_path / "src.hlos")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = hloscope("capture", src, "-o", fifo, timeout=60)
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert got == [src.read_bytes()]


def test_ctrl_c_swallowed_by_jax_still_stops_before_writing(factories: Path) -> None:
    # Was: "Exception ignored in: <gc callback> ... KeyboardInterrupt", then the capture went
    # on, wrote its bundle and exited 0.
    out = factories.parent / "x.hlos"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hloscope",
            "capture",
            f"{factories}:interrupted_in_gc",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert proc.stderr == "hloscope: interrupted\n"
    assert proc.stdout == ""
    assert not out.exists()
    assert [p.name for p in factories.parent.iterdir() if p.name.startswith(".x.hlos")] == []


HARDWARE = "[g]\npeak_flops = {{ f32 = 1e12 }}\nhbm_bytes_per_s = 1e12\n{extra}\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("links = 3", "[g].links must be an array of tables ([[name.links]]), got 3"),
        ("device_kinds = 5", "[g].device_kinds must be an array of strings, got 5"),
        ('device_kinds = "cpu"', "[g].device_kinds must be an array of strings, got 'cpu'"),
        ("hbm_capacity_bytes = -5", "[g].hbm_capacity_bytes must be >= 0 and finite, got -5"),
    ],
)
def test_bad_user_hardware_files(
    hloscope: Run, error_line: ErrorLine, tmp_path: Path, extra: str, message: str
) -> None:
    toml = tmp_path / "hw.toml"
    toml.write_text(HARDWARE.format(extra=extra))
    src = Capture(name="m", hlo=HLO).save(tmp_path / "src.hlos")
    proc = hloscope(
        "dump", src, "--view", "roofline", "--hardware", "g", env={"HLOSCOPE_HARDWARE": str(toml)}
    )
    assert error_line(proc) == f"{toml}: {message}"


def test_an_infinite_bandwidth_in_a_hardware_file(
    hloscope: Run, error_line: ErrorLine, tmp_path: Path
) -> None:
    toml = tmp_path / "hw.toml"
    toml.write_text("[g]\npeak_flops = { f32 = 1e12 }\nhbm_bytes_per_s = inf\n")
    src = Capture(name="m", hlo=HLO).save(tmp_path / "src.hlos")
    proc = hloscope(
        "dump", src, "--view", "roofline", "--hardware", "g", env={"HLOSCOPE_HARDWARE": str(toml)}
    )
    assert error_line(proc) == f"{toml}: [g].hbm_bytes_per_s must be > 0 and finite, got inf"
