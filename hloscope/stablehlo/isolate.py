"""Read StableHLO in a child process, so a crash of jaxlib's native MLIR parser becomes an
error line instead of a dead process (or TUI).

jaxlib's parser overflows its stack and segfaults on some inputs (a type nested 100,000 deep
does it); the corpus README names such hazards. The child parses and converts, then sends our
IR back as JSON (`serial.py`). Measured with `benchmarks/stablehlo.py` on a 48-layer
transformer's value_and_grad (1.3 MB, 9,637 ops; CPU seconds, 2-core machine): in-process
0.32 s, isolated 1.0 s (child start-up without jax ~0.3 s, JSON encode and decode ~0.3 s).
Full isolation rather than a probe parse: the conversion walks native objects too (jaxlib
aborts the process when Python reads some attributes, see attrtext.py), and the caller needs no
jax at all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from hloscope.errors import InputError, ParseError
from hloscope.stablehlo import serial
from hloscope.stablehlo.model import StableModule

BASE_TIMEOUT_S = 60.0
TIMEOUT_S_PER_MB = 2.0


def read_isolated(
    data: str | bytes, *, source: str | None = None, timeout_s: float | None = None
) -> StableModule:
    """Like `reader.read`, in a subprocess. Raises ParseError for bad MLIR and InputError when
    the native parser crashes or runs past `timeout_s` (default: 60 s + 2 s per MB)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    name = source or "<text>"
    if timeout_s is None:
        timeout_s = BASE_TIMEOUT_S + TIMEOUT_S_PER_MB * len(raw) / 1e6
    cmd = [sys.executable, "-m", "hloscope.stablehlo._worker"]
    if source is not None:
        cmd += ["--source", source]
    try:
        proc = subprocess.run(
            cmd, input=raw, capture_output=True, timeout=timeout_s, check=False,
            env=_child_env(),
        )
    except subprocess.TimeoutExpired:
        raise InputError(
            f"{name}: reading this StableHLO took over {timeout_s:.0f} s; gave up"
        ) from None
    if proc.returncode != 0:
        raise InputError(f"{name}: {_death(proc.returncode)} while reading this StableHLO; "
                         "the file is not MLIR this jaxlib can read")
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError(
            f"StableHLO reader child sent no result: {proc.stderr.decode(errors='replace')}"
        ) from None
    if "error" in doc:
        e = doc["error"]
        if "message" in e:
            raise InputError(e["message"])
        raise ParseError(e["reason"], file=e["file"], line=e["line"], column=e["column"])
    if "bug" in doc:
        raise RuntimeError(f"StableHLO reader failed in its child process:\n{doc['bug']}")
    return serial.from_json(doc["module"])


def _death(returncode: int) -> str:
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode).name
        except ValueError:
            sig = f"signal {-returncode}"
        return f"jaxlib's MLIR parser crashed ({sig})"
    return f"the reader process exited with status {returncode}"


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Find this hloscope even when it runs from a checkout that is not installed.
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    # The child only parses MLIR: no accelerator, no device count, no noisy logs.
    env["JAX_PLATFORMS"] = "cpu"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env
