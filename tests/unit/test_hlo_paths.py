"""The parser's fast path (one regex per usual line) and its general path (token by token)
must build the same module. A comment at the start of every line sends every instruction
through the general path; both readings of each corpus file must be equal."""

from __future__ import annotations

import re

import pytest

from hloscope import hlo
from tests.conftest import corpus_dir

_LINE_START_RE = re.compile(r"^([ \t]*)(ROOT[ \t]|%|[A-Za-z_][A-Za-z0-9_.\-]*[ \t]*=)", re.M)


def _files() -> list[str]:
    root = corpus_dir()
    files = sorted(p for p in (root / "hlo").rglob("*.hlo"))
    files += sorted((root / "generated").glob("*.hlo"))
    return [str(p.relative_to(root)) for p in files]


@pytest.mark.parametrize("rel", _files())
def test_fast_and_general_paths_agree(rel: str) -> None:
    text = (corpus_dir() / rel).read_text(encoding="utf-8")
    names = hlo.list_modules(text)
    slow_text = _LINE_START_RE.sub(r"\1/*slow*/ \2", text)
    for i in range(len(names)):
        try:
            fast = hlo.parse(text, module=i)
        except hlo.ParseError:
            continue
        assert hlo.parse(slow_text, module=i) == fast
