"""Readers for the attribute values the IR models: metadata, replica groups, source-target
pairs, frontend attributes, backend_config, computation and instruction lists,
input_output_alias. Each takes the cursor and the value's span `[pos, end)` in the text, so
errors point into the file."""

from __future__ import annotations

import json
import re
from typing import Any

from hloscope.hlo._fast import fast_builder
from hloscope.hlo.lexer import DIGITS, NAME_RE, Cursor, string_end, unescape
from hloscope.hlo.mesh_groups import MAX_GROUP_DEVICES, iota_devices, mesh_groups_at
from hloscope.hlo.model import (
    GroupsForm,
    InputOutputAlias,
    Metadata,
    ReplicaGroups,
)
from hloscope.hlo.sharding import int_list_at, iota_at

_KEY_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*")
_PLAIN_VALUE_RE = re.compile(r"[^\s{}\"']+")
_INT_FIELDS = {
    "source_line": "source_line",
    "source_end_line": "source_end_line",
    "source_column": "source_column",
    "source_end_column": "source_end_column",
    "stack_frame_id": "stack_frame_id",
}
_STR_FIELDS = ("op_type", "op_name", "source_file")
_INT_VALUE_RE = re.compile(r"-?" + DIGITS)

metadata_cache: dict[str, Metadata] = {}
_json_cache: dict[str, Any] = {}
_groups_cache: dict[str, ReplicaGroups] = {}


def braced_items(cur: Cursor, pos: int, end: int) -> list[tuple[str, int, int]]:
    """`{k=v k2=v2}` (space or comma separated) -> [(key, value_start, value_end)]."""
    text = cur.text
    if not text.startswith("{", pos):
        cur.error(pos, "'{'")
    pos += 1
    items: list[tuple[str, int, int]] = []
    while True:
        pos = cur.skip_ws(pos)
        if text.startswith("}", pos):
            if pos + 1 != end:
                cur.error(pos + 1, "end of value")
            return items
        m = _KEY_RE.match(text, pos)
        if m is None:
            cur.error(pos, "key=value or '}'")
        vstart = m.end()
        vend = _item_end(cur, vstart)
        items.append((m.group(1), vstart, vend))
        pos = cur.skip_ws(vend)
        if text.startswith(",", pos):
            pos += 1


def _item_end(cur: Cursor, pos: int) -> int:
    text = cur.text
    c = text[pos : pos + 1]
    if c in ('"', "'"):
        return string_end(cur, pos)
    if c in ("{", "(", "["):
        return cur.balanced(pos)
    m = _PLAIN_VALUE_RE.match(text, pos)
    if m is None:
        cur.error(pos, "a value")
    # `a,b` inside braces without spaces: stop at a comma that starts another key.
    v = m.group()
    comma = v.find(",")
    return pos + comma if comma >= 0 else m.end()


def metadata(cur: Cursor, pos: int, end: int) -> Metadata:
    raw = cur.text[pos:end]
    md = metadata_cache.get(raw)
    if md is None:
        md = _metadata(cur, pos, end)
        if len(metadata_cache) < 200_000:
            metadata_cache[raw] = md
    return md


def _metadata(cur: Cursor, pos: int, end: int) -> Metadata:
    text = cur.text
    fields: dict[str, Any] = {}
    extra: list[tuple[str, str]] = []
    for key, vs, ve in braced_items(cur, pos, end):
        if key in _STR_FIELDS:
            if text[vs] != '"':
                cur.error(vs, f"a quoted string for {key}")
            fields[key] = unescape(text[vs + 1 : ve - 1])
        elif key in _INT_FIELDS:
            fields[_INT_FIELDS[key]] = _int_value(cur, vs, ve, key)
        else:
            extra.append((key, text[vs:ve]))
    return Metadata(**fields, extra=tuple(extra))


def _int_value(cur: Cursor, pos: int, end: int, key: str) -> int:
    if _INT_VALUE_RE.fullmatch(cur.text, pos, end) is None:
        cur.error(pos, f"an integer for {key}")
    return int(cur.text[pos:end])


def frontend_attributes(cur: Cursor, pos: int, end: int) -> tuple[tuple[str, str], ...]:
    text = cur.text
    out: list[tuple[str, str]] = []
    for key, vs, ve in braced_items(cur, pos, end):
        if text[vs] in ('"', "'"):
            out.append((key, unescape(text[vs + 1 : ve - 1])))
        elif text[vs] == "{":  # XLA also takes a braced value unquoted; it is the raw text
            out.append((key, text[vs:ve]))
        else:
            cur.error(vs, f"a quoted string for frontend attribute {key}")
    return tuple(out)


def backend_config(cur: Cursor, pos: int, end: int) -> tuple[Any, str]:
    """(parsed JSON or None, the config text). A quoted value is unescaped first."""
    text = cur.text
    if text[pos] in ('"', "'"):
        if string_end(cur, pos) != end:
            cur.error(pos, "one quoted string for backend_config")
        raw = unescape(text[pos + 1 : end - 1])
    elif text[pos] == "{":
        raw = text[pos:end]
    else:
        cur.error(pos, "a quoted string or {...} for backend_config")
    return parse_json(raw), raw


def parse_json(raw: str) -> Any:
    """The JSON object in `raw`, or None when it is not a JSON object."""
    if not raw.startswith("{"):
        return None
    if raw in _json_cache:
        return _json_cache[raw]
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        value = None
    if len(_json_cache) < 50_000:
        _json_cache[raw] = value
    return value


def name_list(cur: Cursor, pos: int, end: int, what: str) -> tuple[str, ...]:
    """`%a` or `{%a, %b}` or `{}` -> names."""
    text = cur.text
    if not text.startswith("{", pos):
        name, stop = cur.name(pos, what)
        if stop != end:
            cur.error(stop, f"end of {what}")
        return (name,)
    out: list[str] = []
    pos = cur.skip_ws(pos + 1)
    while not text.startswith("}", pos):
        name, pos = cur.name(pos, what)
        out.append(name)
        pos = cur.skip_ws(pos)
        if text.startswith(",", pos):
            pos = cur.skip_ws(pos + 1)
        elif not text.startswith("}", pos):
            cur.error(pos, "',' or '}'")
    if pos + 1 != end:
        cur.error(pos + 1, f"end of {what}")
    return tuple(out)


def int_lists(cur: Cursor, pos: int, end: int) -> tuple[tuple[int, ...], ...]:
    """`{{0,1},{2,3}}` -> ((0, 1), (2, 3))."""
    text = cur.text
    out: list[tuple[int, ...]] = []
    pos = cur.expect(pos, "{")
    pos = cur.skip_ws(pos)
    while not text.startswith("}", pos):
        group, pos = int_list_at(cur, pos, "{", "}")
        out.append(group)
        pos = cur.skip_ws(pos)
        if text.startswith(",", pos):
            pos = cur.skip_ws(pos + 1)
        elif not text.startswith("}", pos):
            cur.error(pos, "',' or '}'")
    if pos + 1 != end:
        cur.error(pos + 1, "end of value")
    return tuple(out)


def source_target_pairs(cur: Cursor, pos: int, end: int) -> tuple[tuple[int, int], ...]:
    pairs = int_lists(cur, pos, end)
    for p in pairs:
        if len(p) != 2:
            cur.fail(pos, f"source_target_pairs entry {list(p)} is not a pair")
    return tuple((p[0], p[1]) for p in pairs)


def replica_groups(cur: Cursor, pos: int, end: int) -> ReplicaGroups:
    raw = cur.text[pos:end]
    rg = _groups_cache.get(raw)
    if rg is None:
        rg = _replica_groups(cur, pos, end)
        if len(_groups_cache) < 20_000:
            _groups_cache[raw] = rg
    return rg


def _replica_groups(cur: Cursor, pos: int, end: int) -> ReplicaGroups:
    text = cur.text
    if text.startswith("{", pos):
        return ReplicaGroups(form=GroupsForm.EXPLICIT, groups=int_lists(cur, pos, end))
    if text.startswith("[", pos):
        return _iota_groups(cur, pos, end)
    if text.startswith("mesh", pos):
        return mesh_groups_at(cur, pos, end)
    cur.error(pos, "replica groups ({{...}}, [n,m]<=[...] or mesh[...] {...})")


def _iota_groups(cur: Cursor, pos: int, end: int) -> ReplicaGroups:
    dims, p = int_list_at(cur, pos, "[", "]")
    if len(dims) != 2:
        cur.fail(pos, f"iota replica groups need [groups,size], found {list(dims)}")
    total = dims[0] * dims[1]
    if total > MAX_GROUP_DEVICES:
        cur.fail(pos, f"more than {MAX_GROUP_DEVICES} devices in replica groups")
    p = cur.expect(p, "<=")
    ta, p = iota_at(cur, p, dims, total)
    if p != end:
        cur.error(p, "end of replica groups")
    flat = iota_devices(ta.reshape_dims, ta.transpose_perm)
    n = dims[1]
    groups = tuple(tuple(flat[i * n : (i + 1) * n]) for i in range(dims[0]))
    return ReplicaGroups(form=GroupsForm.IOTA, groups=groups, iota_dims=dims,
                         reshape_dims=ta.reshape_dims, transpose_perm=ta.transpose_perm)


_INT_LIST = r"\{((?:[0-9]{1,9}(?:,[0-9]{1,9})*+)?)\}"
_ALIAS_RE = re.compile(
    _INT_LIST + r":[ \t]*+\([ \t]*+([0-9]{1,9}),[ \t]*+" + _INT_LIST
    + r"(?:,[ \t]*+([A-Za-z_][A-Za-z0-9_.\-]*+))?[ \t]*+\)")
_make_alias = fast_builder(
    InputOutputAlias, ("output_index", "parameter_number", "parameter_index", "kind"))


def _ints(raw: str) -> tuple[int, ...]:
    return tuple(map(int, raw.split(","))) if raw else ()


def _alias_at(cur: Cursor, p: int) -> tuple[InputOutputAlias, int]:
    """One `{0}: (1, {}, may-alias)` entry, token by token."""
    text = cur.text
    out_index, p = int_list_at(cur, p, "{", "}")
    p = cur.expect(p, ":")
    p = cur.expect(p, "(")
    param, p = cur.integer(p, "a parameter number")
    p = cur.expect(p, ",")
    param_index, p = int_list_at(cur, p, "{", "}")
    kind = "may-alias"
    p = cur.skip_ws(p)
    if text.startswith(",", p):
        m = NAME_RE.match(text, cur.skip_ws(p + 1))
        if m is None:
            cur.error(cur.skip_ws(p + 1), "may-alias or must-alias")
        kind, p = m.group(), m.end()
    p = cur.expect(p, ")")
    return InputOutputAlias(output_index=out_index, parameter_number=param,
                            parameter_index=param_index, kind=kind), p


def input_output_alias(cur: Cursor, pos: int, end: int) -> tuple[InputOutputAlias, ...]:
    """`{ {0}: (0, {}, may-alias), {1}: (1, {1}) }`."""
    text = cur.text
    out: list[InputOutputAlias] = []
    p = cur.skip_ws(cur.expect(pos, "{"))
    while not text.startswith("}", p):
        m = _ALIAS_RE.match(text, p)
        if m is not None:  # the usual spelling, in one match
            out_index, param, param_index, kind = m.groups()
            out.append(_make_alias(_ints(out_index), int(param), _ints(param_index),
                                   kind or "may-alias"))
            p = m.end()
        else:
            alias, p = _alias_at(cur, p)
            out.append(alias)
        p = cur.skip_ws(p)
        if text.startswith(",", p):
            p = cur.skip_ws(p + 1)
    if p + 1 != end:
        cur.error(p + 1, "end of input_output_alias")
    return tuple(out)
