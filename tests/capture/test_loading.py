"""`hloscope.load`: bundles, HLO text, StableHLO, and real XLA dump folders (made here by jax
with `--xla_dump_to` in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hloscope
from hloscope import hlo
from hloscope.errors import InputError
from hloscope.loading import dump_modules, split_modules

DUMP_PROGRAM = textwrap.dedent(
    """
    import jax, jax.numpy as jnp
    from hloscope.samples import mlp
    mlp.program().lower().compile()
    f = jax.jit(lambda x: jnp.sin(x) * 2)
    f.trace(jax.ShapeDtypeStruct((3,), jnp.float32)).lower().compile()
    f.trace(jax.ShapeDtypeStruct((5,), jnp.float32)).lower().compile()  # same name, new id
    """
)


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dump")
    env = dict(os.environ, XLA_FLAGS=f"--xla_dump_to={folder}", JAX_PLATFORMS="cpu")
    subprocess.run([sys.executable, "-c", DUMP_PROGRAM], env=env, check=True, timeout=300)
    return folder


def test_a_dump_folder_lists_its_modules_when_none_is_picked(dump: Path) -> None:
    labels = [m.label for m in dump_modules(dump)]
    assert len(labels) == 3
    assert labels[0].endswith(".jit_mlp_step")
    assert [lab.split(".", 1)[1] for lab in labels[1:]] == ["jit__lambda", "jit__lambda"]
    with pytest.raises(InputError) as info:
        hloscope.load(dump)
    assert f"{dump} holds 3 modules ({', '.join(labels)}); pick one with --module NAME" == str(
        info.value
    )


def test_a_dump_module_brings_every_text_xla_wrote(dump: Path) -> None:
    cap = hloscope.load(dump, module="jit_mlp_step")
    assert cap.name == "jit_mlp_step"
    assert cap.platform == "cpu"
    assert cap.hlo is not None
    assert hlo.parse(cap.hlo).name == "jit_mlp_step"
    assert "FileNames" in cap.hlo
    assert cap.hlo_before_optimizations is not None
    assert cap.hlo_before_optimizations.startswith("HloModule jit_mlp_step")
    assert cap.buffer_assignment is not None
    assert cap.buffer_assignment.startswith("BufferAssignment:")
    assert cap.stablehlo is not None
    assert "module @jit_mlp_step" in cap.stablehlo
    assert cap.missing == ("jaxpr", "xla_cost", "xla_memory", "mesh")
    assert cap.origin.endswith(".jit_mlp_step")
    after = next(dump.glob("*jit_mlp_step.cpu_after_optimizations.txt"))
    assert cap.hlo == after.read_text()


def test_a_name_used_twice_is_picked_by_id(dump: Path) -> None:
    twice = [m for m in dump_modules(dump) if m.name == "jit__lambda"]
    with pytest.raises(InputError, match="2 modules are called 'jit__lambda'"):
        hloscope.load(dump, module="jit__lambda")
    for m, want in zip(twice, ("f32[3]", "f32[5]"), strict=True):
        for pick in (m.id, m.label, m.id.removeprefix("module_")):
            cap = hloscope.load(dump, module=pick)
            assert cap.hlo is not None
            assert "ENTRY %main" in cap.hlo
            assert f"{want}{{0}} parameter(0)" in cap.hlo
    with pytest.raises(InputError, match="no module 'nope'; modules: "):
        hloscope.load(dump, module="nope")


def test_one_dump_file_brings_its_buffer_assignment(dump: Path) -> None:
    after = next(dump.glob("*jit_mlp_step.cpu_after_optimizations.txt"))
    cap = hloscope.load(after)
    assert cap.hlo == after.read_text()
    assert cap.buffer_assignment is not None
    assert cap.stablehlo is None
    assert cap.platform == "cpu"


def test_a_folder_that_is_no_dump_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="not an XLA dump folder"):
        hloscope.load(tmp_path)


def test_an_hlo_file_is_kept_byte_for_byte(corpus: Path) -> None:
    path = corpus / "hlo/files/xla__backends__cpu__benchmarks__hlo__bench_mass_matrix_35.hlo"
    cap = hloscope.load(path)
    assert cap.hlo == path.read_bytes().decode()
    assert cap.name == "jit_mass_matrix_35"
    assert cap.missing == ("stablehlo", "jaxpr", "xla_cost", "xla_memory", "mesh")
    assert cap.notes


def test_a_file_of_several_modules_needs_a_pick(corpus: Path) -> None:
    path = corpus / "hlo/files/xla__hlo__builder__tests__math_acosh.hlo"
    with pytest.raises(InputError) as info:
        hloscope.load(path)
    assert str(info.value) == (
        f"{path} holds 4 modules (1: acosh_f32, 2: acosh_f64, 3: acosh_complex64, "
        "4: acosh_complex128); pick one with --module NAME or N"
    )
    by_name = hloscope.load(path, module="acosh_complex64")
    by_number = hloscope.load(path, module="3")
    assert by_name.hlo == by_number.hlo
    assert by_name.hlo is not None
    assert hlo.parse(by_name.hlo).name == "acosh_complex64"
    # The parts are the file's own text: together they are the file, minus separators.
    parts = split_modules(path.read_text())
    assert "".join(p.text for p in parts) == path.read_text().replace("// -----", "")
    with pytest.raises(InputError, match="no module 'acosh'"):
        hloscope.load(path, module="acosh")


def test_modules_with_one_name_are_picked_by_number(corpus: Path) -> None:
    path = corpus / "hlo/files/xla__backends__gpu__tests__sorting.hlo"
    with pytest.raises(InputError, match="4 modules are called 'TestModule'"):
        hloscope.load(path, module="TestModule")
    texts = {hloscope.load(path, module=str(i)).hlo for i in range(1, 5)}
    assert len(texts) == 4


def test_a_stablehlo_file_has_no_optimized_hlo(corpus: Path) -> None:
    path = corpus / "stablehlo/stablehlo__testdata__abs_int32_20_20.mlir"
    cap = hloscope.load(path)
    assert cap.stablehlo == path.read_text()
    assert cap.hlo is None
    assert "no optimized HLO" in cap.notes[0]
    assert cap.name == "jit_main"


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", "empty"),
        (b"// only a comment\n\n", "empty"),
        (b"\x00\x01\x02binary", "a binary file"),
        (b"HloModule m\n\xff\xfe", r"not UTF-8 text \(byte 12\)"),
        (b"ML\xefR\x00bytecode", "MLIR bytecode"),
    ],
)
def test_files_that_are_not_text_are_one_line(tmp_path: Path, content: bytes, pattern: str) -> None:
    path = tmp_path / "m.hlo"
    path.write_bytes(content)
    with pytest.raises(InputError, match=pattern):
        hloscope.load(path)


def test_missing_paths_and_a_bundle_pick_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        hloscope.load(tmp_path / "nope.hlo")
    path = hloscope.Capture(name="jit_f", hlo="HloModule jit_f\n").save(tmp_path / "f.hlos")
    assert hloscope.load(path, module="jit_f").name == "jit_f"
    with pytest.raises(InputError, match="the bundle holds one module, jit_f; no module 'g'"):
        hloscope.load(path, module="g")
