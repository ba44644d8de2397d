"""The StableHLO reader on every `.mlir` of the shared corpus.

Files MLIR accepts (`mlir_parses=yes` in the manifest) read, and our ops agree with a plain walk
of MLIR's own module (op names in pre-order, result types, operand counts, attribute names,
nesting). Files MLIR refuses give one ParseError line naming the file, line and column.
In-process: these inputs are known not to crash jaxlib (isolation is tested in
tests/capture/test_stablehlo_capture.py).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from hloscope.errors import ParseError
from hloscope.stablehlo import StableModule, parse_stablehlo_file
from tests.conftest import corpus_dir

pytestmark = pytest.mark.jax



def _rows(parses: str) -> list[str]:
    manifest = corpus_dir() / "stablehlo" / "MANIFEST.tsv"
    if not manifest.is_file():  # the `corpus` fixture then fails the tests loudly
        return []
    with manifest.open() as f:
        return [r["local_name"] for r in csv.DictReader(f, delimiter="\t")
                if (r["mlir_parses"] == "yes") == (parses == "yes")]


def _reference_walk(text: str) -> list[dict[str, Any]]:
    """MLIR's own view of the module: every op but the module and func.func, pre-order."""
    from jax.extend.mlir import ir

    from hloscope._jaxapi import make_ir_context

    out: list[dict[str, Any]] = []

    def walk(op: Any, depth: int) -> None:
        for region in op.regions:
            for block in region.blocks:
                for child in block.operations:
                    child = child.operation
                    keep = child.name not in ("func.func", "builtin.module")
                    if keep:
                        out.append({
                            "name": child.name,
                            "results": [str(r.type) for r in child.results],
                            "operands": len(child.operands),
                            "attrs": list(child.attributes),  # names only: always readable
                            "regions": len(child.regions),
                            "depth": depth,
                        })
                    walk(child, depth + 1 if keep else 0)

    with make_ir_context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        walk(module.operation, 0)
    return out


def _depth(m: StableModule, op_id: int) -> int:
    d = 0
    parent = m.ops[op_id].parent
    while parent is not None:
        d += 1
        parent = m.ops[parent].parent
    return d


@pytest.mark.parametrize("name", _rows("yes"))
def test_corpus_file_reads_like_mlir(corpus: Path, name: str) -> None:
    path = corpus / "stablehlo" / name
    m = parse_stablehlo_file(path, safe=False)
    ref = _reference_walk(path.read_text())
    ours = [{
        "name": op.name,
        "results": [t.text for t in op.result_types],
        "operands": len(op.operands),
        "attrs": [k for k, _ in op.attributes],
        "regions": len(op.region_args),
        "depth": _depth(m, op.id),
    } for op in m.ops]
    assert ours == ref
    # Internal consistency: operand types are the types of the values they name, every
    # function's ops belong to it, and ids are positions.
    assert [op.id for op in m.ops] == list(range(len(m.ops)))
    for op in m.ops:
        assert tuple(m.values[v].type for v in op.operands) == op.operand_types
        assert tuple(m.values[v].type for v in op.results) == op.result_types
    for f in m.funcs:
        assert all(m.ops[i].func == f.name for i in f.ops)
        assert tuple(m.values[v].type for v in f.args) == f.arg_types


@pytest.mark.parametrize("name", _rows("no"))
def test_refused_corpus_file_is_one_clear_line(corpus: Path, name: str) -> None:
    path = corpus / "stablehlo" / name
    with pytest.raises(ParseError) as info:
        parse_stablehlo_file(path, safe=False)
    err = info.value
    assert err.file == str(path)
    assert err.line is not None
    assert err.column is not None
    assert str(err).startswith(f"{path}:{err.line}:{err.column}: ")
    assert "\n" not in str(err)
