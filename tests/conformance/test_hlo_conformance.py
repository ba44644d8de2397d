"""Our HLO reader and printer against XLA's C++ parser on every corpus file XLA accepts.

For each module: the computations, and per computation the instruction names, opcodes, result
shapes (as XLA prints them) and operand lists must equal those of
`jaxlib._hlo.hlo_module_from_text`; our printout must read back into an equal module and XLA
must read it into the same module as the original (equal `to_string()`). Files XLA refuses
must be read or refused with our `ParseError`, nothing else.
"""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from pathlib import Path

import pytest

from hloscope import _jaxapi, hlo
from hloscope.errors import ParseError
from hloscope.hlo.model import Layout, Shape
from hloscope.hlo.opcodes import ENUM_NAMES
from hloscope.hlo.shapes import format_shape
from tests.conftest import corpus_dir

pytestmark = pytest.mark.jax

_INDEX_COMMENT_RE = re.compile(r"/\*index=[0-9]+\*/")


def _manifest() -> list[tuple[str, str]]:
    path = corpus_dir() / "hlo" / "MANIFEST.tsv"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out = [(f"hlo/{r['local_name']}", r["xla_parses"]) for r in rows]
    out += [(f"generated/{p.name}", "yes")
            for p in sorted((corpus_dir() / "generated").glob("*.hlo"))]
    return out


_FILES = _manifest()
_ACCEPTED = [f for f, ok in _FILES if ok == "yes"]
_REFUSED = [f for f, ok in _FILES if ok != "yes"]


def _with_default_layout(shape: Shape) -> Shape:
    """XLA gives every array without a written layout the default (major-to-minor) one."""
    if shape.element_type in ("tuple", "buffer"):
        return replace(shape, tuple_shapes=tuple(_with_default_layout(s)
                                                 for s in shape.tuple_shapes))
    if shape.is_array and shape.layout is None and shape.dims:
        return replace(shape, layout=Layout(tuple(range(len(shape.dims) - 1, -1, -1))))
    return shape


_View = dict[str, list[tuple[str, str, str, tuple[str, ...]]]]


def _xla_view(module: object) -> _View:
    """Computation -> [(name, opcode enum, printed text after ' = ', operand names)]."""
    out: _View = {}
    for comp in module.computations():  # type: ignore[attr-defined]
        rows = []
        for ins in comp.instructions():
            text = _INDEX_COMMENT_RE.sub("", ins.to_string())
            head = text[text.index(" = ") + 3 :]
            opcode = str(ins.opcode).rsplit(".", 1)[-1]
            rows.append((ins.name, opcode, head, tuple(o.name for o in ins.operands())))
        out[comp.name] = rows
    return out


_SUFFIX_RE = re.compile(r"\.[0-9]+$")


def _renamed(ours: str, theirs: str) -> bool:
    """XLA makes instruction names unique across the module (`p0` -> `p0.1`, `x.3` -> `x.4`)."""
    return theirs == ours or theirs.startswith(_SUFFIX_RE.sub("", ours) + ".")


def _check(ours: hlo.Module, xla: _View) -> None:
    names = {c.name for c in ours.computations}
    # XLA builds a wrapped computation for sugared async ops (`slice-start`); we keep the
    # wrapped opcode on the instruction instead.
    sugar = sum(1 for _, i in ours.instructions()
                if i.async_wrapped_opcode and i.opcode == "async-start")
    extra = sorted(set(xla) - names)
    assert len(extra) == sugar, f"computations only XLA has: {extra[:5]}"
    assert names <= set(xla), f"computations only we have: {sorted(names - set(xla))[:5]}"
    for comp in ours.computations:
        theirs = xla[comp.name]
        assert len(comp.instructions) == len(theirs), comp.name
        rename: dict[str, str] = {}
        for ins, (name, opcode, head, operands) in zip(comp.instructions, theirs, strict=True):
            where = (comp.name, ins.name)
            assert _renamed(ins.name, name), (*where, name)
            rename[ins.name] = name
            assert ENUM_NAMES[ins.opcode] == opcode, where
            shape = format_shape(_with_default_layout(ins.shape))
            assert head.startswith(shape + " "), (*where, shape, head[:200])
            assert tuple(rename[o] for o in ins.operands) == operands, where


@pytest.mark.parametrize("rel", _ACCEPTED)
def test_reads_and_prints_like_xla(rel: str) -> None:
    text = (corpus_dir() / rel).read_text(encoding="utf-8")
    ours = hlo.parse(text, name=rel)
    theirs = _jaxapi.hlo_module_from_text(text)
    _check(ours, _xla_view(theirs))
    # The printer: our text reads back equal, and XLA reads it as it reads the original.
    printed = hlo.print_module(ours)
    assert hlo.parse(printed) == ours
    assert _jaxapi.hlo_module_from_text(printed).to_string() == theirs.to_string()


@pytest.mark.parametrize("rel", _REFUSED)
def test_refused_files_read_or_fail_clearly(rel: str) -> None:
    text = (corpus_dir() / rel).read_text(encoding="utf-8")
    error: ParseError | None = None
    try:
        hlo.parse(text, name=rel)
    except ParseError as e:
        error = e
    if error is not None:
        assert str(error).startswith(rel), str(error)
        assert "\n" not in str(error)


def test_multi_module_files_read_each_module() -> None:
    for rel in _REFUSED:
        text = (corpus_dir() / rel).read_text(encoding="utf-8")
        names = hlo.list_modules(text)
        if len(names) < 2:
            continue
        for i in range(len(names)):
            assert hlo.parse(text, module=i).name == names[i]


def test_corpus_present() -> None:
    assert len(_ACCEPTED) > 400, "corpus manifest missing or truncated"
    assert Path(corpus_dir()).is_dir()


_GATHER = """HloModule groups, num_partitions=8
ENTRY e {
  p = s32[1] parameter(0), sharding={manual}
  ROOT g = s32[SIZE] all-gather(p), channel_id=1, replica_groups=GROUPS, dimensions={0},
    use_global_device_ids=true, sharding={manual}
}
"""


@pytest.mark.parametrize(
    "groups",
    [
        "{{0,1},{2,3},{4,5},{6,7}}",
        "[4,2]<=[2,4]T(1,0)",
        "[2,4]<=[8]",
        "[2,4]<=[2,2,2]T(2,0,1)",
        "mesh['x'=2,'y'=4] {'x'}",
        "mesh['x'=2,'y'=4] {'y'}",
        "mesh['x'=2,'y'=2,'z'=2] {'z','x'}",
        "mesh['x'=2,'y'=2,'z'=2] {'x','z'}",
        # sub-axes: 'x':(pre)size is the size-way factor of x after its pre-way major factor
        "mesh['x'=8] {'x':(1)2}",
        "mesh['x'=8] {'x':(2)2}",
        "mesh['x'=8] {'x':(4)2}",
        "mesh['x'=8] {'x':(2)4}",
        "mesh['x'=8] {'x':(4)2,'x':(1)2}",
        "mesh['x'=2,'y'=4] {'y':(2)2,'x'}",
    ],
)
def test_replica_groups_match_xla_runtime(groups: str) -> None:
    """Our expanded groups (members and order) equal what XLA's CPU runtime gathers: each
    device contributes its id, so device d's output is its group, in order."""
    import numpy as np

    m = hlo.parse(_GATHER.replace("GROUPS", groups).replace("SIZE", "1"))
    rg = m.entry_computation["g"].replica_groups
    assert rg is not None
    size = len(rg.groups[0])
    text = _GATHER.replace("GROUPS", groups).replace("SIZE", str(size))
    out = _jaxapi.run_hlo_per_device(text, [np.array([d], np.int32) for d in range(8)])
    ours = {d: list(g) for g in rg.groups for d in g}
    assert {d: out[d].tolist() for d in range(8)} == ours


_SDY_MESH_RE = re.compile(r"(sdy\.mesh @mesh = <\[[^\]]*\])>")


@pytest.mark.parametrize(
    "groups",
    [
        "mesh['x'=2,'y'=4], device_ids=(0,2,4,6,1,3,5,7) {'x'}",
        "mesh['x'=2,'y'=4], device_ids=(3,1,4,0,5,7,2,6) {'y'}",
        "mesh['x'=2,'y'=4], device_ids=(3,1,4,0,5,7,2,6) {'y','x'}",
        "mesh['x'=8], device_ids=(0,4,1,5,2,6,3,7) {'x':(2)2}",
        "mesh['x'=2,'y'=4], device_ids=(7,6,5,4,3,2,1,0) {'y':(1)2,'x'}",
        "mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'x'}",
        "mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'y'}",
        "mesh['a'=1,'b'=2,'c'=4], device_ids=([4,2]T(1,0)) {'c','b'}",
        "mesh['x'=2,'y'=4], device_ids=([2,2,2]T(2,0,1)) {'y','x'}",
        "mesh['x'=2,'y'=4], device_ids=([2,2,2]T(0,2,1)) {'y':(1)2,'x'}",
        "mesh['x'=8], device_ids=([2,4]T(1,0)) {'x':(1)4}",
    ],
)
def test_mesh_device_ids_match_xla_runtime(groups: str) -> None:
    """Mesh groups with device ids (mesh position p holds device ids[p]) against XLA's CPU
    runtime. jaxlib's HLO -> StableHLO import drops the ids from the `sdy.mesh` it writes, so
    they are put back there (our reading of the list; for the iota form, our expansion of
    it, the one the iota groups above check) and XLA's own printout of the module it compiled
    must then show the groups of the text we read."""
    import numpy as np

    m = hlo.parse(_GATHER.replace("GROUPS", groups).replace("SIZE", "1"))
    rg = m.entry_computation["g"].replica_groups
    assert rg is not None
    assert rg.mesh_device_ids
    size = len(rg.groups[0])
    text = _GATHER.replace("GROUPS", groups).replace("SIZE", str(size))
    ids = ",".join(map(str, rg.mesh_device_ids))
    mlir, n = _SDY_MESH_RE.subn(lambda g: f"{g.group(1)}, device_ids=[{ids}]>",
                                _jaxapi.hlo_to_stablehlo_text(text))
    assert n == 1
    out, compiled = _jaxapi.run_stablehlo_per_device(
        mlir, [np.array([d], np.int32) for d in range(8)])
    ran = next(i for _, i in hlo.parse(compiled).instructions() if i.opcode == "all-gather")
    assert ran.replica_groups is not None
    assert ran.replica_groups.groups == rg.groups
    if not rg.mesh_device_reshape:  # an explicit list reads back as written
        assert hlo.print_module(hlo.parse(compiled)).count(groups) == 1
    ours = {d: list(g) for g in rg.groups for d in g}
    assert {d: out[d].tolist() for d in range(8)} == ours


@pytest.mark.parametrize(
    "groups",
    [
        "mesh['axis_0'=1,'axis_1'=1,'axis_2'=8,'axis_3'=64], device_ids=([64,8]T(1,0)) "
        "{'axis_2'}",
        "mesh[\"x\"=2,\"y\"=4],device_ids=([4,2]T (1,0)){\"x\"}",
        "mesh['x'=2,'y'=4], device_ids=([2,4]T(0,1)) {'x'}",
        "mesh['x'=2,'y'=4], device_ids=([8]) { 'y' : ( 2 ) 2 }",
        "mesh['x'=8] {'x':(2)2,'x':(1)2}",
    ],
)
def test_mesh_groups_print_back_as_xla_reads_them(groups: str) -> None:
    """Spellings XLA accepts read here, and the printer writes them so that XLA reads the
    same module (XLA's own printout of ours equals its printout of the original)."""
    size = 512 if "axis_3" in groups else 8
    text = _GATHER.replace("GROUPS", groups).replace("partitions=8", f"partitions={size}")
    m = hlo.parse(text.replace("SIZE", "2"))
    rg = m.entry_computation["g"].replica_groups
    assert rg is not None
    text = text.replace("SIZE", str(len(rg.groups[0])))
    ours = hlo.parse(text)
    printed = hlo.print_module(ours)
    assert hlo.parse(printed) == ours
    theirs = _jaxapi.hlo_module_from_text(text).to_string()
    assert _jaxapi.hlo_module_from_text(printed).to_string() == theirs
    assert sorted(d for g in rg.groups for d in g) == list(range(size))
