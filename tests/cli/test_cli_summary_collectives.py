"""The summary's collective counts are the collectives inventory's (`Analysis.sharding`):
on TPU programs an async collective is a start fusion, continuation clones and a done fusion
of one channel, so counting opcodes says 110 all-gathers where there are 36 transfers."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from hloscope.hlo import parse_file
from hloscope.passes import sharding
from hloscope.views.summary import module_facts

Run = Callable[..., subprocess.CompletedProcess[str]]
TPU_FILE = ("generated", "tpu_tf_v5e_2x2_L4.hlo")


def _channels_by_kind(path: Path) -> dict[str, int]:
    """Distinct channel ids per collective kind: one per transfer, however many instructions
    (start, continuations, done) carry it."""
    module = parse_file(path)
    seen: dict[str, set[str]] = {}
    for _, ins in module.instructions():
        base = ins.opcode.removesuffix("-start")
        if base in sharding.KINDS and not ins.opcode.endswith("-done"):
            channel = ins.attr("channel_id")
            assert channel is not None, ins.name  # every collective of this file has one
            seen.setdefault(base, set()).add(channel)
    return {k: len(v) for k, v in seen.items()}


def test_summary_counts_each_transfer_once(corpus: Path) -> None:
    path = corpus.joinpath(*TPU_FILE)
    module = parse_file(path)
    facts = module_facts(module)["collectives"]
    opcodes = Counter(i.opcode for _, i in module.instructions())
    assert opcodes["all-gather"] == 110  # what counting opcodes said
    assert facts == {"all-reduce": 47, "all-gather": 36, "all-to-all": 56, "collective-permute": 11}
    assert facts == _channels_by_kind(path)
    assert facts == dict(sharding.run(module).by_kind)


def test_every_face_gives_the_same_counts(hloscope: Run, corpus: Path) -> None:
    path = corpus.joinpath(*TPU_FILE)
    summary = json.loads(hloscope("dump", path, "--json").stdout)
    inventory = json.loads(hloscope("dump", path, "--view", "collectives", "--json").stdout)
    assert summary["module"]["collectives"] == inventory["collectives_summary"]["by_kind"]
    assert len(inventory["collectives"]) == sum(summary["module"]["collectives"].values())
    text = hloscope("dump", path)
    assert text.returncode == 0, text.stderr
    line = next(ln for ln in text.stdout.splitlines() if ln.startswith("collectives"))
    assert line.split(None, 1)[1] == (
        "all-reduce 47 · all-gather 36 · all-to-all 56 · collective-permute 11"
    )
