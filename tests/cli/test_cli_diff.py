"""`hloscope diff A B`: exit 0 for the same program, 1 for different ones, 2 for bad input;
the text report on stdout and nothing else; `--json` with schema `hloscope.diff/1`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]

DATA = Path(__file__).resolve().parent.parent / "data" / "diff"
FUSED = DATA / "fused.hlo"
SPLIT = DATA / "split.hlo"


def test_the_same_file_twice_has_no_differences(hloscope: Run) -> None:
    proc = hloscope("diff", FUSED, FUSED)
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"A  {FUSED}: m")
    assert lines[2] == "no differences"


def test_different_programs_exit_1_with_the_report(hloscope: Run) -> None:
    proc = hloscope("diff", FUSED, SPLIT, "--hardware", "h100-sxm")
    assert (proc.returncode, proc.stderr) == (1, "")
    out = proc.stdout
    assert "\x1b" not in out
    assert "est. step time (h100-sxm)" in out
    assert "kernels: 1 split" in out
    assert "fusion → add_fusion +1" in out
    for line in out.splitlines():
        assert len(line) <= 100
        assert line == line.rstrip()


def test_json_document(hloscope: Run) -> None:
    proc = hloscope("diff", FUSED, SPLIT, "--json", "--hardware", "h100-sxm")
    assert (proc.returncode, proc.stderr) == (1, "")
    doc = json.loads(proc.stdout)
    assert proc.stdout == json.dumps(doc, sort_keys=True, indent=2) + "\n"
    assert doc["schema"] == "hloscope.diff/1"
    assert doc["identical"] is False
    assert doc["totals"]["a"]["kernels"] == 2
    assert doc["totals"]["b"]["kernels"] == 3
    assert doc["collectives"]["added"] == doc["collectives"]["removed"] == []
    assert doc["kernels"]["added"] == doc["kernels"]["removed"] == []
    assert [k["b"] for k in doc["kernels"]["split"]] == [["add_fusion", "mul_fusion"]]
    assert (doc["a"]["label"], doc["b"]["label"]) == (str(FUSED), str(SPLIT))


def test_json_of_identical_programs(hloscope: Run) -> None:
    proc = hloscope("diff", FUSED, FUSED, "--json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["identical"] is True
    assert doc["totals"]["a"] == doc["totals"]["b"]


def test_a_stablehlo_file_is_compared_as_far_as_it_goes(hloscope: Run, corpus: Path) -> None:
    mlir = corpus / "stablehlo" / "stablehlo__testdata__abs_int32_20_20.mlir"
    proc = hloscope("diff", mlir, FUSED)
    assert (proc.returncode, proc.stderr) == (1, "")
    assert "not compared: instructions, collectives, kernels" in proc.stdout
    assert f"A: {mlir}: this capture has no" in proc.stdout.replace("\n", " ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("diff", "nowhere.hlo", str(FUSED)), "nowhere.hlo: no such file or directory"),
        (("diff", str(FUSED), str(FUSED), "--hardware", "nope"), "unknown hardware 'nope'"),
        (("diff", str(FUSED)), "the following arguments are required: B"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(hloscope: Run, error_line: Callable[..., str],
                                          args: tuple[str, ...], message: str) -> None:
    assert message in error_line(hloscope(*args))


@pytest.mark.slow
def test_a_sample_captured_twice_has_no_differences(hloscope: Run) -> None:
    proc = hloscope("diff", "sample:mlp", "sample:mlp")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert "no differences" in proc.stdout


@pytest.mark.slow
def test_fsdp_against_data_parallel(hloscope: Run) -> None:
    proc = hloscope("diff", "sample:transformer", "hloscope.samples.transformer:data_parallel",
                    "--json")
    assert (proc.returncode, proc.stderr) == (1, "")
    doc = json.loads(proc.stdout)
    removed = doc["collectives"]["removed"]
    gathers = [c for c in removed if c["kind"] == "all-gather" and c["axes_a"] == "data"]
    assert len(gathers) >= 16
    assert all(c["source"].rpartition(":")[0].endswith("_blocks.py") for c in gathers)
    assert doc["collectives"]["added"] == []
    assert doc["totals"]["a"]["collectives[data]"] > doc["totals"]["b"]["collectives[data]"]
    changed = {p["label"]: p for p in doc["parameters"]}
    assert changed["params['layers'][0]['w1']"]["axes_b"] == "-, model"


@pytest.mark.slow
def test_mesh_applies_to_the_side_that_compiles(hloscope: Run) -> None:
    proc = hloscope("diff", FUSED, "sample:mlp", "--mesh", "data=2", "--json")
    assert (proc.returncode, proc.stderr) == (1, "")
    doc = json.loads(proc.stdout)
    assert (doc["a"]["mesh"], doc["a"]["devices"]) == (None, 1)
    assert (doc["b"]["mesh"], doc["b"]["devices"]) == ("data=2", 2)
