"""TARGET strings -> Capture: `sample:NAME`, `path/to/file.py:factory`, `package.module:factory`,
or a path `load` reads (bundle, `.hlo`/`.txt`, `.mlir`, XLA dump folder).

A factory is a zero-argument callable returning a `jax.stages` Traced / Lowered / Compiled, or
`(fn, args)` / `(fn, args, kwargs)` to be jitted. Device counts are arranged before the
factory's module is imported; if jax's backend already started with too few devices, the
capture can run in a subprocess that returns it as a bundle (never a pickle).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from hloscope.errors import CaptureError, Error, InputError, UsageError
from hloscope.records import Capture

_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_ATTR_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed TARGET string."""

    kind: str
    """`sample`, `path` (something `load` reads), `file` (file.py:factory), `module`."""
    spec: str
    location: str = ""
    """The sample name, the path, the .py file or the dotted module name."""
    attr: str = ""
    """The factory's name (may be dotted: `Model.make`)."""

    @property
    def captures(self) -> bool:
        """Whether this target runs jax (as opposed to reading a file)."""
        return self.kind != "path"


def parse_target(spec: str) -> Target:
    """Classify a TARGET string; a bad one is a one-line InputError."""
    if not spec:
        raise UsageError("empty target")
    if spec.startswith("sample:"):
        return Target("sample", spec, spec.removeprefix("sample:"))
    if os.path.exists(spec):
        return Target("path", spec, spec)
    left, sep, right = spec.rpartition(":")
    if sep and left and right:
        if not _ATTR_PATH.fullmatch(right):
            raise InputError(f"{spec}: {right!r} is not a Python name (expected FILE.py:factory)")
        if left.endswith(".py"):
            if not os.path.isfile(left):
                raise InputError(f"{left}: no such file")
            return Target("file", spec, left, right)
        if _MODULE_NAME.fullmatch(left):
            return Target("module", spec, left, right)
    hint = f" (did you mean sample:{spec}?)" if spec in _samples().names() else ""
    raise InputError(f"{spec}: no such file or directory{hint}")


def _samples() -> ModuleType:
    # By name: hloscope.samples lives in samples/ (package-dir), which mypy cannot follow.
    return importlib.import_module("hloscope.samples")


def capture_target(
    spec: str,
    *,
    devices: int | None = None,
    module: str | None = None,
    progress: Any = None,
    subprocess_fallback: bool = False,
    compile_target: str | None = None,
    mesh: str | None = None,
) -> Capture:
    """The Capture of a TARGET string: loaded from a file, or captured by running jax.

    `devices` gives the program that many (fake CPU) devices; samples default to their own
    count. With `subprocess_fallback`, a program needing more devices than jax already started
    with is captured in a fresh `python -m hloscope capture` process instead of raising.
    `compile_target` (`--target tpu-v5e:4x4`, `h100x8`, `cpu:N`) compiles for that hardware,
    in a worker process (`hloscope.remote_compile`); `mesh` (`--mesh data=16,model=16`)
    resizes the program's mesh.
    """
    target = parse_target(spec)
    if target.kind == "path":
        if devices is not None:
            raise UsageError(f"{spec}: --devices is for targets that run jax, not files")
        if compile_target is not None or mesh is not None:
            raise UsageError(f"{spec}: --target and --mesh compile a program; this is a file")
        from hloscope.loading import load

        return load(target.location, module=module)
    if module is not None:
        raise UsageError(f"{spec}: --module picks a module in a file or dump folder")
    if compile_target is not None or mesh is not None:
        if devices is not None:
            raise UsageError("--devices and --target both choose the devices; give one "
                             "(--target cpu:N is --devices N)")
        from hloscope.remote_compile import capture_for_target, default_target

        return capture_for_target(
            spec, compile_target or default_target(mesh), mesh=mesh, progress=progress
        )
    from hloscope.capture import DeviceCountError

    try:
        return _run(target, devices, progress)
    except DeviceCountError:
        if not subprocess_fallback:
            raise
        return capture_in_subprocess(spec, devices=devices, progress=progress)


def _run(target: Target, devices: int | None, progress: Any) -> Capture:
    from hloscope.capture import capture_stage, ensure_devices, prefer_cpu

    if target.kind == "sample" or devices is not None:
        prefer_cpu()  # fake CPU devices: the default target of samples and of --devices
    if target.kind == "sample":
        sample = _samples().get(target.location)
        ensure_devices(devices if devices is not None else sample.DEVICES)
        make: Any = lambda: sample.program(devices=devices)  # noqa: E731
    else:
        if devices is not None:
            ensure_devices(devices, exact=True)  # before the factory's module is imported
        # Imported before jax's backend starts: scripts often set jax_num_cpu_devices or
        # XLA_FLAGS at import time.
        factory = _factory(target)
        make = lambda: _as_stage(_call(factory, target.spec), target.spec)  # noqa: E731
    _start_backend()
    if progress is not None:
        progress("trace")
    start = time.perf_counter()
    stage = _call(make, target.spec)
    # A sample's program() is its trace; a factory may also lower or compile.
    key = "trace" if target.kind == "sample" else "program"
    timings = {key: time.perf_counter() - start}
    return capture_stage(stage, origin=target.spec, progress=progress, timings=timings)


def program_stage(spec: str, *, devices: int | None = None) -> Any:
    """The `jax.stages` Traced / Lowered / Compiled a program TARGET makes (`sample:NAME` or a
    factory); `(fn, args[, kwargs])` from a factory is jitted and traced. Devices must already
    be arranged (`hloscope.capture.ensure_devices`)."""
    target = parse_target(spec)
    if target.kind == "path":
        raise UsageError(f"{spec}: a file, not a program")
    if target.kind == "sample":
        sample = _samples().get(target.location)
        return _call(lambda: sample.program(devices=devices), spec)
    made = _call(_factory(target), spec)
    return _as_stage(made, spec)


def _start_backend() -> None:
    """Start jax's backend before timing the program, so its start-up is not counted."""
    import jax

    jax.devices()


def _call(fn: Any, where: str) -> Any:
    try:
        with _user_code(where):
            return fn()
    except Error:
        raise
    except Exception as e:  # the user's code raised: its message, no traceback
        from hloscope.capture import one_line

        raise CaptureError(f"{where}: {one_line(e)}") from e


@contextmanager
def _user_code(where: str) -> Iterator[None]:
    """Run the user's factory or module: its prints go to stderr (stdout carries our report or
    JSON only), and a `sys.exit()` or other BaseException in it is a failed capture, not the
    end of hloscope. Ctrl-C stays Ctrl-C."""
    try:
        with redirect_stdout(sys.stderr):
            yield
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except SystemExit as e:
        raise CaptureError(f"{where}: the program called sys.exit({e.code!r})") from e
    except Exception:
        raise
    except BaseException as e:
        from hloscope.capture import one_line

        raise CaptureError(f"{where}: {one_line(e)}") from e


def _as_stage(made: Any, spec: str) -> Any:
    import jax

    if isinstance(made, jax.stages.Traced | jax.stages.Lowered | jax.stages.Compiled):
        return made
    if isinstance(made, tuple) and len(made) in (2, 3):
        fn, args = made[0], made[1]
        kwargs = made[2] if len(made) == 3 else {}
        if callable(fn) and isinstance(args, tuple | list) and isinstance(kwargs, dict):
            jitted = fn if hasattr(fn, "trace") else jax.jit(fn)
            return _call(lambda: jitted.trace(*args, **kwargs), f"{spec}: trace failed")
    raise InputError(
        f"{spec}: the factory returned {_describe(made)}; expected a jax.stages "
        "Traced / Lowered / Compiled, or (fn, args) / (fn, args, kwargs)"
    )


def _describe(value: Any) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} ({', '.join(type(v).__name__ for v in value)})"
    return f"a {type(value).__name__}"


def _factory(target: Target) -> Any:
    mod = _import_file(target.location) if target.kind == "file" else _import_module(target)
    obj: Any = mod
    for part in target.attr.split("."):
        if not hasattr(obj, part):
            raise InputError(f"{target.spec}: {target.location} has no {target.attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(f"{target.spec}: {target.attr} is a {type(obj).__name__}, not a factory")
    return obj


def _import_file(path: str) -> ModuleType:
    """Import a .py file as a module, its folder on sys.path as when run as a script."""
    p = Path(path).resolve()
    name = "_hloscope_target_" + re.sub(r"\W", "_", p.stem)
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: cannot be imported as Python")
    mod = importlib.util.module_from_spec(spec)
    if str(p.parent) not in sys.path:
        sys.path.insert(0, str(p.parent))
    sys.modules[name] = mod
    loader = spec.loader
    _guarded_import(lambda: loader.exec_module(mod), path)
    return mod


def _import_module(target: Target) -> ModuleType:
    # As `python -m`: the current folder is importable.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    result: list[ModuleType] = []
    _guarded_import(lambda: result.append(importlib.import_module(target.location)),
                    target.location)
    return result[0]


def _guarded_import(fn: Any, where: str) -> None:
    from hloscope.capture import one_line

    try:
        with _user_code(f"importing {where} failed"):
            fn()
    except Error:
        raise
    except (ImportError, SyntaxError, OSError) as e:
        if isinstance(e, SyntaxError) and e.lineno:
            raise InputError(f"{e.filename or where}:{e.lineno}: SyntaxError: {e.msg}") from e
        raise InputError(f"cannot import {where}: {one_line(e)}") from e
    except Exception as e:  # the module raised at import: user code failed
        raise CaptureError(f"importing {where} failed: {one_line(e)}") from e


# -- capture in a fresh process ------------------------------------------------------------


def capture_in_subprocess(
    spec: str, *, devices: int | None = None, progress: Any = None
) -> Capture:
    """Capture `spec` in `python -m hloscope capture` (a fresh jax with its own device count)
    and read back the bundle it writes. Its stdout and stderr are kept from the caller's (a
    report on stdout, or a TUI on the terminal); its one error line becomes ours."""
    from hloscope.bundle import load_bundle

    if progress is not None:
        progress("capture in a subprocess")
    with tempfile.TemporaryDirectory(prefix="hloscope-") as tmp:
        out = Path(tmp) / "capture.hlos"
        cmd = [sys.executable, "-m", "hloscope", "capture", spec, "-o", str(out)]
        if devices is not None:
            cmd += ["--devices", str(devices)]
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, errors="replace", check=False,
        )
        if proc.returncode != 0:
            raise _child_error(proc.returncode, proc.stderr)
        cap = load_bundle(out)
    return dataclasses.replace(cap, notes=(*cap.notes, "captured in a subprocess"))


def _child_error(code: int, stderr: str) -> BaseException:
    if code == 130:
        return KeyboardInterrupt()
    prefix = "hloscope: error: "
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    said = [ln.removeprefix(prefix) for ln in lines if ln.startswith(prefix)]
    if said and code == 2:
        return InputError(said[-1])
    if said:
        return CaptureError(said[-1])
    last = lines[-1] if lines else "no message"
    return CaptureError(f"the capture subprocess failed (exit {code}): {last}")
