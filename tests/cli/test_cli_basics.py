"""The `hloscope` command on good input: samples, capture, dump (text and --json), the default
command, exit code 0 with the report alone on stdout."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]

REQUIRED = (
    "schema",
    "module.name",
    "module.num_partitions",
    "module.instructions",
    "xla.cost.flops",
    "xla.cost.bytes_accessed",
    "xla.cost.transcendentals",
    "xla.memory.argument_bytes",
    "xla.memory.output_bytes",
    "xla.memory.alias_bytes",
    "xla.memory.temp_bytes",
    "xla.memory.peak_bytes",
    "mesh",
    "versions",
)


def lookup(doc: dict, dotted: str) -> object:
    for key in dotted.split("."):
        assert key in doc, dotted
        doc = doc[key]  # type: ignore[assignment]
    return doc


def test_samples_lists_one_line_each(hloscope: Run) -> None:
    proc = hloscope("samples")
    assert proc.returncode == 0
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "convnet", "mlp", "moe", "ring_attention", "scan", "transformer",
    ]
    assert lines[-1].endswith("(default)")
    assert "8 dev" in lines[2]


def test_version_and_help(hloscope: Run) -> None:
    proc = hloscope("--version")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "hloscope 0.1.0\n", "")
    proc = hloscope("dump", "--help")
    assert proc.returncode == 0
    assert "--view" in proc.stdout
    assert "--devices N" in proc.stdout


def test_dump_json_of_the_default_sample(hloscope: Run) -> None:
    proc = hloscope("dump", "sample:transformer", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "\x1b" not in proc.stdout
    doc = json.loads(proc.stdout)
    # One document, keys sorted at every level.
    assert proc.stdout == json.dumps(doc, sort_keys=True, indent=2) + "\n"
    for key in REQUIRED:
        lookup(doc, key)
    assert doc["schema"] == "hloscope.dump/1"
    assert doc["view"] == "summary"
    assert doc["module"]["name"] == "jit_transformer_step"
    assert doc["module"]["num_partitions"] == 8
    assert doc["module"]["instructions"] > 1000
    assert doc["module"]["collectives"].keys() >= {
        "all-gather", "all-reduce", "all-to-all", "collective-permute",
    }
    assert doc["xla"]["cost"]["flops"] > 0
    assert doc["xla"]["memory"]["alias_bytes"] > 0
    assert doc["mesh"]["axis_names"] == ["data", "model"]
    assert doc["mesh"]["axis_sizes"] == [4, 2]
    assert doc["device_count"] == 8
    assert doc["versions"]["jax"] == "0.10.2"
    assert doc["origin"] == "sample:transformer"


def test_capture_then_dump_the_bundle(hloscope: Run, tmp_path: Path) -> None:
    out = tmp_path / "moe.hlos"
    proc = hloscope("capture", "sample:moe", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith(f"wrote {out} (")
    assert "jit_moe_step, 8 devices on cpu" in proc.stdout
    assert out.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["moe.hlos"]  # no temp file left
    text = hloscope("dump", out)
    assert text.returncode == 0
    assert text.stderr == ""
    assert text.stdout.splitlines()[0] == "jit_moe_step  sample:moe"
    assert "mesh expert=8" in text.stdout
    assert "all-to-all" in text.stdout
    doc = json.loads(hloscope("dump", out, "--json").stdout)
    assert doc["module"]["collectives"]["all-to-all"] > 0
    assert doc["parts"] == {
        "buffer_assignment": False, "hlo": True, "hlo_before_optimizations": False,
        "jaxpr": True, "stablehlo": True,
    }


def test_dump_text_has_no_colour_codes_and_no_trailing_spaces(hloscope: Run) -> None:
    proc = hloscope("dump", "sample:mlp")
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert "\x1b" not in proc.stdout
    assert all(line == line.rstrip() for line in proc.stdout.splitlines())
    first, *rest = proc.stdout.splitlines()
    assert first == "jit_mlp_step  sample:mlp"
    labels = [line.split()[0] for line in rest if line and not line.startswith(" ")]
    assert labels[:5] == ["platform", "module", "XLA", "XLA", "XLA"]


@pytest.mark.parametrize("args", [(), ("tui", "sample:mlp")])
def test_without_a_terminal_the_default_command_prints_the_summary(
    hloscope: Run, args: tuple[str, ...]
) -> None:
    proc = hloscope(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    name = "mlp" if args[1:] else "transformer"
    assert proc.stdout.splitlines()[0] == f"jit_{name}_step  sample:{name}"


def test_dump_of_hlo_and_stablehlo_files(hloscope: Run, corpus: Path) -> None:
    path = corpus / "hlo/files/xla__hlo__builder__tests__math_acosh.hlo"
    doc = json.loads(hloscope("dump", path, "--module", "acosh_f64", "--json").stdout)
    assert doc["module"]["name"] == "acosh_f64"
    assert doc["xla"] == {"cost": None, "memory": None}
    assert doc["mesh"] is None
    mlir = corpus / "stablehlo/stablehlo__testdata__abs_int32_20_20.mlir"
    proc = hloscope("dump", mlir, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["module"] is None
    assert doc["parts"]["stablehlo"] is True
    assert "no optimized HLO" in doc["notes"][0]
