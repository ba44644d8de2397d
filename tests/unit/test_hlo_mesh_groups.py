"""Mesh-form replica groups with device ids and sub-axes (no jax; the expansions are checked
against XLA's runtime in tests/conformance/test_hlo_conformance.py)."""

from __future__ import annotations

import pytest

from hloscope import hlo
from hloscope.errors import ParseError
from hloscope.hlo import GroupsForm, ReplicaGroups

_MODULE = (
    "HloModule m, num_partitions=8\n\n"
    "%add (a: f32[], b: f32[]) -> f32[] {\n"
    "  %a = f32[] parameter(0)\n"
    "  %b = f32[] parameter(1)\n"
    "  ROOT %s = f32[] add(%a, %b)\n"
    "}\n\n"
    "ENTRY %e (p: f32[8]) -> f32[8] {\n"
    "  %p = f32[8]{0} parameter(0)\n"
    # one line, as XLA writes it
    "  ROOT %ar = f32[8]{0} all-reduce(%p), channel_id=1, replica_groups=GROUPS, "
    "use_global_device_ids=true, to_apply=%add\n"
    "}\n"
)


def _groups(text: str) -> ReplicaGroups:
    rg = hlo.parse(_MODULE.replace("GROUPS", text)).entry_computation["ar"].replica_groups
    assert rg is not None
    assert rg.form is GroupsForm.MESH
    return rg


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        # iota([4,2]).T(1,0) = [[0,2,4,6],[1,3,5,7]]: position (x, y) holds device 2y + x.
        ("mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'x'}", ((0, 1), (2, 3), (4, 5), (6, 7))),
        ("mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'y'}", ((0, 2, 4, 6), (1, 3, 5, 7))),
        ("mesh['x'=2,'y'=4], device_ids=(7,6,5,4,3,2,1,0) {'x'}",
         ((7, 3), (6, 2), (5, 1), (4, 0))),
        # sub-axes: x=8 as [2,2,2]; (1)2 the major factor, (2)2 the middle, (4)2 the minor
        ("mesh['x'=8] {'x':(1)2}", ((0, 4), (1, 5), (2, 6), (3, 7))),
        ("mesh['x'=8] {'x':(2)2}", ((0, 2), (1, 3), (4, 6), (5, 7))),
        ("mesh['x'=8] {'x':(4)2}", ((0, 1), (2, 3), (4, 5), (6, 7))),
        ("mesh['x'=8] {'x':(2)4}", ((0, 1, 2, 3), (4, 5, 6, 7))),
        # two sub-axes of one axis, in the order written
        ("mesh['x'=8] {'x':(4)2,'x':(1)2}", ((0, 4, 1, 5), (2, 6, 3, 7))),
        ("mesh['x'=2,'y'=4] {'y':(2)2,'x'}", ((0, 4, 1, 5), (2, 6, 3, 7))),
        # the form 512 CPU devices print, cut to 16: position (0, 0, i, j) holds device
        # 2j + i, so the groups over axis_2 are {2j, 2j+1}
        ("mesh['axis_0'=1,'axis_1'=1,'axis_2'=2,'axis_3'=8], device_ids=([8,2]T(1,0)) "
         "{'axis_2'}", tuple((2 * j, 2 * j + 1) for j in range(8))),
    ],
)
def test_groups(text: str, groups: tuple[tuple[int, ...], ...]) -> None:
    assert _groups(text).groups == groups


def test_fields_keep_the_written_form() -> None:
    rg = _groups("mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'y':(2)2,'x'}")
    assert rg.mesh_axes == (("x", 2), ("y", 4))
    assert rg.mesh_selected == ("y", "x")
    assert rg.mesh_sub_axes == ((2, 2), None)
    assert rg.mesh_device_ids == (0, 2, 4, 6, 1, 3, 5, 7)
    assert (rg.mesh_device_reshape, rg.mesh_device_perm) == ((4, 2), (1, 0))
    listed = _groups("mesh['x'=2,'y'=4], device_ids=(0,2,4,6,1,3,5,7) {'y':(2)2,'x'}")
    assert listed.groups == rg.groups
    assert (listed.mesh_device_reshape, listed.mesh_device_perm) == ((), ())
    plain = _groups("mesh['x'=2,'y'=4] {'x'}")
    assert (plain.mesh_device_ids, plain.mesh_sub_axes) == ((), ())


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'x'}",
         "mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'x'}"),
        ('mesh["x"=2,"y"=4],device_ids=( 3,1,4,0,5,7,2,6 ){ "y" : ( 2 ) 2 }',
         "mesh['x'=2,'y'=4], device_ids=(3,1,4,0,5,7,2,6) {'y':(2)2}"),
        # the plain order written as an iota is the mesh without device ids, as XLA reads it
        ("mesh['x'=2,'y'=4], device_ids=([2,4]T(0,1)) {'x'}", "mesh['x'=2,'y'=4] {'x'}"),
        ("mesh['x'=2,'y'=4], device_ids=([8]) {'x'}", "mesh['x'=2,'y'=4] {'x'}"),
        ("mesh[\"it's\"=8] {\"it's\":(1)2}", "mesh[\"it's\"=8] {\"it's\":(1)2}"),
    ],
)
def test_printed_as_xla_writes_it(text: str, printed: str) -> None:
    m = hlo.parse(_MODULE.replace("GROUPS", text))
    out = hlo.print_module(m)
    assert f"replica_groups={printed}\n" in out
    assert hlo.parse(out) == m


def test_the_attribute_after_the_groups_is_read() -> None:
    m = hlo.parse(_MODULE.replace("GROUPS", "mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'x'}"))
    ar = m.entry_computation["ar"]
    assert ar.attr("use_global_device_ids") == "true"
    assert ar.attr("device_ids") is None
    assert ar.called == ("add",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mesh['x'=2,'y'=4], ids=([4,2]T(1,0)) {'x'}", r"expected device_ids= or '\{'"),
        ("mesh['x'=2,'y'=4], device_ids=([4,2]) {'x'}", r"expected T\(\.\.\.\)"),
        ("mesh['x'=2,'y'=4], device_ids=([4,4]T(1,0)) {'x'}", r"do not hold the mesh's 8"),
        ("mesh['x'=2,'y'=4], device_ids=([4,2]T(1,1)) {'x'}", r"not a permutation of 2 dims"),
        ("mesh['x'=2,'y'=4], device_ids=(0,1,2) {'x'}", r"holds 8 devices but device_ids lists 3"),
        ("mesh['x'=2,'y'=4], device_ids=(0,1,2,3,4,5,6,6) {'x'}", r"permutation of 0\.\.7"),
        ("mesh['x'=2,'y'=4], device_ids=(0,1,2,3,4,5,6,7) {'x'}", r"plain order"),
        ("mesh['x'=2,'x'=4] {'x'}", r"mesh axis 'x' appears twice"),
        ("mesh[x=2,y=4] {'x'}", r"expected a quoted mesh axis name"),
        ("mesh['x'=2,'y'=4] {'z'}", r"'z' is not an axis of the mesh"),
        ("mesh['x'=2,'y'=4] {'x','x'}", r"overlaps an axis listed before it"),
        ("mesh['x'=8] {'x':(3)2}", r"not a factor of the axis"),
        ("mesh['x'=8] {'x':(1)8}", r"not a factor of the axis"),
        ("mesh['x'=8] {'x':(1)1}", r"size >= 2"),
        ("mesh['x'=8] {'x':(1)4,'x':(2)2}", r"overlaps one listed before it"),
        ("mesh['x'=8] {'x':(1)2,'x':(2)2}", r"continues the one before it"),
        ("mesh['x'=2,'y'=4] {}", r"more than one device per group, not 1"),
        ("mesh['x'=1,'y'=8] {'x'}", r"more than one device per group, not 1"),
        ("mesh['x'=2,'y'=4] {'x'} {'y'}", r"expected end of replica groups"),
        ("mesh['x'=1048576,'y'=2] {'x'}", r"more than 1048576 devices"),
    ],
)
def test_refused_as_xla_refuses_them(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=r"^<text>:11:\d+: .*" + message):
        hlo.parse(_MODULE.replace("GROUPS", text))
