"""`load(path)`: a Capture from a bundle, an HLO text file, a StableHLO `.mlir` file or an XLA
`--xla_dump_to` folder.

Loading never imports jax and never runs user code. Texts are kept byte for byte; files that
hold several modules (`// -----` sections, or several `HloModule` headers) and dump folders
with several modules need a pick (`module=`), and the error lists what there is. What a source
cannot provide (no StableHLO in an `.hlo` file, no XLA cost outside a capture) is left None and
said once in `Capture.notes`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hloscope.errors import InputError
from hloscope.records import Capture

_HLO_HEADER = re.compile(r"^[ \t]*HloModule[ \t]+([^\s,]+)", re.M)
_MLIR_MODULE = re.compile(r"^[ \t]*module\b(?:[ \t]+@([\w.$\-\"]+))?", re.M)
_SPLIT = re.compile(r"^// -----[ \t]*$", re.M)
_DUMP_FILE = re.compile(r"^(module_\d+)\.(.+)$")
MAX_TEXT_BYTES = 2 << 30
"""Text files beyond this are refused rather than read into memory."""


def load(path: str | os.PathLike[str], *, module: str | None = None) -> Capture:
    """Read a capture from `path`: a `.hlos` bundle, HLO text (`.hlo`, `.txt`, anything else
    that is text), StableHLO text (`.mlir`) or an XLA dump folder. `module` picks one module
    (by name, or by its number in the listing) where the source holds several."""
    p = Path(path)
    if p.is_dir():
        return load_dump(p, module=module)
    if not p.exists():
        raise InputError(f"{p}: no such file or directory")
    from hloscope.bundle import is_bundle, load_bundle

    if p.suffix == ".hlos" or is_bundle(p):
        cap = load_bundle(p)
        if module is not None and module != cap.name:
            raise InputError(f"{p}: the bundle holds one module, {cap.name}; no module {module!r}")
        return cap
    text = read_text(p)
    if p.suffix == ".mlir" or _looks_like_mlir(text):
        return _stablehlo_capture(p, text, module)
    return _hlo_capture(p, text, module)


def read_text(p: Path) -> str:
    """A text file's contents, exactly (no newline translation); binary files are refused."""
    try:
        size = p.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise InputError(f"{p}: {size} bytes is more than hloscope reads ({MAX_TEXT_BYTES})")
        data = p.read_bytes()
    except PermissionError as e:
        raise InputError(f"{p}: permission denied") from e
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or e})") from e
    if data.startswith(b"ML\xefR"):
        raise InputError(f"{p}: MLIR bytecode; hloscope reads MLIR text (print it with "
                         "`mlir-opt` or `ir.Module.parse(...).operation.get_asm()`)")
    if b"\x00" in data[:4096]:
        raise InputError(f"{p}: a binary file, not HLO or StableHLO text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{p}: not UTF-8 text (byte {e.start})") from e
    if not _strip_comments(text).strip():
        raise InputError(f"{p}: empty (no module in it)")
    return text


def _strip_comments(text: str) -> str:
    return re.sub(r"^[ \t]*//.*$", "", text, flags=re.M)


def _looks_like_mlir(text: str) -> bool:
    body = _strip_comments(text).lstrip()
    return body.startswith(("module", "#loc", "func.func", "#", "\"builtin.module\"")) and not (
        _HLO_HEADER.search(text)
    )


# -- files with several modules -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Part:
    name: str
    text: str
    line: int = 1
    """Line of the file at which `text` starts."""


def split_modules(text: str, header: re.Pattern[str] = _HLO_HEADER) -> list[_Part]:
    """The modules of a text: `// -----` sections (the split-input-file convention), else one
    per `HloModule` header. Sections holding only comments are dropped. One module: the text
    is returned whole, byte for byte. HLO is split by `hloscope.hlo.split_modules`, as
    `hloscope.hlo.parse` splits it."""
    if header is _HLO_HEADER:
        from hloscope.hlo import split_modules as split_hlo

        hlo_parts = split_hlo(text)
        if len(hlo_parts) <= 1:
            return [_Part(_name_of(text, header) or "", text)]
        return [_Part(p.name, p.text, p.line) for p in hlo_parts]
    sections = _SPLIT.split(text) if _SPLIT.search(text) else [text]
    parts: list[str] = []
    for section in sections:
        if not _strip_comments(section).strip():
            continue
        parts.append(section)
    if len(parts) <= 1:
        return [_Part(_name_of(text, header) or "", text)]
    return [_Part(_name_of(part, header) or f"module{i + 1}", part) for i, part in enumerate(parts)]


def _name_of(text: str, header: re.Pattern[str]) -> str | None:
    m = header.search(_strip_comments(text))
    if m and m.group(1):
        return m.group(1).strip('"')
    return None


def pick(parts: Sequence[_Part], module: str | None, where: str) -> _Part:
    """The part named `module` (or numbered, 1-based, as listed); every module is listed when
    none or a wrong one is asked for."""
    if len(parts) == 1 and module is None:
        return parts[0]
    names = [p.name for p in parts]
    listing = ", ".join(f"{i}: {n}" for i, n in enumerate(names, 1))
    if module is None:
        raise InputError(
            f"{where} holds {len(parts)} modules ({listing}); pick one with --module NAME or N"
        )
    matches = [p for p in parts if p.name == module]
    if len(matches) == 1:
        return matches[0]
    if module.isdigit() and 1 <= int(module) <= len(parts):
        return parts[int(module) - 1]
    if len(matches) > 1:
        raise InputError(
            f"{where}: {len(matches)} modules are called {module!r} ({listing}); "
            "pick one by number with --module N"
        )
    raise InputError(f"{where}: no module {module!r}; modules: {listing}")


# -- HLO and StableHLO text files -----------------------------------------------------------


def _hlo_capture(p: Path, text: str, module: str | None) -> Capture:
    part = pick(split_modules(text), module, str(p))
    buffer_assignment = _sibling_buffer_assignment(p)
    return Capture(
        name=part.name or p.stem,
        origin=str(p) if module is None else f"{p}#{module}",
        hlo=part.text,
        hlo_first_line=part.line,
        buffer_assignment=buffer_assignment,
        platform=_platform_of(p.name),
        device_count=_header_device_count(part.text),
        notes=("read from an HLO text file: no StableHLO, jaxpr or XLA cost/memory analysis",),
    )


def _stablehlo_capture(p: Path, text: str, module: str | None) -> Capture:
    part = pick(split_modules(text, _MLIR_MODULE), module, str(p))
    counts = re.search(r"mhlo\.num_partitions\s*=\s*(\d+)", part.text)
    replicas = re.search(r"mhlo\.num_replicas\s*=\s*(\d+)", part.text)
    return Capture(
        name=part.name or p.stem,
        origin=str(p) if module is None else f"{p}#{module}",
        stablehlo=part.text,
        device_count=(int(counts.group(1)) if counts else 1)
        * (int(replicas.group(1)) if replicas else 1),
        notes=(
            "read from a StableHLO file: no optimized HLO (analyses need it; capture the "
            "program or load XLA's dump)",
        ),
    )


def _header_device_count(text: str) -> int:
    """num_partitions x replica_count from the `HloModule` header line (1 when absent)."""
    m = _HLO_HEADER.search(text)
    if not m:
        return 1
    line = text[m.start() : text.find("\n", m.start()) if "\n" in text[m.start() :] else None]
    parts = re.search(r"\bnum_partitions=(\d+)", line)
    replicas = re.search(r"\breplica_count=(\d+)", line)
    return (int(parts.group(1)) if parts else 1) * (int(replicas.group(1)) if replicas else 1)


def _platform_of(filename: str) -> str:
    m = re.search(r"(cpu|gpu|tpu)_after_optimizations", filename)
    return m.group(1) if m else ""


def _sibling_buffer_assignment(p: Path) -> str | None:
    """A dump's `...after_optimizations.txt` has its buffer assignment beside it."""
    if not p.name.endswith("after_optimizations.txt"):
        return None
    ba = p.with_name(p.name[: -len(".txt")] + "-buffer-assignment.txt")
    return read_text(ba) if ba.is_file() else None


# -- XLA dump folders -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DumpModule:
    """One compiled module in an XLA dump folder."""

    id: str
    """`module_0008`: XLA's unique id, the file name prefix."""
    name: str
    after: Path | None
    before: Path | None
    stablehlo: Path | None

    @property
    def label(self) -> str:
        return f"{self.id}.{self.name}"


def dump_modules(folder: Path) -> list[DumpModule]:
    """The modules of a dump folder, by id."""
    groups: dict[str, dict[str, Path]] = {}
    names: dict[str, str] = {}
    for entry in sorted(os.listdir(folder)):
        m = _DUMP_FILE.match(entry)
        if not m:
            continue
        mid, rest = m.group(1), m.group(2)
        files = groups.setdefault(mid, {})
        if rest.endswith(".before_optimizations.txt"):
            files["before"] = folder / entry
            names[mid] = rest[: -len(".before_optimizations.txt")]
        elif rest.endswith("after_optimizations.txt"):
            files["after"] = folder / entry
        elif (folder / entry / "module.mlir").is_file():
            files["stablehlo"] = folder / entry / "module.mlir"
            names.setdefault(mid, rest)
    out = []
    for mid in sorted(groups):
        files = groups[mid]
        if "after" not in files and "before" not in files:
            continue
        name = names.get(mid) or _name_of(read_text(files["after"]), _HLO_HEADER) or mid
        out.append(DumpModule(mid, name, files.get("after"), files.get("before"),
                              files.get("stablehlo")))
    return out


def load_dump(folder: Path, *, module: str | None = None) -> Capture:
    """A Capture of one module of an XLA `--xla_dump_to` folder: its optimized HLO, the HLO
    before optimizations, the StableHLO jax handed XLA and the buffer assignment."""
    try:
        modules = dump_modules(folder)
    except OSError as e:
        raise InputError(f"{folder}: cannot read the folder ({e.strerror or e})") from e
    if not modules:
        raise InputError(
            f"{folder}: not an XLA dump folder (no module_NNNN.*optimizations.txt files)"
        )
    chosen = _pick_dump(modules, module, str(folder))
    hlo = read_text(chosen.after) if chosen.after else None
    notes = ["read from an XLA dump folder: no jaxpr or XLA cost/memory analysis"]
    if hlo is None:
        notes.append("no optimized HLO in the dump (only before_optimizations)")
    return Capture(
        name=chosen.name,
        origin=f"{folder}#{chosen.label}",
        hlo=hlo,
        hlo_before_optimizations=read_text(chosen.before) if chosen.before else None,
        stablehlo=read_text(chosen.stablehlo) if chosen.stablehlo else None,
        buffer_assignment=_sibling_buffer_assignment(chosen.after) if chosen.after else None,
        platform=_platform_of(chosen.after.name) if chosen.after else "",
        device_count=_header_device_count(hlo) if hlo else 1,
        notes=tuple(notes),
    )


def _pick_dump(modules: Sequence[DumpModule], module: str | None, where: str) -> DumpModule:
    if len(modules) == 1 and module is None:
        return modules[0]
    listing = ", ".join(m.label for m in modules)
    if module is None:
        raise InputError(
            f"{where} holds {len(modules)} modules ({listing}); pick one with --module NAME"
        )
    for m in modules:
        if module in (m.label, m.id, m.id.removeprefix("module_")):
            return m
    by_name = [m for m in modules if m.name == module]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        labels = ", ".join(m.label for m in by_name)
        raise InputError(
            f"{where}: {len(by_name)} modules are called {module!r} ({labels}); "
            f"pick one by id, e.g. --module {by_name[-1].id}"
        )
    raise InputError(f"{where}: no module {module!r}; modules: {listing}")
