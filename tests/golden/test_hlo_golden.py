"""Golden files for the HLO reader and printer: one readable file per case in
tests/golden/hlo/, holding an IR summary and the printer's output for a small module.

Regenerate after a deliberate change (then read the diff before committing):

    HLOSCOPE_UPDATE_GOLDEN=1 python -m pytest tests/golden/test_hlo_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hloscope import hlo
from hloscope.hlo import calls, source
from hloscope.hlo.printer import format_metadata, format_replica_groups
from hloscope.hlo.shapes import format_shape
from hloscope.hlo.sharding import format_sharding
from tests.conftest import corpus_dir

GOLDEN = Path(__file__).parent / "hlo"
CASES = {
    "tpu_mlp_v5e_2x2": "generated/tpu_v5e_2x2.hlo",
    "while_known_trip_count":
        "hlo/files/xla__tools__multihost_hlo_runner__data__while_with_known_trip_count.hlo",
    "async_collectives":
        "hlo/cc_raw/xla__backends__gpu__transforms__collectives__async_collective_annotator_test"
        ".L38.hlo",
    "tuple_sharding":
        "hlo/split/xla__hlo__translate__hlo_to_mhlo__tests__import_emit_stablehlo.part112.hlo",
    "conditional_branches": "hlo/cc_raw/xla__service__copy_insertion_test.L5044.hlo",
}


def _instruction_line(m: hlo.Module, ins: hlo.Instruction) -> str:
    parts = [f"{'ROOT ' if ins.is_root else ''}{ins.name} = {format_shape(ins.shape)} "
             f"{ins.opcode}({', '.join(ins.operands)})"]
    if ins.async_wrapped_opcode:
        parts.append(f"wraps={ins.async_wrapped_opcode}")
    if ins.parameter_number is not None:
        parts.append(f"param={ins.parameter_number}")
    if ins.literal is not None:
        parts.append(f"literal={ins.literal[:40]}")
    if ins.fusion_kind:
        parts.append(f"kind={ins.fusion_kind}")
    if ins.called:
        parts.append(f"called={','.join(ins.called)}")
    if ins.replica_groups is not None:
        rg = ins.replica_groups
        parts.append(f"groups[{rg.form.value}]={format_replica_groups(rg)} -> "
                     f"{[list(g) for g in rg.groups]}")
    if ins.source_target_pairs is not None:
        parts.append(f"pairs={list(ins.source_target_pairs)}")
    if ins.sharding is not None:
        parts.append(f"sharding={format_sharding(ins.sharding)} ({ins.sharding.kind.value})")
    if ins.opcode == "while":
        parts.append(f"trip_count={calls.trip_count(ins)}")
    if ins.attributes:
        parts.append("attrs=" + " ".join(f"{k}={v}" for k, v in ins.attributes))
    if ins.metadata is not None:
        parts.append(f"metadata={format_metadata(ins.metadata)}")
        loc = source.source_of(m, ins)
        if loc is not None:
            parts.append(f"source={' <- '.join(f'{f.short} {f.function}' for f in loc.frames)}")
            parts.append(f"scope={source.scope(ins)!r}")
    if ins.backend_config is not None:
        parts.append(f"backend_config keys={sorted(ins.backend_config)}")
    return "    " + "  ".join(parts)


def summary(m: hlo.Module) -> str:
    """A readable, stable dump of what the reader understood."""
    counts = calls.execution_counts(m)
    lines = [
        f"module {m.name} entry={m.entry} header={m.has_header} scheduled={m.is_scheduled} "
        f"partitions={m.num_partitions} replicas={m.replica_count}",
        f"  {len(m.computations)} computations, {m.instruction_count} instructions, "
        f"{len(m.stack_frames)} stack frames",
    ]
    for comp in m.computations:
        lines.append(f"  {comp.name} role={comp.role.value} entry={comp.is_entry} "
                     f"params={list(comp.parameters)} root={comp.root} runs={counts[comp.name]}")
        lines += [_instruction_line(m, ins) for ins in comp.instructions]
    return "\n".join(lines) + "\n"


def render(rel: str) -> str:
    text = (corpus_dir() / rel).read_text(encoding="utf-8")
    m = hlo.parse(text)
    return (f"# input: corpus/{rel}\n\n## IR summary\n\n{summary(m)}\n"
            f"## print_module\n\n{hlo.print_module(m)}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    path = GOLDEN / f"{case}.txt"
    got = render(CASES[case])
    if os.environ.get("HLOSCOPE_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.is_file(), f"missing golden {path}; run with HLOSCOPE_UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")
