"""A capture that holds StableHLO only (a `.mlir` file): the summary describes it, and bad
StableHLO is an input error (exit 2, one line) in `dump` and `diff`, never a clean summary or
a 'different' verdict."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import Run

GOOD = """module @jit_f attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4xf32>) -> (tensor<4xf32>) {
    %0 = stablehlo.add %arg0, %arg0 : tensor<4xf32>
    %1 = stablehlo.multiply %0, %0 : tensor<4xf32>
    return %1 : tensor<4xf32>
  }
}
"""


def test_summary_describes_stablehlo(tmp_path: Path, hloscope: Run) -> None:
    f = tmp_path / "f.mlir"
    f.write_text(GOOD)
    proc = hloscope("dump", str(f), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["module"] is None
    assert doc["stablehlo"] == {
        "name": "jit_f",
        "functions": 1,
        "ops": 3,
        "num_partitions": 1,
        "num_replicas": 1,
        "top_ops": {"func.return": 1, "stablehlo.add": 1, "stablehlo.multiply": 1},
    }
    text = hloscope("dump", str(f))
    assert text.returncode == 0
    assert "3 ops in 1 functions" in text.stdout


def test_bad_stablehlo_is_an_input_error(
    tmp_path: Path, hloscope: Run, error_line: Callable[..., str]
) -> None:
    bad = tmp_path / "bad.mlir"
    bad.write_text(GOOD.replace("stablehlo.multiply %0, %0", "stablehlo.multiply %0,"))
    for args in (("dump", str(bad)), ("dump", str(bad), "--json"), ("diff", str(bad), str(bad))):
        assert error_line(hloscope(*args)).startswith(f"{bad}:4:"), args


def test_bad_hlo_in_diff_is_an_input_error(
    tmp_path: Path, hloscope: Run, error_line: Callable[..., str]
) -> None:
    bad = tmp_path / "bad.hlo"
    bad.write_text("HloModule m\nENTRY e {\n  ROOT p = f32[2] parameter(0\n}\n")
    assert error_line(hloscope("diff", str(bad), str(bad))) == (
        f"{bad}:4:1: expected ')' after the parameter number, found '}}'"
    )
