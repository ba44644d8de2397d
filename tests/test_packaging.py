"""The wheel: built from a copy of the source, installed in a fresh venv, it holds every module
and data file of the source tree under its installed name, and `hloscope` runs from it.

The venv gets the wheel with --no-deps; its dependencies come from this interpreter's
site-packages through a .pth file, so the test installs nothing from the network but the build
backend (pip's isolated build fetches setuptools, from its cache when it can).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Source folder -> installed package (pyproject's package-dir).
LAYOUT = {"hloscope": "hloscope", "passes": "hloscope/passes", "tui": "hloscope/tui",
          "samples": "hloscope/samples"}
SHIPPED_SUFFIXES = (".py", ".tcss", ".txtpb", ".json", ".typed")


def expected_files() -> set[str]:
    out = set()
    for src, dest in LAYOUT.items():
        for path in (REPO / src).rglob("*"):
            shipped = path.suffix in SHIPPED_SUFFIXES and "__pycache__" not in path.parts
            if path.is_file() and shipped:
                rel = path.relative_to(REPO / src)
                if src == "hloscope" and rel.parts[0] in ("passes", "tui", "samples"):
                    continue
                out.add(f"{dest}/{rel.as_posix()}")
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src"
    shutil.copytree(
        REPO, src,
        ignore=shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info",
                                      "__pycache__", ".pytest_cache", ".mypy_cache",
                                      ".ruff_cache", ".hypothesis", "*.hlos"),
    )
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        check=True, timeout=600,
    )
    (found,) = dist.glob("hloscope-*.whl")
    return found


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(expected_files() - names)
    assert missing == [], f"not in the wheel (add the package to pyproject): {missing}"
    assert not any(n.startswith(("tests/", "benchmarks/", "passes/", "tui/", "samples/"))
                   for n in names)


@pytest.mark.slow
def test_installed_in_a_fresh_venv_it_imports_and_runs(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip())
    # Dependencies (jax, rich, textual...) from this interpreter, after the venv's own packages.
    (site / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True, timeout=300,
    )
    probe = (
        "import hloscope, hloscope.passes, hloscope.tui, hloscope.samples, hloscope.cli\n"
        "for m in (hloscope, hloscope.passes, hloscope.tui, hloscope.samples):\n"
        "    print(m.__file__)\n"
        "print(len(hloscope.samples.names()))\n"
    )
    out = subprocess.run([python, "-c", probe], check=True, capture_output=True, text=True,
                         cwd=tmp_path).stdout.splitlines()
    assert all(line.startswith(str(site)) for line in out[:4]), out
    assert out[4] == "6"
    proc = subprocess.run([venv / "bin" / "hloscope", "samples"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("transformer")
