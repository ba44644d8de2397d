"""`Capture` <-> `.hlos` bundle: a zip of `manifest.json` plus one plain-text member per text.

Never pickle: the manifest is JSON (schema-versioned) and the texts are UTF-8 members, so a
bundle can be opened with `unzip` and read by anything. Loading refuses, with one line each:
a newer schema, a corrupt or truncated zip, unsafe member names (absolute, `..`, duplicates),
uncompressed sizes beyond a bound (zip bombs) and missing or altered members. Saving writes a
temporary file beside the target and renames it, so a partial bundle is never left under the
final name. The same capture always gives the same bytes (fixed member order and timestamps).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
import types
import typing
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hloscope.errors import BundleError, InputError
from hloscope.records import Capture, MeshInfo

SCHEMA = "hloscope.bundle"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"

TEXT_MEMBERS: Mapping[str, str] = {
    "stablehlo": "stablehlo.mlir",
    "hlo": "hlo.txt",
    "hlo_before_optimizations": "hlo_before_optimizations.txt",
    "jaxpr": "jaxpr.txt",
    "buffer_assignment": "buffer_assignment.txt",
}
"""Capture field -> member name of the texts stored as members (the rest is in the manifest)."""

MAX_TOTAL_BYTES = 4 << 30
"""Uncompressed bytes a bundle may hold in all. Real captures of large models reach hundreds of
MB; beyond this it is a zip bomb or not ours."""
MAX_MANIFEST_BYTES = 64 << 20

_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same capture gives the same bytes


# -- save -----------------------------------------------------------------------------------


def save(capture: Capture, path: str | os.PathLike[str]) -> Path:
    """Write `capture` to `path` (conventionally `.hlos`) atomically; returns the path."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {target}: no such directory {parent}")
    if target.is_dir():
        raise InputError(f"cannot write {target}: it is a directory")
    data = to_bytes(capture)
    if target.exists() and not target.is_file():
        # A device or pipe (`-o /dev/null`, a FIFO): write into it; renaming over it would
        # replace the device node itself.
        try:
            with open(target, "wb") as f:
                f.write(data)
        except OSError as e:
            raise InputError(f"cannot write {target}: {e.strerror or e}") from e
        return target
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise InputError(f"cannot write {target}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; a bundle is an ordinary file: honour the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise InputError(f"cannot write {target}: {e.strerror or e}") from e
        raise
    return target


def to_bytes(capture: Capture) -> bytes:
    """The bundle's bytes (deterministic)."""
    import io

    members: dict[str, bytes] = {}
    listing: dict[str, dict[str, Any]] = {}
    for field, name in TEXT_MEMBERS.items():
        text = getattr(capture, field)
        if text is None:
            continue
        data = text.encode("utf-8")
        members[name] = data
        listing[field] = {
            "path": name,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    meta = {
        f.name: _to_json(getattr(capture, f.name))
        for f in dataclasses.fields(capture)
        if f.name not in TEXT_MEMBERS
    }
    from hloscope import __version__

    manifest = {
        "schema": f"{SCHEMA}/{SCHEMA_VERSION}",
        "created_by": f"hloscope {__version__}",
        "members": listing,
        "capture": meta,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _write(zf, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n")
        for name in sorted(members):
            _write(zf, name, members[name])
    return buf.getvalue()


def _write(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    # Level 6 (zlib's default): level 9 is ~2x slower on HLO text for ~3% smaller files.
    zf.writestr(info, data, compresslevel=6)


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    return value


# -- load -----------------------------------------------------------------------------------


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """A zip file (by its magic bytes), whatever its name."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def load_bundle(path: str | os.PathLike[str], *, max_bytes: int = MAX_TOTAL_BYTES) -> Capture:
    """Read a bundle written by `save`. Every way it can be bad is a one-line BundleError."""
    where = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError as e:
        raise InputError(f"{where}: no such file") from e
    except IsADirectoryError as e:
        raise InputError(f"{where}: is a directory, not a bundle") from e
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise BundleError(f"{where}: not a valid bundle (corrupt or truncated zip: {e})") from e
    with zf:
        try:
            return _load(zf, where, max_bytes)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, UnicodeDecodeError) as e:
            raise BundleError(f"{where}: corrupt or truncated bundle ({e})") from e


def _load(zf: zipfile.ZipFile, where: str, max_bytes: int) -> Capture:
    infos = _check_members(zf, where, max_bytes)
    if MANIFEST not in infos:
        raise BundleError(f"{where}: not an hloscope bundle (no {MANIFEST})")
    if infos[MANIFEST].file_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{where}: {MANIFEST} is {infos[MANIFEST].file_size} bytes, over the "
                          f"{MAX_MANIFEST_BYTES}-byte bound")
    try:
        manifest = json.loads(zf.read(MANIFEST).decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{where}: {MANIFEST} is not valid JSON ({e})") from e
    if not isinstance(manifest, dict):
        raise BundleError(f"{where}: {MANIFEST} is not a JSON object")
    _check_schema(manifest.get("schema"), where)
    texts = _read_texts(zf, infos, manifest.get("members"), where)
    meta = manifest.get("capture")
    if not isinstance(meta, dict):
        raise BundleError(f"{where}: {MANIFEST} has no capture record")
    fields = {f.name for f in dataclasses.fields(Capture)} - set(TEXT_MEMBERS)
    # Unknown keys come from a newer hloscope with the same schema (additive fields): ignored.
    known = {k: v for k, v in meta.items() if k in fields}
    cap: Capture = _from_json(Capture, {**known, **texts}, f"{where}: capture", set(texts))
    _check_capture(cap, f"{where}: capture")
    return cap


def _check_capture(cap: Capture, where: str) -> None:
    """Values no capture has, which the analyses would show as numbers or trip over."""
    if cap.device_count < 1:
        raise BundleError(f"{where}.device_count must be >= 1, got {cap.device_count}")
    if cap.hlo_first_line < 1:
        raise BundleError(f"{where}.hlo_first_line must be >= 1, got {cap.hlo_first_line}")
    if cap.mesh is not None:
        _check_mesh(cap.mesh, f"{where}.mesh")
    figures: dict[str, Any] = {f"timings_s.{k}": v for k, v in cap.timings_s.items()}
    if cap.xla_cost is not None:
        for k in ("flops", "transcendentals", "bytes_accessed"):
            figures[f"xla_cost.{k}"] = getattr(cap.xla_cost, k)
    if cap.xla_memory is not None:
        for f in dataclasses.fields(cap.xla_memory):
            figures[f"xla_memory.{f.name}"] = getattr(cap.xla_memory, f.name)
    # Any other number is kept as XLA gave it (XLA has reported negative figures); NaN is no
    # figure at all and would be shown as 'nan FLOP'.
    for name, value in figures.items():
        if value is not None and math.isnan(value):
            raise BundleError(f"{where}.{name} is not a number (NaN)")


def _check_mesh(mesh: MeshInfo, where: str) -> None:
    if len(mesh.axis_names) != len(mesh.axis_sizes) or (
        mesh.axis_types and len(mesh.axis_types) != len(mesh.axis_sizes)
    ):
        raise BundleError(f"{where}: axis names, sizes and types differ in number")
    if any(size < 1 for size in mesh.axis_sizes):
        raise BundleError(f"{where}.axis_sizes must be >= 1, got {mesh.axis_sizes}")
    ids = mesh.device_ids
    if len(ids) != mesh.size or len(set(ids)) != len(ids) or any(i < 0 for i in ids):
        raise BundleError(f"{where}.device_ids must be {mesh.size} distinct ids >= 0")


def _check_members(zf: zipfile.ZipFile, where: str, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    infos: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in zf.infolist():
        name = info.filename
        if not safe_member_name(name):
            raise BundleError(f"{where}: unsafe member name {name!r} (absolute or with '..')")
        if name in infos:
            raise BundleError(f"{where}: member {name!r} appears twice")
        infos[name] = info
        total += info.file_size
        if total > max_bytes:
            raise BundleError(
                f"{where}: members expand to more than {max_bytes} bytes; refusing "
                "(a zip bomb, or not an hloscope bundle)"
            )
    return infos


def safe_member_name(name: str) -> bool:
    """Relative, forward slashes, no `..` or empty parts, no drive letter."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return False
    if len(name) > 1 and name[1] == ":":
        return False
    return all(part not in ("", "..", ".") for part in name.rstrip("/").split("/"))


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, str) or not schema.startswith(f"{SCHEMA}/"):
        raise BundleError(f"{where}: not an hloscope bundle (schema {schema!r})")
    version = schema.split("/", 1)[1]
    if not version.isdigit():
        raise BundleError(f"{where}: unreadable bundle schema {schema!r}")
    if int(version) > SCHEMA_VERSION:
        raise BundleError(
            f"{where}: bundle schema {version} is newer than this hloscope reads "
            f"({SCHEMA_VERSION}); upgrade hloscope"
        )


def _read_texts(
    zf: zipfile.ZipFile, infos: Mapping[str, zipfile.ZipInfo], listing: Any, where: str
) -> dict[str, str]:
    if not isinstance(listing, dict):
        raise BundleError(f"{where}: {MANIFEST} has no member list")
    texts: dict[str, str] = {}
    for field, entry in listing.items():
        if field not in TEXT_MEMBERS:
            continue  # a text a newer hloscope stores; this one has no field for it
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise BundleError(f"{where}: {MANIFEST} member entry for {field!r} is malformed")
        name = entry["path"]
        if not safe_member_name(name):
            raise BundleError(f"{where}: unsafe member name {name!r} (absolute or with '..')")
        if name not in infos:
            raise BundleError(f"{where}: member {name!r} listed in {MANIFEST} is missing")
        data = zf.read(infos[name])
        if entry.get("bytes") != len(data) or entry.get("sha256") != hashlib.sha256(
            data
        ).hexdigest():
            raise BundleError(f"{where}: member {name!r} does not match {MANIFEST} (altered?)")
        texts[field] = data.decode("utf-8")
    return texts


# -- JSON -> records, checked against the dataclass field types ------------------------------


def _from_json(
    cls: type, data: Any, where: str, texts: frozenset[str] | set[str] = frozenset()
) -> Any:
    if not isinstance(data, dict):
        raise BundleError(f"{where}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise BundleError(f"{where}.{f.name} is missing")
            continue
        value = data[f.name]
        kwargs[f.name] = value if f.name in texts else _convert(hints[f.name], value,
                                                                 f"{where}.{f.name}")
    return cls(**kwargs)


def _convert(tp: Any, value: Any, where: str) -> Any:  # noqa: C901 - one branch per type form
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, where)
            except BundleError as e:
                errors.append(e)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        return _from_json(tp, value, where)  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list):
            raise BundleError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise BundleError(f"{where}: expected {len(args)} items, got {len(value)}")
        pairs = enumerate(zip(args, value, strict=True))
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in pairs)
    if origin in (Mapping, dict) or tp in (dict, Mapping):
        if not isinstance(value, dict):
            raise BundleError(f"{where}: expected an object, got {type(value).__name__}")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(vt, v, f"{where}.{k}") for k, v in value.items()}
    return _scalar(tp, value, where)


_SCALARS: Mapping[Any, tuple[type, ...]] = {
    float: (int, float),
    int: (int,),
    bool: (bool,),
    str: (str,),
}


def _scalar(tp: Any, value: Any, where: str) -> Any:
    if tp is Any:
        return value
    if tp not in _SCALARS:
        raise BundleError(f"{where}: cannot read a value of type {tp}")
    # bool is an int to Python, but not to JSON readers of our numbers.
    if isinstance(value, _SCALARS[tp]) and (tp is bool or not isinstance(value, bool)):
        number: Any = value
        return float(number) if tp is float else value
    raise BundleError(f"{where}: expected {tp.__name__}, got {type(value).__name__}")
