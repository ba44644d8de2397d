"""`import hloscope` (and everything that only reads files or lists things) loads neither jax
nor textual: checked in a fresh interpreter, where nothing else imported them first."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ("jax", "jaxlib", "textual")


def modules_after(code: str) -> list[str]:
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return list(json.loads(out.splitlines()[-1]))


def test_import_hloscope_loads_neither_jax_nor_textual() -> None:
    assert modules_after("import hloscope") == []


def test_reading_files_and_listing_load_neither() -> None:
    code = """
        import hloscope, hloscope.records, hloscope.bundle, hloscope.loading, hloscope.targets
        import hloscope.cli, hloscope.views.summary, hloscope.hlo, hloscope.samples
        from hloscope import samples
        for name in samples.names():
            samples.get(name).DEVICES, samples.describe(name)
        hloscope.cli.build_parser()
        cap = hloscope.Capture(name="m", hlo="HloModule m\\n")
        import tempfile, os
        path = os.path.join(tempfile.mkdtemp(), "m.hlos")
        cap.save(path)
        assert hloscope.load(path) == cap
        hloscope.capture  # the function, reached without calling it
    """
    assert modules_after(code) == []


def test_the_samples_command_loads_neither() -> None:
    code = """
        import contextlib, io
        from hloscope.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["samples"]) == 0
    """
    assert modules_after(code) == []


def test_ir_passes_and_views_load_neither() -> None:
    """Every module of the IR, the passes and the dump views, imported one after another;
    the first that brings in jax or textual is named."""
    code = f"""
        import importlib, json, pkgutil, sys
        import hloscope.hlo, hloscope.passes, hloscope.views
        seen, blamed = [], {{}}
        for pkg in (hloscope.hlo, hloscope.passes, hloscope.views):
            for info in pkgutil.iter_modules(pkg.__path__):
                seen.append(pkg.__name__ + "." + info.name)
                importlib.import_module(seen[-1])
                for m in sys.modules:
                    if m.split(".")[0] in {HEAVY!r}:
                        blamed.setdefault(m, seen[-1])
        print(json.dumps({{"seen": seen, "blamed": blamed}}))
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    probe = json.loads(out.splitlines()[-1])
    assert probe["blamed"] == {}
    # The walk reached the modules (a package that stopped listing them would pass vacuously).
    assert {"hloscope.hlo.parser", "hloscope.passes.sharding", "hloscope.views.devices"} <= set(
        probe["seen"]
    )
