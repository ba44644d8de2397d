"""Files holding several modules: one splitter (`hloscope.hlo.split_modules`) for the reader,
the loader and the CLI; `// -----` sections and `HloModule` headers; line numbers of the file
in errors (no jax)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hloscope
from hloscope import hlo
from hloscope.analysis import Analysis
from hloscope.errors import InputError, ParseError
from hloscope.loading import split_modules as loader_split

SUB_BYTE = "hlo/files/xla__backends__gpu__tests__sub_byte_collectives.hlo"

_A = "HloModule a\nENTRY e {\n  ROOT p = f32[] parameter(0)\n}\n"
_HEADERLESS = "e {\n  ROOT p = f32[2] parameter(0)\n}\n"
_BAD = "HloModule bad\nENTRY e {\n  p = f32[] parameter(0)\n  ROOT q = f32[] negate(zz)\n}\n"


def test_headerless_sections_are_modules_with_unique_names(corpus: Path) -> None:
    text = (corpus / SUB_BYTE).read_text()
    names = hlo.list_modules(text)
    assert names == ("module_e", "module_e.1", "module_e.2", "module_e.3", "module_e.4")
    for i, name in enumerate(names):
        m = hlo.parse(text, module=i)
        assert m.name == name
        assert hlo.parse(text, module=name) == m
    assert hlo.parse(text, module=3).entry_computation["b"].opcode == "collective-broadcast"
    with pytest.raises(ParseError, match=r"holds 5 modules \(module_e, module_e\.1, "):
        hlo.parse(text)


def test_the_loader_splits_as_the_reader_does(corpus: Path) -> None:
    path = corpus / SUB_BYTE
    text = path.read_text()
    parts = loader_split(text)
    assert tuple(p.name for p in parts) == hlo.list_modules(text)
    for i, p in enumerate(hlo.split_modules(text)):
        assert parts[i].text == p.text
        assert text.count("\n", 0, p.start) + 1 == p.line == parts[i].line
    cap = hloscope.load(path, module="module_e.2")
    assert cap.hlo == hlo.split_modules(text)[2].text
    assert Analysis(cap).module.name == "module_e"  # its own text, read alone
    with pytest.raises(InputError, match=r"holds 5 modules \(1: module_e, 2: module_e\.1,"):
        hloscope.load(path)


def test_sections_and_headers_together() -> None:
    text = (f"// RUN: hlo-opt %s --split-input-file\n{_A}\n// -----   \n// a comment\n\n"
            f"// -----\n{_A.replace(' a', ' b')}{_A.replace(' a', ' c')}// -----\n"
            f"{_HEADERLESS}  // ----- (not a separator: not the start of a line)\n")
    parts = hlo.split_modules(text)
    assert [p.name for p in parts] == ["a", "b", "c", "module_e"]
    assert [p.has_header for p in parts] == [True, True, True, False]
    assert [text.count("\n", 0, p.start) + 1 for p in parts] == [p.line for p in parts]
    assert [p.line for p in parts] == [1, 10, 15, 19]
    assert hlo.parse(text, module="c").entry_computation["p"].line == 17
    # between the parts: separators, blanks and comments only
    bounds = [0, *(x for p in parts for x in (p.start, p.end)), len(text)]
    gaps = [text[a:b] for a, b in zip(bounds[::2], bounds[1::2], strict=True)]
    assert all(re.fullmatch(r"(?:\s|//[^\n]*)*", g) for g in gaps), gaps
    assert parts[0].start == 0


def test_one_module_is_the_whole_text() -> None:
    text = f"// leading comment\n{_A}// -----\n// nothing here\n"
    (part,) = hlo.split_modules(text)
    assert part.name == "a"
    assert hlo.parse(text).name == "a"
    assert loader_split(text)[0].text == text
    assert hlo.split_modules("") == ()
    assert hlo.split_modules("// -----\n  \n// -----\n") == ()
    with pytest.raises(ParseError, match=r"^<text>:1:1: expected an HLO module, found only "
                       "comments$"):
        hlo.parse("// a\n/* b */\n// -----\n")


def test_explicit_names_are_kept_and_headerless_ones_made_unique() -> None:
    text = f"{_HEADERLESS}// -----\n{_A.replace(' a', ' module_e')}// -----\n{_HEADERLESS}"
    assert hlo.list_modules(text) == ("module_e", "module_e", "module_e.1")
    with pytest.raises(ParseError, match=r"2 modules are named 'module_e' \(indexes 0, 1\)"):
        hlo.parse(text, module="module_e")
    assert hlo.parse(text, module="module_e.1").name == "module_e.1"


def test_errors_in_a_picked_module_name_lines_of_the_file(tmp_path: Path) -> None:
    text = f"{_A}\n// -----\n{_BAD}"
    with pytest.raises(ParseError, match=r"^f\.hlo:10:\d+: operand zz of q is not defined"):
        hlo.parse(text, name="f.hlo", module="bad")
    path = tmp_path / "f.hlo"
    path.write_text(text)
    cap = hloscope.load(path, module="2")
    assert cap.hlo == "\n" + _BAD
    assert cap.hlo_first_line == 6
    with pytest.raises(ParseError, match=r"f\.hlo#2:10:\d+: operand zz of q"):
        _ = Analysis(cap).module


def test_first_line_moves_errors_not_instruction_lines() -> None:
    m = hlo.parse(_A, first_line=40)
    assert m.entry_computation["p"].line == 3
    with pytest.raises(ParseError, match=r"^x:42:\d+: operand zz"):
        hlo.parse(_BAD.replace("HloModule bad\n", ""), name="x", first_line=40)
    with pytest.raises(ParseError, match=r"^<text>:42:1: expected"):
        hlo.parse("HloModule a\nENTRY e {\n", first_line=40)
