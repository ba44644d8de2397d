"""Capture a program for a `--target`: TPU topologies through libtpu and GPU boards through the
CUDA PJRT plugin compile in a worker process; `cpu:N` runs here when jax can offer N devices.

Why a worker: libtpu prints pages of start-up noise and holds process-wide state; the CUDA
plugin must start with `JAX_SKIP_CUDA_CONSTRAINTS_CHECK=1`; and the caller's jax backends must
stay as they are. The worker gets the program *by name* (`sample:NAME`, `file.py:factory`,
`package.module:factory`), makes the target's compile-only devices, builds the program on them
(samples and factories see them through `hloscope.target_runtime`), compiles, and writes the
capture as a `.hlos` bundle, which the caller reads back: plain JSON and text, never a pickle.
The worker's output (libtpu's noise) goes to a log that is shown only when it dies.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hloscope import errors
from hloscope.compile_targets import (
    TargetSpec,
    check_mesh,
    parse_mesh,
    parse_target,
    require_backend,
)
from hloscope.errors import CaptureError, Error, UsageError
from hloscope.records import Capture
from hloscope.target_runtime import ActiveTarget, activate, finish, make_devices

Progress = Callable[[str], None]
Mesh = tuple[tuple[str, int], ...]


def capture_for_target(
    program: str,
    target: str | TargetSpec,
    *,
    mesh: str | Sequence[tuple[str, int]] | None = None,
    progress: Progress | None = None,
) -> Capture:
    """The capture of `program` (a program TARGET string) compiled for `target`, with `--mesh`
    applied to the mesh the program builds."""
    spec = parse_target(target) if isinstance(target, str) else target
    axes: Mesh | None = parse_mesh(mesh) if isinstance(mesh, str) else (
        tuple(mesh) if mesh else None
    )
    if axes:
        check_mesh(spec, axes)
    from hloscope.targets import parse_target as parse_program

    if not parse_program(program).captures:
        raise UsageError(f"{program}: --target compiles a program; this is a file to read")
    if spec.platform == "cpu":
        from hloscope.capture import DeviceCountError

        try:
            return _capture_here(program, spec, axes, progress)
        except DeviceCountError:
            pass  # jax started with fewer CPU devices: a fresh process can have them
    return compile_remote(program, spec, mesh=axes, progress=progress)


def default_target(mesh: str | Sequence[tuple[str, int]] | None) -> str:
    """`--mesh` without `--target`: that many fake CPU devices (`cpu:N`)."""
    if mesh is None:
        raise UsageError("give a target (tpu-v5e:4x4, h100x8, cpu:8) or a mesh")
    axes = parse_mesh(mesh) if isinstance(mesh, str) else tuple(mesh)
    return f"cpu:{math.prod(size for _, size in axes)}"


def program_name(program: Any) -> str:
    """The program TARGET string the worker can rebuild `program` from: the string itself, or
    `module:qualname` (`file.py:qualname` for a script) of a factory defined at a module's top
    level. A function with arguments, a jax stage, a lambda or a closure cannot cross to
    another process: UsageError saying what to pass instead."""
    if isinstance(program, str):
        return program
    qual = getattr(program, "__qualname__", "")
    module = getattr(program, "__module__", "") or ""
    is_jit = hasattr(program, "trace") or hasattr(program, "lower")
    if callable(program) and not is_jit and qual and "<" not in qual and module:
        mod = sys.modules.get(module)
        path = getattr(mod, "__file__", None)
        if module == "__main__" or module.startswith("_hloscope_target_"):
            if path:
                return f"{path}:{qual}"
        else:
            return f"{module}:{qual}"
    raise UsageError(
        "target= compiles in a fresh process, so the program must be named: a target string "
        "('sample:transformer', 'model.py:factory') or a zero-argument factory defined at the "
        "top of a module that builds its mesh on hloscope.target_devices()"
    )


def _capture_here(
    program: str, spec: TargetSpec, axes: Mesh | None, progress: Progress | None
) -> Capture:
    from hloscope.capture import ensure_devices

    ensure_devices(spec.device_count)
    return capture_with_devices(program, spec, make_devices(spec), axes, progress)


def capture_with_devices(
    program: str,
    spec: TargetSpec,
    devices: Sequence[Any],
    axes: Mesh | None,
    progress: Progress | None,
) -> Capture:
    """Build and capture `program` with the target's devices active (and the first of them
    jax's default device, for programs with no mesh), then check and record the target."""
    import jax

    from hloscope.capture import capture_stage
    from hloscope.targets import program_stage

    with activate(ActiveTarget(spec, tuple(devices), axes)), jax.default_device(devices[0]):
        if progress is not None:
            progress("trace")
        start = time.perf_counter()
        stage = program_stage(program, devices=spec.device_count)
        made = time.perf_counter() - start
        # capture_stage lowers and compiles, refusing a compile for another platform than the
        # lowering's; `finish` checks the result against the target.
        cap = capture_stage(stage, origin=program, progress=progress, timings={"program": made})
    order = cap.mesh.device_ids if cap.mesh is not None else ()
    return finish(cap, spec, devices, order)


# -- the worker ------------------------------------------------------------------------------


def worker_main(argv: Sequence[str]) -> int:
    """`python -m hloscope.remote_compile REQUEST.json EVENTS_FD`: capture, save the bundle,
    and write `{"ok": true}` or the error's class and one-line message to the result file."""
    request = json.loads(Path(argv[0]).read_text())
    events = os.fdopen(int(argv[1]), "w", buffering=1) if len(argv) > 1 else None

    def progress(stage: str) -> None:
        if events is not None:
            events.write(stage + "\n")

    result = Path(request["result"])
    try:
        spec = parse_target(request["target"])
        axes = tuple((str(n), int(s)) for n, s in request["mesh"]) if request["mesh"] else None
        progress("topology")
        devices = make_devices(spec)
        cap = capture_with_devices(request["program"], spec, devices, axes, progress)
        cap.save(request["out"])
        result.write_text(json.dumps({"ok": True}))
        return 0
    except Error as e:
        result.write_text(json.dumps({"error": type(e).__name__, "message": e.message}))
        return e.exit_code
    except Exception as e:
        from hloscope.capture import one_line

        message = f"the compile worker failed: {one_line(e)}"
        result.write_text(json.dumps({"error": "CaptureError", "message": message}))
        raise  # the traceback goes to the worker's log


# -- the caller's side -----------------------------------------------------------------------


def worker_env(spec: TargetSpec, scratch: Path) -> dict[str, str]:
    """The worker's environment: only jax's CPU backend starts (the target's devices come from
    its topology, not from a backend); the CUDA plugin skips its check for CUDA libraries,
    which compiling does not need; libtpu's log files go to the scratch folder, not /tmp; the
    caller's import path comes along, so factories it can import the worker can too."""
    env = dict(os.environ)
    env["JAX_PLATFORMS"] = "cpu"
    env["JAX_SKIP_CUDA_CONSTRAINTS_CHECK"] = "1"
    env["TPU_LOG_DIR"] = str(scratch / "tpu_logs")
    env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
    if spec.platform == "cpu":
        flag = "--xla_force_host_platform_device_count"
        flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(flag)]
        env["XLA_FLAGS"] = " ".join([*flags, f"{flag}={spec.device_count}"])
        env["JAX_NUM_CPU_DEVICES"] = str(spec.device_count)  # wins over XLA_FLAGS in jax
    return env


_ERRORS: dict[str, type[Error]] = {
    name: cls
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, Error)
}


def compile_remote(
    program: str,
    spec: TargetSpec,
    *,
    mesh: Sequence[tuple[str, int]] | None = None,
    progress: Progress | None = None,
) -> Capture:
    """Capture `program` (a program TARGET string) for `spec` in a worker process."""
    require_backend(spec)
    if mesh:
        check_mesh(spec, mesh)
    from hloscope.bundle import load_bundle

    with tempfile.TemporaryDirectory(prefix="hloscope-target-") as tmp:
        scratch = Path(tmp)
        out = scratch / "capture.hlos"
        request: dict[str, Any] = {
            "program": program,
            "target": spec.name,
            "mesh": [list(a) for a in mesh] if mesh else None,
            "out": str(out),
            "result": str(scratch / "result.json"),
        }
        (scratch / "request.json").write_text(json.dumps(request))
        rc, log = _run_worker(scratch, spec, progress)
        result_file = scratch / "result.json"
        result = json.loads(result_file.read_text()) if result_file.exists() else None
        if result and result.get("ok"):
            return load_bundle(out)
        if result and "error" in result:
            raise _ERRORS.get(result["error"], CaptureError)(result["message"])
        raise CaptureError(
            f"the compile worker for {spec.name} exited with {rc} and no result; "
            f"its last output: {last_words(log)}"
        )


# What libtpu and the CUDA plugin print at every start on a machine without the hardware.
_NOISE = re.compile(
    r"TPU_WORKER_HOSTNAMES|TPU accelerator type|Source Location Trace|libtpu_init_utils"
    r"|absl::InitializeLog|InitGoogle|cudart_stub|pjrt_api\.cc|^\s*$"
)


def last_words(log: str, lines: int = 3) -> str:
    """The worker log's last lines that are not start-up noise, joined on one line."""
    kept = [line.strip() for line in log.splitlines() if not _NOISE.search(line)]
    return " | ".join(kept[-lines:])[-600:] or "(nothing but libtpu/CUDA start-up messages)"


def _run_worker(scratch: Path, spec: TargetSpec, progress: Progress | None) -> tuple[int, str]:
    """Run the worker; relay its stage events (a pipe, apart from libtpu's noise on its
    stdout/stderr, which go to a log). Ctrl-C kills it."""
    log_path = scratch / "worker.log"
    read_fd, write_fd = os.pipe()
    cmd = [sys.executable, "-m", "hloscope.remote_compile", str(scratch / "request.json"),
           str(write_fd)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=worker_env(spec, scratch), pass_fds=(write_fd,),
        )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as events:
            for line in events:
                if progress is not None and line.strip():
                    progress(line.strip())
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return rc, log_path.read_text(errors="replace")


if __name__ == "__main__":
    raise SystemExit(worker_main(sys.argv[1:]))
