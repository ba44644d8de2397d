"""Factories as TARGETs (`file.py:factory`, `package.module:factory`), `--devices`, progress on
a terminal, and Ctrl-C."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]

MODEL = '''
import jax, jax.numpy as jnp
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

X = jax.ShapeDtypeStruct((8, 16), jnp.float32)
W = jax.ShapeDtypeStruct((16, 4), jnp.float32)

def layer(x, w, scale=1.0):
    return jnp.tanh(x @ w) * scale

def traced():
    return jax.jit(layer).trace(X, W)

def lowered():
    return traced().lower()

def compiled():
    return lowered().compile()

def pair():
    return (layer, (X, W))

def triple():
    return (layer, [X, W], {"scale": 2.0})

def sharded():
    n = len(jax.devices())
    mesh = jax.make_mesh((n,), ("data",), axis_types=(AxisType.Auto,))
    x = jax.ShapeDtypeStruct((8 * n, 16), jnp.float32, sharding=NamedSharding(mesh, P("data")))
    w = jax.ShapeDtypeStruct((16, 4), jnp.float32, sharding=NamedSharding(mesh, P()))
    return (layer, (x, w))
'''

SLOW = '''
import pathlib, sys, time
def make():
    pathlib.Path(sys.argv[0]).parent  # noqa
    pathlib.Path(MARKER).write_text("started")
    time.sleep(120)
'''


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return path


def dump_json(hloscope: Run, *args: str | os.PathLike[str], **kw: object) -> dict:
    proc = hloscope("dump", *args, "--json", **kw)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return json.loads(proc.stdout)


@pytest.mark.parametrize("factory", ["traced", "lowered", "compiled", "pair", "triple"])
def test_every_kind_of_factory_result(hloscope: Run, model: Path, factory: str) -> None:
    doc = dump_json(hloscope, f"{model}:{factory}")
    assert doc["name"] == "jit_layer"
    assert doc["origin"] == f"{model}:{factory}"
    assert doc["module"]["instructions"] > 0
    assert doc["parts"]["jaxpr"] is (factory not in ("lowered", "compiled"))
    assert doc["parts"]["stablehlo"] is (factory != "compiled")
    inputs = [s["shape"] for s in doc["shardings"]["inputs"]]
    assert inputs == (["f32[8,16]", "f32[16,4]", "f32[]"] if factory == "triple"
                      else ["f32[8,16]", "f32[16,4]"])


def test_a_package_module_factory_from_the_current_folder(hloscope: Run, model: Path) -> None:
    pkg = model.parent / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(MODEL)
    doc = dump_json(hloscope, "mypkg.nets:pair", cwd=model.parent)
    assert doc["name"] == "jit_layer"


@pytest.mark.parametrize("devices", [2, 16])
def test_devices_gives_a_factory_fake_cpu_devices(
    hloscope: Run, model: Path, devices: int
) -> None:
    # 16 is more than the 8 XLA_FLAGS asks for: jax_num_cpu_devices wins before start-up.
    doc = dump_json(hloscope, f"{model}:sharded", "--devices", str(devices))
    assert doc["device_count"] == devices
    assert doc["mesh"]["axis_sizes"] == [devices]
    assert doc["module"]["num_partitions"] == devices


def test_a_script_that_sets_its_own_device_count_at_import(hloscope: Run, tmp_path: Path) -> None:
    path = tmp_path / "script.py"
    path.write_text('import jax\njax.config.update("jax_num_cpu_devices", 4)\n' + MODEL)
    doc = dump_json(hloscope, f"{path}:sharded", env={"XLA_FLAGS": ""})
    assert doc["device_count"] == 4


def test_capture_writes_a_bundle_that_dump_reads_back(
    hloscope: Run, model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "layer.hlos"
    proc = hloscope("capture", f"{model}:pair", "-o", out)
    assert proc.returncode == 0, proc.stderr
    direct = dump_json(hloscope, f"{model}:pair")
    loaded = dump_json(hloscope, out)
    for doc in (direct, loaded):
        doc.pop("timings_s")
    assert loaded == direct


def test_ctrl_c_exits_130(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    slow = tmp_path / "slow.py"
    slow.write_text(f"MARKER = {str(marker)!r}\n" + SLOW)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hloscope", "dump", f"{slow}:make"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert (out, err) == ("", "hloscope: interrupted\n")


def test_progress_shows_on_a_terminal_and_only_there(hloscope: Run) -> None:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hloscope", "dump", "sample:mlp", "--json"],
        stdout=subprocess.PIPE, stderr=follower, text=True,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process is done with it
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=300)
    os.close(leader)
    seen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "compiling sample:mlp" in seen
    assert json.loads(out)["name"] == "jit_mlp_step"  # stdout is the report alone
    assert hloscope("dump", "sample:mlp", "--json").stderr == ""  # not a terminal: silent
