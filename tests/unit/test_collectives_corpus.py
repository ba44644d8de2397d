"""Every TPU program of the corpus (`generated/`, compiled by libtpu): each collective is
inventoried once, with mesh axes, bytes, a count and why; counts agree with an independent
census of the text (distinct channel ids per kind), and the 1024-chip program's mesh is the
64 × 16 its README states."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from hloscope.hardware import get_hardware
from hloscope.hlo import Module, parse_file
from hloscope.passes import sharding
from hloscope.passes.sharding import KINDS
from tests.conftest import corpus_dir

GENERATED = sorted(p.name for p in (corpus_dir() / "generated").glob("*.hlo"))


@cache
def _module(name: str) -> Module:
    return parse_file(corpus_dir() / "generated" / name)


def _hardware(name: str) -> str:
    for chip in ("v5e", "v5p", "v6e", "v4"):
        if f"_{chip}_" in name:
            return f"tpu-{chip}"
    raise AssertionError(name)


def test_the_corpus_has_tpu_programs() -> None:
    assert len(GENERATED) >= 8


@pytest.mark.parametrize("name", GENERATED)
def test_every_collective_has_axes_bytes_and_why(corpus: Path, name: str) -> None:
    module = _module(name)
    r = sharding.run(module, hardware=get_hardware(_hardware(name)))
    assert r.collectives
    mesh_axes = set(r.mesh.axis_names)
    by_name = {i.name: i for _, i in module.instructions()}
    assert r.mesh.size == module.num_partitions
    for c in r.collectives:
        assert c.kind in KINDS
        assert c.count >= 1
        assert c.why.startswith(c.kind), c.why
        if c.group_size > 1:
            assert c.axes, (c.name, c.axes_label)
            assert set(c.axes) <= mesh_axes
            assert c.bytes_per_device > 0
            assert c.estimated_s is not None
            assert c.estimated_s > 0
            assert c.link == "ici"
        instr = by_name[c.instruction]
        if instr.metadata is not None and instr.metadata.stack_frame_id:
            assert re.fullmatch(r".+\.py:\d+", c.source), (c.name, c.source)


@pytest.mark.parametrize("name", GENERATED)
def test_counts_match_a_census_of_the_text(corpus: Path, name: str) -> None:
    text = (corpus / "generated" / name).read_text()
    r = sharding.run(_module(name))
    for kind in ("all-gather", "all-reduce", "all-to-all"):
        # Each of these has its own channel id; TPU's async fusions repeat it in clones.
        channels = set(re.findall(rf"[\]}})] {kind}(?:-start)?\([^\n]*?channel_id=(\d+)", text))
        ours = [c for c in r.collectives if c.kind == kind]
        assert len(ours) == len(channels), kind
    permutes = len(re.findall(r"[\]})] collective-permute(?:-start)?\(", text))
    assert sum(c.kind == "collective-permute" for c in r.collectives) == permutes


def test_the_1024_chip_program(corpus: Path) -> None:
    module = _module("tpu_tf_v5p_8x8x16_L4.hlo")
    r = sharding.run(module, hardware=get_hardware("tpu-v5p"))
    assert r.num_devices == 1024
    assert r.mesh.axis_sizes == (64, 16)
    assert r.mesh.inferred
    # replica_groups=[64,16]<=[1024]: 64 groups of 16 consecutive ids, the minor axis.
    ag = [c for c in r.collectives if c.kind == "all-gather" and c.group_size == 16]
    assert ag
    assert all(c.axes == ("axis_1",) for c in ag)
    assert set(r.by_axis) >= {"axis_0", "axis_1"}
    assert r.total_s is not None
    assert r.total_s > 0
