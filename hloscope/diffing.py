"""`hloscope.diff(a, b, hardware=...)`: two programs compared, as a `DiffReport`.

Either side may be a Capture, an Analysis, a TARGET string (`sample:NAME`, a bundle, an HLO
or StableHLO file, an XLA dump folder, `file.py:factory`, `package.module:factory`), a path,
a `jax.stages` Traced / Lowered / Compiled, or a factory (a zero-argument callable returning
one of those, or `(fn, args)` / `(fn, args, kwargs)`).

Reports a side cannot have (a `.mlir` file has no optimized HLO, so no kernels or costs) are
left out and named in `DiffReport.unavailable`; the comparison goes on with the rest.

`target=` / `mesh=` compile both sides' programs (target strings, module-level factories) for
a target (`hloscope.capture`'s keywords); `target_a=` / `target_b=` / `mesh_a=` / `mesh_b=`
override them per side, to compare one program on two targets.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hloscope.analysis import Analysis, analyze
from hloscope.errors import Error, MissingPartError, UsageError
from hloscope.records import Capture

if TYPE_CHECKING:
    from hloscope.hardware import Hardware
    from hloscope.passes.diff import DiffReport, DiffSide

REPORTS = ("cost", "fusion", "sharding", "roofline", "memory")
"""Analysis reports a diff reads, besides the module."""


def diff(a: Any, b: Any, *, hardware: Hardware | str | None = None,
         target: str | None = None, mesh: str | None = None,
         target_a: str | None = None, target_b: str | None = None,
         mesh_a: str | None = None, mesh_b: str | None = None) -> DiffReport:
    """Compare two programs (see the module docstring). `hardware` names the device both
    sides' time estimates use (`h100-sxm`, `tpu-v5p`, ...; `hloscope.hardware.names()`);
    by default each side's own device, the same entry for both when they agree."""
    sides = side_targets(a, b, target=target, mesh=mesh, target_a=target_a,
                         target_b=target_b, mesh_a=mesh_a, mesh_b=mesh_b)
    return compare(resolve(a, compile_target=sides[0].target, mesh=sides[0].mesh),
                   resolve(b, compile_target=sides[1].target, mesh=sides[1].mesh),
                   hardware=hardware)


@dataclass(frozen=True, slots=True)
class SideTarget:
    """What one side's program is compiled for (None: its own devices)."""

    target: str | None = None
    mesh: str | None = None
    own: bool = False
    """Set by the side's own option (`--target-a`, `mesh_b=`), not the shared one."""


def api_flag(name: str) -> str:
    return name


def cli_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def side_targets(a: Any, b: Any, *, target: str | None = None, mesh: str | None = None,
                 target_a: str | None = None, target_b: str | None = None,
                 mesh_a: str | None = None, mesh_b: str | None = None,
                 devices: int | None = None,
                 flag: Callable[[str], str] = api_flag) -> tuple[SideTarget, SideTarget]:
    """Each side's target and mesh: its own option, else the shared one (which, as before,
    serves only the sides that run jax). Every spec is checked here, before either side
    compiles (a TPU compile takes minutes), and a wrong one is a UsageError naming its
    option: a bad spec, a mesh that does not fill its target, a missing extra, a side option
    on a side with nothing to compile, a shared option that no side uses. `flag` spells
    option names (`cli_flag`: `--target-a`)."""
    given = {"target": target, "mesh": mesh, "target_a": target_a, "target_b": target_b,
             "mesh_a": mesh_a, "mesh_b": mesh_b}
    for shared, own in (("target", ("target_a", "target_b")), ("mesh", ("mesh_a", "mesh_b"))):
        if given[shared] is not None and all(given[o] is not None for o in own):
            raise UsageError(f"{flag(shared)} applies to neither side when {flag(own[0])} and "
                             f"{flag(own[1])} are both given; drop one")
    for shared in ("target", "mesh"):
        if given[shared] is not None and not (_compiles(a) or _compiles(b)):
            raise UsageError(f"{flag(shared)}: neither side is compiled here (both are files "
                             "or already-built programs); only a program (sample:NAME, "
                             "file.py:factory) is compiled for a target")
    return (_side("a", a, target_a, mesh_a, target, mesh, devices, flag),
            _side("b", b, target_b, mesh_b, target, mesh, devices, flag))


def _side(side: str, prog: Any, own_t: str | None, own_m: str | None, target: str | None,
          mesh: str | None, devices: int | None, flag: Callable[[str], str]) -> SideTarget:
    """One side of `side_targets`."""
    from hloscope.compile_targets import check_mesh, parse_mesh, parse_target, require_backend

    t_opt = flag(f"target_{side}") if own_t is not None else flag("target")
    m_opt = flag(f"mesh_{side}") if own_m is not None else flag("mesh")
    t = own_t if own_t is not None else target
    m = own_m if own_m is not None else mesh
    own = own_t is not None or own_m is not None
    if not _compiles(prog):
        if own:
            what = (f"({prog}) is a file to read" if isinstance(prog, str | os.PathLike)
                    else f"is a {type(prog).__name__}, already built on this machine")
            raise UsageError(f"{t_opt if own_t is not None else m_opt}: {side.upper()} "
                             f"{what}; only a program (sample:NAME, file.py:factory) is "
                             "compiled for a target")
        return SideTarget()  # the shared options serve the other side
    if devices is not None and (t is not None or m is not None):
        raise UsageError(f"{flag('devices')} and {t_opt if t is not None else m_opt} both "
                         f"choose {side.upper()}'s devices; give one ({flag('target')} "
                         f"cpu:N is {flag('devices')} N)")
    try:
        spec = parse_target(t) if t is not None else None
    except UsageError as e:
        raise UsageError(f"{t_opt}: {e.message}") from None
    try:
        axes = parse_mesh(m) if m is not None else None
        if spec is not None and axes is not None:
            check_mesh(spec, axes)
    except UsageError as e:
        raise UsageError(e.message.replace("--mesh", m_opt, 1)) from None
    if spec is not None:
        try:
            require_backend(spec)
        except UsageError as e:
            raise UsageError(e.message.replace("--target", t_opt, 1)) from None
    return SideTarget(target=t, mesh=m, own=own)


def _compiles(target: Any) -> bool:
    """A program that runs jax here: a target string naming one (not a file to read) or a
    factory (a callable that is not a jax stage)."""
    if isinstance(target, str):
        from hloscope.targets import parse_target

        return parse_target(target).captures
    return callable(target) and not _is_stage(target) and not isinstance(
        target, Analysis | Capture)


def resolve(target: Any, *, devices: int | None = None, compile_target: str | None = None,
            mesh: str | None = None, progress: Any = None) -> Capture | Analysis:
    """A Capture (or the given Analysis) for any target `diff` accepts. `devices`,
    `compile_target` and `mesh` apply to targets that run jax; files ignore them."""
    if isinstance(target, Analysis | Capture):
        return target
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if isinstance(target, str):
        from hloscope.targets import capture_target, parse_target

        runs = parse_target(target).captures
        return capture_target(
            target, devices=devices if runs else None, progress=progress,
            subprocess_fallback=True, compile_target=compile_target if runs else None,
            mesh=mesh if runs else None)
    if _is_stage(target):
        import hloscope

        return hloscope.capture(target)
    if callable(target):
        if compile_target is not None or mesh is not None:
            import hloscope

            # Compiled in a worker process: the factory must be importable by name
            # (`hloscope.capture` says so when it is not).
            return hloscope.capture(target, target=compile_target, mesh=mesh,
                                    progress=progress)
        return _from_factory(target)
    raise UsageError(
        f"cannot diff a {type(target).__name__}: give a Capture, an Analysis, a target string "
        "(sample:NAME, a file, file.py:factory), a jax.stages object or a factory")


def _is_stage(obj: Any) -> bool:
    """A jax.stages Traced / Lowered / Compiled (without importing jax for other values)."""
    return type(obj).__module__.startswith("jax") and type(obj).__name__ in (
        "Traced", "Lowered", "Compiled")


def _from_factory(factory: Any) -> Capture:
    import hloscope
    from hloscope.capture import one_line
    from hloscope.errors import CaptureError

    where = getattr(factory, "__qualname__", type(factory).__name__)
    try:
        made = factory()
    except Error:
        raise
    except Exception as e:  # the user's factory raised
        raise CaptureError(f"{where}: {one_line(e)}") from e
    if isinstance(made, tuple) and len(made) in (2, 3) and callable(made[0]):
        kwargs = made[2] if len(made) == 3 else {}
        return hloscope.capture(made[0], *made[1], **kwargs)
    if _is_stage(made):
        return hloscope.capture(made)
    raise UsageError(f"{where}: the factory returned a {type(made).__name__}; expected a "
                     "jax.stages Traced / Lowered / Compiled, or (fn, args[, kwargs])")


def compare(a: Capture | Analysis, b: Capture | Analysis, *,
            hardware: Hardware | str | None = None) -> DiffReport:
    """The DiffReport of two captures (or analyses)."""
    from hloscope.passes import diff as diff_pass

    with _collector_paused():
        ha, hb = _hardware(a, b, hardware)
        aa = analysis_for(a, ha)
        ab = analysis_for(b, hb)
        return diff_pass.run(side_of(aa), side_of(ab))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while two programs are read and compared: the IRs and
    reports grow the heap by millions of objects that live until the diff returns, so each
    full collection walks them all and frees next to nothing (2.5 of 11 s on two 100k-
    instruction programs, benchmarks/diff.py). Cycles made meanwhile are collected after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _hardware(a: Capture | Analysis, b: Capture | Analysis,
              hardware: Hardware | str | None) -> tuple[Hardware | None, Hardware | None]:
    """The chosen device for both, else each side's own (one object when they agree, so a
    measured `cpu` entry is the same figures on both sides)."""
    from hloscope.hardware import default_hardware, get_hardware

    if isinstance(hardware, str):
        hardware = get_hardware(hardware)
    if hardware is not None:
        return hardware, hardware
    own = []
    for x in (a, b):
        if isinstance(x, Analysis) and x.hardware is not None:
            own.append(x.hardware)
        else:
            own.append(default_hardware(x.capture if isinstance(x, Analysis) else x))
    if own[0].name == own[1].name:
        return own[0], own[0]
    return own[0], own[1]


def analysis_for(x: Capture | Analysis, hardware: Hardware | None) -> Analysis:
    """The analysis a diff reads: the given one (on `hardware`; its cached reports are
    reused), or a new one. The diff never reads the StableHLO of a side with optimized HLO
    (kernels do not need it: `Analysis.stablehlo_links` is separate)."""
    if isinstance(x, Analysis):
        return x if x.hardware is hardware else x.with_hardware(hardware)
    return analyze(x, hardware=hardware)


def side_of(analysis: Analysis, label: str | None = None) -> DiffSide:
    """A diff side from an analysis: every report it can give; the others named with the
    one-line reason they are missing."""
    from hloscope.passes.diff import DiffSide

    cap = analysis.capture
    missing: dict[str, str] = {}
    module = None
    try:
        module = analysis.module
    except MissingPartError as e:
        missing["module"] = e.message
        if cap.stablehlo is not None:
            # Compared as text below, but bad StableHLO is bad input, not a difference.
            analysis.stablehlo  # noqa: B018 - parsing is the check; ParseError propagates
    reports: dict[str, Any] = {}
    for name in REPORTS:
        if module is None:
            missing[name] = missing["module"]
            continue
        try:
            reports[name] = getattr(analysis, name)
        except Error as e:
            missing[name] = e.message
        except ImportError as e:  # a pass not in this build
            missing[name] = f"the {name} pass is not available ({e.name or e})"
    hw = analysis.hardware
    return DiffSide(
        label=label or cap.origin or cap.name,
        name=cap.name,
        module=module,
        hardware=hw.name if hw is not None else None,
        mesh=cap.mesh.describe() if cap.mesh is not None else None,
        devices=cap.device_count,
        platform=cap.platform,
        stablehlo=cap.stablehlo,
        versions={k: v for k, v in cap.versions.items() if k in ("jax", "jaxlib")},
        missing=missing,
        **reports,
    )
