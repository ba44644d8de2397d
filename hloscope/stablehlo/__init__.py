"""StableHLO (the lowered, pre-optimization MLIR) -> our IR, `StableModule`.

    from hloscope.stablehlo import parse_stablehlo, parse_stablehlo_file
    m = parse_stablehlo_file("model.mlir")          # isolated: a parser crash is an error line
    m = parse_stablehlo(lowered.as_text(debug_info=True))   # text jax just wrote: in-process
    m.ops_at("model.py", 42)                         # the ops line 42 made
    m.ops_with_name_stack("jit(f)/layer1/dot_general")

Reading goes through jaxlib's MLIR bindings (`reader.py`), which this package imports lazily:
importing it, or the model and Shardy types, does not load jax.
"""

from __future__ import annotations

from pathlib import Path

from hloscope.errors import InputError
from hloscope.stablehlo.model import (
    NO_SOURCE,
    Frame,
    Source,
    StableFunc,
    StableModule,
    StableOp,
    StableValue,
    TensorType,
    hlo_element_type,
)
from hloscope.stablehlo.shardy import (
    AxisRef,
    DimSharding,
    ManualComputation,
    Mesh,
    MeshAxis,
    TensorSharding,
)

__all__ = [
    "NO_SOURCE",
    "AxisRef",
    "DimSharding",
    "Frame",
    "ManualComputation",
    "Mesh",
    "MeshAxis",
    "Source",
    "StableFunc",
    "StableModule",
    "StableOp",
    "StableValue",
    "TensorSharding",
    "TensorType",
    "hlo_element_type",
    "parse_stablehlo",
    "parse_stablehlo_file",
]


def parse_stablehlo(
    text: str | bytes, *, source: str | None = None, safe: bool = False
) -> StableModule:
    """Read StableHLO text (or MLIR bytecode). `source` names it in error messages.

    In-process by default (fast: for text jax has just produced). `safe=True` parses in a
    child process so that a crash of jaxlib's native parser on hostile input becomes an
    InputError; use it for text from files or bundles a user hands over.
    Raises ParseError (`source:line:col: message`) for text MLIR refuses.
    """
    if safe:
        from hloscope.stablehlo.isolate import read_isolated

        return read_isolated(text, source=source)
    from hloscope.stablehlo.reader import read

    return read(text, source=source)


def parse_stablehlo_file(path: str | Path, *, safe: bool = True) -> StableModule:
    """Read a `.mlir` file (text or bytecode), isolated in a child process unless
    `safe=False`. Raises InputError when the file cannot be read, ParseError when it is not
    valid MLIR."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror or e}") from None
    payload: str | bytes
    if data.startswith(b"ML\xefR"):  # MLIR bytecode
        payload = data
    else:
        try:
            payload = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(
                f"{p}: not UTF-8 text nor MLIR bytecode (byte {e.start}: {data[e.start]:#04x})"
            ) from None
    return parse_stablehlo(payload, source=str(p), safe=safe)
