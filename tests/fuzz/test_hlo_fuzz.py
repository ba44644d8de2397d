"""Fuzzing the HLO reader: mutated corpus texts must parse or raise our `ParseError`, nothing
else, and every input must finish in bounded time.

CI runs 10,000 cases per test (about a minute in all). The long run:

    HLOSCOPE_FUZZ_EXAMPLES=100000 python -m pytest tests/fuzz -q -p no:cacheprovider

Mutations: delete, duplicate, swap and corrupt spans (with characters that matter to the
grammar), truncate, and insert deep nesting. Inputs are small corpus files so each case is cheap.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hloscope import hlo
from hloscope.errors import ParseError
from hloscope.hlo.sharding import parse_sharding
from tests.conftest import corpus_dir

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("HLOSCOPE_FUZZ_EXAMPLES", "10000"))
MAX_SECONDS = 2.0
"""Bound per input (a small file parses in about a millisecond; the bound absorbs a busy CI)."""
SPECIAL = '{}()[],=%"\'/*:<>\n \t\\.-_0123456789ROOTENTRYHloModulef32[]T()S()'

_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
    suppress_health_check=list(HealthCheck),
)
_SMALL_SETTINGS = settings(_SETTINGS, max_examples=max(1, EXAMPLES // 5))


@lru_cache(maxsize=1)
def _texts() -> tuple[str, ...]:
    root = corpus_dir()
    paths = sorted((root / "hlo").rglob("*.hlo")) + sorted((root / "generated").glob("*.hlo"))
    small = [p.read_text(encoding="utf-8") for p in paths if p.stat().st_size < 12_000]
    return tuple(small)


def _span(data: st.DataObject, n: int) -> tuple[int, int]:
    a = data.draw(st.integers(0, n))
    b = data.draw(st.integers(a, min(n, a + data.draw(st.sampled_from((1, 4, 16, 200))))))
    return a, b


def _mutate(data: st.DataObject, text: str) -> str:
    for _ in range(data.draw(st.integers(1, 3))):
        n = len(text)
        kind = data.draw(st.sampled_from(
            ("delete", "duplicate", "swap", "corrupt", "truncate", "nest", "insert")))
        a, b = _span(data, n)
        if kind == "delete":
            text = text[:a] + text[b:]
        elif kind == "duplicate":
            text = text[:b] + text[a:b] + text[b:]
        elif kind == "swap":
            c, d = _span(data, n)
            if b <= c:
                text = text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:]
        elif kind == "corrupt":
            junk = data.draw(st.text(alphabet=SPECIAL, min_size=b - a, max_size=b - a))
            text = text[:a] + junk + text[b:]
        elif kind == "truncate":
            text = text[:a]
        elif kind == "nest":
            depth = data.draw(st.sampled_from((10, 300, 5000)))
            o, c = data.draw(st.sampled_from((("(", ")"), ("{", "}"), ("[", "]"))))
            text = text[:a] + o * depth + c * data.draw(st.sampled_from((0, depth))) + text[a:]
        else:
            text = text[:a] + data.draw(st.text(min_size=1, max_size=8)) + text[a:]
    return text


def _check(fn: object, text: str) -> None:
    start = time.perf_counter()
    message = ""
    try:
        fn(text)  # type: ignore[operator]
    except ParseError as e:
        message = str(e)
    elapsed = time.perf_counter() - start
    assert "\n" not in message
    assert elapsed < MAX_SECONDS, f"{elapsed:.2f}s on a {len(text)}-character input"


@_SETTINGS
@given(st.data())
def test_mutated_corpus_texts_parse_or_fail_cleanly(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(_texts()))
    _check(lambda t: hlo.parse(t, module=0) if hlo.list_modules(t)[1:] else hlo.parse(t),
           _mutate(data, text))


@_SMALL_SETTINGS
@given(st.data())
def test_mutated_shardings_parse_or_fail_cleanly(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from((
        "{devices=[4,1,2]<=[2,4]T(1,0) last_tile_dim_replicate}", "{{replicated}, {manual}}",
        "{maximal device=3}", "{devices=[2,2]0,1,2,3 last_tile_dims={manual, replicated}}",
    )))
    _check(parse_sharding, _mutate(data, base))


_GROUPS_MODULE = (
    "HloModule m, num_partitions=8\n%add (a: f32[], b: f32[]) -> f32[] {\n"
    "  %a = f32[] parameter(0)\n  %b = f32[] parameter(1)\n  ROOT %s = f32[] add(%a, %b)\n}\n"
    "ENTRY %e (p: f32[8]) -> f32[8] {\n  %p = f32[8]{0} parameter(0)\n"
    "  ROOT %ar = f32[8]{0} all-reduce(%p), channel_id=1, replica_groups=GROUPS, "
    "use_global_device_ids=true, to_apply=%add\n}\n"
)


@_SMALL_SETTINGS
@given(st.data())
def test_mutated_replica_groups_parse_or_fail_cleanly(data: st.DataObject) -> None:
    # The corpus files small enough to fuzz hold no mesh-form groups: mutate them here.
    base = data.draw(st.sampled_from((
        "mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'y':(2)2,'x'}",
        "mesh['a'=1,'b'=2,'c'=4], device_ids=(3,1,4,0,5,7,2,6) {'c','b'}",
        "mesh['x'=8] {'x':(4)2,'x':(1)2}",
        "[2,4]<=[2,2,2]T(2,0,1)",
    )))
    _check(hlo.parse, _GROUPS_MODULE.replace("GROUPS", _mutate(data, base)))


def test_corpus_for_fuzzing_is_present() -> None:
    assert len(_texts()) > 100
