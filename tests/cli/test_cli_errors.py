"""Every bad input gives exit 2 (3 when jax raised) and exactly one line on stderr,
`hloscope: error: ...`, with nothing on stdout and no traceback."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from hloscope.bundle import to_bytes
from hloscope.records import Capture

Run = Callable[..., subprocess.CompletedProcess[str]]
ErrorLine = Callable[..., str]

FACTORIES = '''
import jax, jax.numpy as jnp

X = jax.ShapeDtypeStruct((4, 3), jnp.float32)
BAD = jax.ShapeDtypeStruct((4, 5), jnp.float32)

def returns_int():
    return 3

def returns_pair_of_junk():
    return ("not callable", 1)

def raises():
    raise ValueError("the factory is broken")

def bad_shapes():
    return (lambda a, b: a @ b, (X, BAD))

not_callable = 7
'''


@pytest.fixture
def factories(tmp_path: Path) -> Path:
    path = tmp_path / "factories.py"
    path.write_text(FACTORIES)
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "needs_flax.py").write_text("import flax_that_is_not_installed\n")
    return path


@pytest.fixture
def bundles(tmp_path: Path) -> dict[str, Path]:
    good = to_bytes(Capture(name="m", hlo="HloModule m\n\nENTRY %e () -> f32[] {\n"
                            "  ROOT %c = f32[] constant(1)\n}\n"))
    out: dict[str, Path] = {}
    (tmp_path / "junk.hlos").write_bytes(b"this is no zip at all" * 10)
    out["junk"] = tmp_path / "junk.hlos"
    (tmp_path / "short.hlos").write_bytes(good[: len(good) // 2])
    out["short"] = tmp_path / "short.hlos"
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["schema"] = "hloscope.bundle/9"
    newer = dict(members, **{"manifest.json": json.dumps(manifest).encode()})
    for name, content in (("newer", newer), ("evil", dict(members, **{"../x": b"x"}))):
        with zipfile.ZipFile(tmp_path / f"{name}.hlos", "w") as zf:
            for member, data in content.items():
                zf.writestr(member, data)
        out[name] = tmp_path / f"{name}.hlos"
    return out


def test_missing_file(hloscope: Run, error_line: ErrorLine) -> None:
    assert error_line(hloscope("dump", "nope.hlo")) == "nope.hlo: no such file or directory"


def test_unknown_sample(hloscope: Run, error_line: ErrorLine) -> None:
    assert error_line(hloscope("dump", "sample:nope")) == (
        "unknown sample 'nope'; samples: convnet, mlp, moe, ring_attention, scan, transformer"
    )


def test_a_sample_name_without_prefix_gets_a_hint(hloscope: Run, error_line: ErrorLine) -> None:
    assert error_line(hloscope("capture", "moe", "-o", "x.hlos")) == (
        "moe: no such file or directory (did you mean sample:moe?)"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.py:make", "missing.py: no such file"),
        ("{dir}/factories.py:not-a-name", "{dir}/factories.py:not-a-name: 'not-a-name' is not "
         "a Python name (expected FILE.py:factory)"),
        ("{dir}/factories.py:absent", "{dir}/factories.py:absent: {dir}/factories.py has no "
         "'absent'"),
        ("{dir}/factories.py:not_callable", "{dir}/factories.py:not_callable: not_callable is "
         "a int, not a factory"),
        ("{dir}/factories.py:returns_int", "{dir}/factories.py:returns_int: the factory returned "
         "a int; expected a jax.stages Traced / Lowered / Compiled, or (fn, args) / "
         "(fn, args, kwargs)"),
        ("{dir}/factories.py:returns_pair_of_junk", "{dir}/factories.py:returns_pair_of_junk: the "
         "factory returned a tuple of 2 (str, int); expected a jax.stages Traced / Lowered / "
         "Compiled, or (fn, args) / (fn, args, kwargs)"),
        ("{dir}/broken.py:f", "{dir}/broken.py:1: SyntaxError: invalid syntax"),
        ("{dir}/needs_flax.py:f", "cannot import {dir}/needs_flax.py: ModuleNotFoundError: No "
         "module named 'flax_that_is_not_installed'"),
        ("no_such_package.models:make", "cannot import no_such_package.models: "
         "ModuleNotFoundError: No module named 'no_such_package'"),
    ],
)
def test_bad_factory_specs(
    hloscope: Run, error_line: ErrorLine, factories: Path, spec: str, message: str
) -> None:
    d = factories.parent
    proc = hloscope("dump", spec.format(dir=d), cwd=d)
    assert error_line(proc) == message.format(dir=d)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("junk", "not a valid bundle (corrupt or truncated zip: File is not a zip file)"),
        ("short", "not a valid bundle (corrupt or truncated zip: File is not a zip file)"),
        ("newer", "bundle schema 9 is newer than this hloscope reads (1); upgrade hloscope"),
        ("evil", "unsafe member name '../x' (absolute or with '..')"),
    ],
)
def test_bad_bundles(
    hloscope: Run, error_line: ErrorLine, bundles: dict[str, Path], name: str, message: str
) -> None:
    assert error_line(hloscope("dump", bundles[name])) == f"{bundles[name]}: {message}"


def test_multi_module_file_without_a_pick(
    hloscope: Run, error_line: ErrorLine, corpus: Path
) -> None:
    path = corpus / "hlo/files/xla__backends__gpu__tests__sorting.hlo"
    assert error_line(hloscope("dump", path)) == (
        f"{path} holds 4 modules (1: TestModule, 2: TestModule, 3: TestModule, 4: TestModule); "
        "pick one with --module NAME or N"
    )
    assert error_line(hloscope("dump", path, "--module", "TestModule")).startswith(
        f"{path}: 4 modules are called 'TestModule'"
    )
    proc = hloscope("dump", path, "--module", "4")
    assert proc.returncode == 0, proc.stderr


def test_hlo_text_with_a_parse_error_names_file_line_and_column(
    hloscope: Run, error_line: ErrorLine, tmp_path: Path
) -> None:
    path = tmp_path / "bad.hlo"
    path.write_text("HloModule m\n\nENTRY %e () -> f32[] {\n  ROOT %c = f32[] constnt(1)\n}\n")
    line = error_line(hloscope("dump", path))
    assert line.startswith(f"{path}:4:")
    assert "constnt" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dump", "sample:mlp", "--devices", "0"),
         "argument --devices: expected a positive integer, got '0'"),
        (("dump", "sample:mlp", "--view", "nope"), "argument --view: invalid choice: 'nope'"),
        (("capture", "sample:mlp"), "the following arguments are required: -o/--output"),
        (("dump", "sample:mlp", "--module", "x"),
         "sample:mlp: --module picks a module in a file or dump folder"),
        (("frobnicate",), "argument COMMAND: invalid choice: 'frobnicate'"),
        (("dump", "sample:transformer", "--devices", "3"),
         "this sample needs a device count that is a positive multiple of 2, got 3"),
    ],
)
def test_usage_errors(
    hloscope: Run, error_line: ErrorLine, args: tuple[str, ...], message: str
) -> None:
    assert error_line(hloscope(*args)).startswith(message)


def test_devices_on_a_file_is_a_usage_error(
    hloscope: Run, error_line: ErrorLine, bundles: dict[str, Path], tmp_path: Path
) -> None:
    good = Capture(name="m", hlo="HloModule m\n").save(tmp_path / "g.hlos")
    assert error_line(hloscope("dump", good, "--devices", "2")) == (
        f"{good}: --devices is for targets that run jax, not files"
    )


def test_an_unavailable_view_is_one_line(
    hloscope: Run, error_line: ErrorLine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In process: a registered view whose module is not in this build.
    from hloscope import views
    from hloscope.cli import main

    monkeypatch.setitem(views.VIEWS, "ops", "hloscope.views.not_built_yet")
    path = Capture(name="m", hlo="HloModule m\n").save(tmp_path / "g.hlos")
    assert main(["dump", str(path), "--view", "ops"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("hloscope: error: the 'ops' view is not available in this build "
                   "(hloscope.views.not_built_yet is missing)\n")


def test_writing_into_a_missing_folder(
    hloscope: Run, error_line: ErrorLine, tmp_path: Path, corpus: Path
) -> None:
    src = corpus / "hlo/files/xla__backends__cpu__benchmarks__hlo__bench_mass_matrix_35.hlo"
    out = tmp_path / "no" / "x.hlos"
    assert error_line(hloscope("capture", src, "-o", out)) == (
        f"cannot write {out}: no such directory {out.parent}"
    )


# -- exit 3: jax (or the user's code) raised --------------------------------------------------


def test_a_jax_error_exits_3_with_its_message(
    hloscope: Run, error_line: ErrorLine, factories: Path
) -> None:
    line = error_line(hloscope("dump", f"{factories}:bad_shapes"), code=3)
    assert line.startswith(f"{factories}:bad_shapes: trace failed: TypeError: dot_general "
                           "requires contracting dimensions to have the same shape")


def test_a_failing_factory_exits_3(hloscope: Run, error_line: ErrorLine, factories: Path) -> None:
    assert error_line(hloscope("capture", f"{factories}:raises", "-o", "x.hlos"), code=3) == (
        f"{factories}:raises: ValueError: the factory is broken"
    )
