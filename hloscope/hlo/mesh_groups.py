"""Replica groups in mesh form: `mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'y':(1)2,'x'}`.

Grammar (what XLA 0.10.2's `hlo_module_from_text` accepts; xla/hlo/parser/hlo_parser.cc):

    groups  ::= 'mesh' '[' axis (',' axis)* ']' (',' 'device_ids=' '(' ids ')')? '{' refs? '}'
    axis    ::= string '=' int
    ids     ::= '[' int (',' int)* ']' ('T' '(' int (',' int)* ')')?   iota; T(...) iff 2+ dims
              | int (',' int)*                                         explicit
    refs    ::= ref (',' ref)*
    ref     ::= string (':' '(' int ')' int)?                          sub-axis (pre_size)size

Meaning (xla/hlo/ir/replica_group.cc, mesh_and_axis.cc): the mesh is an array over the axis
sizes whose position p (row-major) holds device p, or `device_ids[p]` (the iota form: iota
over the dims, transposed, read row-major). Each axis that the groups name by sub-axes is
split into its factors (`'x':(2)2` of x=8: [2, 2, 2], the middle one); the array is then
transposed so that the dims not named come first, in order, and the named ones last, in the
order written, and cut into groups of their product.

XLA refuses (or aborts the process on) meshes and axis lists it considers invalid; the same
rules are checked here so that a module read here is one XLA reads too.
"""

from __future__ import annotations

from hloscope.hlo.lexer import NAME_RE, Cursor, quote
from hloscope.hlo.model import GroupsForm, ReplicaGroups
from hloscope.hlo.sharding import int_list_at

MAX_GROUP_DEVICES = 1 << 20
"""Larger meshes are refused rather than expanded (a million devices; XLA's largest is far
below)."""

_Ref = tuple[int, tuple[int, int] | None]
"""(mesh axis index, (pre_size, size) of a sub-axis or None for the whole axis)."""


def iota_devices(reshape: tuple[int, ...], perm: tuple[int, ...]) -> list[int]:
    """Row-major contents of iota(prod(reshape)) reshaped to `reshape` and transposed by
    `perm` (XLA's IotaTileAssignment)."""
    if not perm:
        perm = tuple(range(len(reshape)))
    strides = [1] * len(reshape)
    for i in range(len(reshape) - 2, -1, -1):
        strides[i] = strides[i + 1] * reshape[i + 1]
    out = [0]
    for p in perm:  # outermost first, so the last dim varies fastest (row-major)
        steps = [j * strides[p] for j in range(reshape[p])]
        out = [x + t for x in out for t in steps]
    return out


def mesh_groups_at(cur: Cursor, pos: int, end: int) -> ReplicaGroups:
    """Read the mesh-form replica groups spanning text[pos:end] (`pos` at `mesh`)."""
    axes, p = _axes(cur, pos + 4)
    total = 1
    for _, size in axes:
        total *= size
        if total > MAX_GROUP_DEVICES:
            cur.fail(pos, f"more than {MAX_GROUP_DEVICES} devices in replica groups")
    ids: tuple[int, ...] = ()
    reshape: tuple[int, ...] = ()
    perm: tuple[int, ...] = ()
    q = cur.skip_ws(p)
    if cur.text.startswith(",", q):
        ids, reshape, perm, p = _device_ids(cur, q + 1, total)
    p = cur.expect(p, "{", "'{' and the mesh axes of each group")
    refs, selected, sub, p = _refs(cur, p, axes)
    if p != end:
        cur.error(cur.skip_ws(p), "end of replica groups")
    size = _group_size(axes, refs)
    if size <= 1:
        cur.fail(pos, f"mesh replica groups need more than one device per group, not {size} "
                 "(as XLA requires)")
    groups = expand(tuple(s for _, s in axes), refs, ids)
    return ReplicaGroups(
        form=GroupsForm.MESH, groups=groups, mesh_axes=tuple(axes),
        mesh_selected=tuple(selected),
        mesh_sub_axes=tuple(sub) if any(s is not None for s in sub) else (),
        mesh_device_ids=ids, mesh_device_reshape=reshape, mesh_device_perm=perm)


def _axes(cur: Cursor, pos: int) -> tuple[list[tuple[str, int]], int]:
    """`['x'=2,'y'=4]` -> [(name, size)], the position after `]`."""
    text = cur.text
    p = cur.expect(pos, "[", "'[' after mesh")
    axes: list[tuple[str, int]] = []
    while True:
        q = cur.skip_ws(p)
        if text[q : q + 1] not in ("'", '"'):
            cur.error(q, "a quoted mesh axis name")
        name, p = cur.string(q)
        if any(name == a for a, _ in axes):
            cur.fail(q, f"mesh axis {name!r} appears twice")
        p = cur.expect(p, "=", f"'=' after mesh axis {name!r}")
        size, p = cur.integer(p, f"the size of mesh axis {name!r}")
        if size < 0:
            cur.fail(p, f"mesh axis {name!r} has a negative size")
        axes.append((name, size))
        p = cur.skip_ws(p)
        if not text.startswith(",", p):
            break
        p += 1
    return axes, cur.expect(p, "]", "',' or ']' after a mesh axis")


def _device_ids(cur: Cursor, pos: int, total: int
                ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], int]:
    """`device_ids=([4,2]T(1,0))` or `device_ids=(0,2,4,6,1,3,5,7)` after the mesh's comma:
    (ids per mesh position, iota reshape dims, iota perm, position after `)`)."""
    text = cur.text
    p = cur.skip_ws(pos)
    m = NAME_RE.match(text, p)
    if m is None or m.group() != "device_ids":
        cur.error(p, "device_ids= or '{'")
    p = cur.expect(m.end(), "=", "'=' after device_ids")
    p = cur.skip_ws(cur.expect(p, "(", "'(' after device_ids="))
    reshape: tuple[int, ...] = ()
    perm: tuple[int, ...] = ()
    at = p
    if text.startswith("[", p):
        reshape, perm, p = _iota(cur, p, total)
        ids = tuple(iota_devices(reshape, perm))
        if ids == tuple(range(total)):  # `[8]`, `[2,4]T(0,1)`: the plain order, as XLA reads it
            ids, reshape, perm = (), (), ()
    else:
        values = []
        while True:
            value, p = cur.integer(p, "a device id")
            values.append(value)
            p = cur.skip_ws(p)
            if not text.startswith(",", p) or len(values) > total:
                break
            p += 1
        ids = tuple(values)
        _check_device_list(cur, at, ids, total)
    return ids, reshape, perm, cur.expect(p, ")", "')' after the device ids")


def _iota(cur: Cursor, pos: int, total: int
          ) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    reshape, p = int_list_at(cur, pos, "[", "]")
    n = 1
    for d in reshape:
        n *= max(d, 0)
        if d < 0 or n > MAX_GROUP_DEVICES:
            cur.fail(pos, f"device_ids dims {list(reshape)} are not a device count")
    if not reshape or n != total:
        cur.fail(pos, f"device_ids dims {list(reshape)} do not hold the mesh's {total} devices")
    if len(reshape) == 1:  # XLA reads no T(...) after a single dim
        return reshape, (0,), p
    q = cur.skip_ws(p)
    if not cur.text.startswith("T", q):
        cur.error(q, "T(...) after the device_ids dims")
    perm, p = int_list_at(cur, q + 1, "(", ")")
    if sorted(perm) != list(range(len(reshape))):
        cur.fail(q, f"T{perm} is not a permutation of {len(reshape)} dims")
    return reshape, perm, p


def _check_device_list(cur: Cursor, pos: int, ids: tuple[int, ...], total: int) -> None:
    if len(ids) != total:
        cur.fail(pos, f"the mesh holds {total} devices but device_ids lists {len(ids)}")
    if sorted(ids) != list(range(total)):
        cur.fail(pos, f"device_ids must be a permutation of 0..{total - 1}")
    if list(ids) == list(range(total)):
        cur.fail(pos, "device_ids in plain order: XLA wants them left out")


def _refs(cur: Cursor, pos: int, axes: list[tuple[str, int]]
          ) -> tuple[list[_Ref], list[str], list[tuple[int, int] | None], int]:
    """`'y':(1)2,'x'}` after the `{`: the refs, their axis names, their sub-axes, and the
    position after `}`."""
    text = cur.text
    index = {name: i for i, (name, _) in enumerate(axes)}
    refs: list[_Ref] = []
    names: list[str] = []
    subs: list[tuple[int, int] | None] = []
    p = cur.skip_ws(pos)
    while not text.startswith("}", p):
        if text[p : p + 1] not in ("'", '"'):
            cur.error(p, "a quoted mesh axis name or '}'")
        at = p
        name, p = cur.string(p)
        if name not in index:
            cur.fail(at, f"{name!r} is not an axis of the mesh")
        sub: tuple[int, int] | None = None
        p = cur.skip_ws(p)
        if text.startswith(":", p):
            p = cur.expect(p + 1, "(", "'(' after ':' in a sub-axis")
            pre, p = cur.integer(p, "a sub-axis pre-size")
            p = cur.expect(p, ")", "')' after the sub-axis pre-size")
            size, p = cur.integer(p, "a sub-axis size")
            sub = (pre, size)
            _check_sub_axis(cur, at, name, axes[index[name]][1], sub)
        ref = (index[name], sub)
        _check_with_others(cur, at, name, ref, refs)
        refs.append(ref)
        names.append(name)
        subs.append(sub)
        p = cur.skip_ws(p)
        if text.startswith(",", p):
            p = cur.skip_ws(p + 1)
        elif not text.startswith("}", p):
            cur.error(p, "',' or '}'")
    return refs, names, subs, p + 1


def _check_sub_axis(cur: Cursor, pos: int, name: str, axis_size: int,
                    sub: tuple[int, int]) -> None:
    pre, size = sub
    label = f"{name!r}:({pre}){size}"
    if pre < 1 or size < 2:
        cur.fail(pos, f"sub-axis {label} needs a pre-size >= 1 and a size >= 2")
    if axis_size % (pre * size) or size >= axis_size:
        cur.fail(pos, f"sub-axis {label} is not a factor of the axis (size {axis_size})")


def _check_with_others(cur: Cursor, pos: int, name: str, ref: _Ref, refs: list[_Ref]) -> None:
    """XLA's rules for axes listed together (AxisRef::CanCoexistWithoutOverlap, CanMerge):
    no overlap within one axis, sub-axes that nest, no two neighbours that make one."""
    axis, sub = ref
    for other_axis, other in refs:
        if other_axis != axis:
            continue
        if sub is None or other is None:
            cur.fail(pos, f"mesh axis {name!r} overlaps an axis listed before it")
        pre, nxt = sub[0], sub[0] * sub[1]
        opre, onxt = other[0], other[0] * other[1]
        if nxt > opre and onxt > pre:
            cur.fail(pos, f"sub-axis {name!r}:({pre}){sub[1]} overlaps one listed before it")
        if max(pre, opre) % min(nxt, onxt):
            cur.fail(pos, f"sub-axis {name!r}:({pre}){sub[1]} does not nest with one listed "
                     "before it")
    if refs and refs[-1][0] == axis and sub is not None:
        last = refs[-1][1]
        if last is not None and last[0] * last[1] == sub[0]:
            cur.fail(pos, f"sub-axis {name!r}:({sub[0]}){sub[1]} continues the one before it: "
                     "XLA wants them written as one")


def _group_size(axes: list[tuple[str, int]], refs: list[_Ref]) -> int:
    n = 1
    for axis, sub in refs:
        n *= sub[1] if sub is not None else axes[axis][1]
    return n


def expand(sizes: tuple[int, ...], refs: list[_Ref],
           device_ids: tuple[int, ...] = ()) -> tuple[tuple[int, ...], ...]:
    """The groups, as XLA's MeshAxesReplicaGroupList::flattened_replica_groups makes them."""
    split: list[int] = []  # the mesh dims with each referenced axis split into its factors
    at: dict[int, int] = {}  # ref index -> its dim in `split`
    for axis, size in enumerate(sizes):
        mine = sorted((i for i, r in enumerate(refs) if r[0] == axis),
                      key=lambda i: _pre(refs[i]))
        if not mine or refs[mine[0]][1] is None:
            if mine:
                at[mine[0]] = len(split)
            split.append(size)
            continue
        prefix = 1
        for i in mine:
            pre, n = refs[i][1] or (1, size)  # all sub-axes here (checked when read)
            if pre != prefix:
                split.append(pre // prefix)
                prefix = pre
            at[i] = len(split)
            split.append(n)
            prefix *= n
        if prefix != size:
            split.append(size // prefix)
    grouped = [at[i] for i in range(len(refs))]
    perm = tuple([d for d in range(len(split)) if d not in grouped] + grouped)
    positions = iota_devices(tuple(split), perm)
    if device_ids:
        positions = [device_ids[p] for p in positions]
    n = 1
    for d in grouped:
        n *= split[d]
    if n == 0:
        return ()
    return tuple(tuple(positions[i : i + n]) for i in range(0, len(positions), n))


def _pre(ref: _Ref) -> int:
    return ref[1][0] if ref[1] is not None else 0


def format_mesh_groups(rg: ReplicaGroups) -> str:
    """The mesh form as XLA writes it."""
    axes = ",".join(f"{_quote(a)}={n}" for a, n in rg.mesh_axes)
    out = f"mesh[{axes}]"
    if rg.mesh_device_reshape:
        out += ", device_ids=([" + ",".join(map(str, rg.mesh_device_reshape)) + "]"
        if len(rg.mesh_device_reshape) > 1:
            out += "T(" + ",".join(map(str, rg.mesh_device_perm)) + ")"
        out += ")"
    elif rg.mesh_device_ids:
        out += ", device_ids=(" + ",".join(map(str, rg.mesh_device_ids)) + ")"
    subs = rg.mesh_sub_axes or (None,) * len(rg.mesh_selected)
    refs = [_quote(a) + (f":({s[0]}){s[1]}" if s is not None else "")
            for a, s in zip(rg.mesh_selected, subs, strict=True)]
    return out + " {" + ",".join(refs) + "}"


def _quote(name: str) -> str:
    # XLA writes names in single quotes; a name holding one needs the other kind.
    if "'" not in name and "\\" not in name:
        return f"'{name}'"
    return quote(name)
