"""Shared test settings.

Fake CPU devices: jax reads XLA_FLAGS when its backend starts, so this runs before any test
imports jax. Eight devices cover every sample; bigger counts run in subprocesses.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

REPO = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path:
    """The shared corpus of real XLA/StableHLO files (`../shared/corpus` beside the repo, or
    $HLOSCOPE_CORPUS)."""
    env = os.environ.get("HLOSCOPE_CORPUS")
    return Path(env) if env else REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    if not path.is_dir():
        # Loud, not silent: CI lays ../shared beside the clone, so a missing corpus is a setup bug.
        pytest.fail(f"corpus not found at {path}; set HLOSCOPE_CORPUS")
    return path
