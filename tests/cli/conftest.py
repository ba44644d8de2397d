"""Run the real `hloscope` command (`python -m hloscope`) and check exit code, stdout and stderr
together."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


def run_hloscope(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.pop("COLUMNS", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "hloscope", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def hloscope() -> Run:
    return run_hloscope


def one_error_line(proc: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The single `hloscope: error: ...` line of a failed run (and nothing on stdout)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hloscope: error: ")
    assert "Traceback" not in proc.stderr
    return lines[0].removeprefix("hloscope: error: ")


@pytest.fixture
def error_line() -> Callable[..., str]:
    return one_error_line
