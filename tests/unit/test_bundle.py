"""`.hlos` bundles: exact round trips, deterministic bytes, atomic writes, and one clear line for
every way a bundle can be bad. No jax: captures here are built from records."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hloscope import bundle
from hloscope.bundle import load_bundle, save, to_bytes
from hloscope.errors import BundleError, InputError
from hloscope.records import (
    Capture,
    DeviceInfo,
    MeshInfo,
    ShardingInfo,
    TargetInfo,
    XlaCost,
    XlaMemory,
)


def full_capture(**changes: object) -> Capture:
    base = Capture(
        name="jit_step",
        origin="sample:transformer",
        stablehlo=(
            'module @jit_step {\n  func.func public @main() loc("x.py":1:2)\n}\r\n'
            "#loc = loc(unknown)\n"
        ),
        hlo=(
            "HloModule jit_step, num_partitions=8\n\n"
            "ENTRY %main () -> f32[] {\n  ROOT %c = f32[] constant(1)\n}\n"
        ),
        hlo_before_optimizations="HloModule jit_step\n",
        jaxpr="{ lambda ; a:f32[]. let  in (a,) }  # ünïcødé ✓",
        buffer_assignment="BufferAssignment:\nallocation 0: size 4\n",
        xla_cost=XlaCost(
            flops=363267712.0,
            transcendentals=230656.0,
            bytes_accessed=64806912.5,
            optimal_seconds=-31.25,
            raw={"flops": 363267712.0, "bytes accessed0{}": 1.0e-3},
        ),
        xla_memory=XlaMemory(
            argument_bytes=464384, output_bytes=463588, alias_bytes=463360, temp_bytes=6770200,
            generated_code_bytes=7, host_temp_bytes=1, peak_bytes=464436,
        ),
        in_shardings=(ShardingInfo(hlo="{devices=[4,2]<=[8]}", spec="P('data', 'model')",
                                   shape="f32[64,32]"),
                      ShardingInfo(hlo=None)),
        out_shardings=(ShardingInfo(hlo="{replicated}", spec="P()", shape="f32[]"),),
        mesh=MeshInfo(axis_names=("data", "model"), axis_sizes=(4, 2),
                      device_ids=(0, 2, 4, 6, 1, 3, 5, 7), axis_types=("Auto", "Auto")),
        platform="cpu",
        device_kind="cpu",
        device_count=8,
        target=TargetInfo(name="cpu:8", platform="cpu", topology="2x2x1", chips_per_host=(2, 2, 1),
                          devices=(DeviceInfo(id=0, kind="cpu", coords=(0, 0, 0)),
                                   DeviceInfo(id=1, kind="cpu", core_on_chip=1))),
        versions={"jax": "0.10.2", "hloscope": "0.1.0"},
        timings_s={"trace": 0.25, "compile": 2.0000001},
        notes=("one", "two"),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_round_trip_is_equal_and_texts_byte_identical(tmp_path: Path) -> None:
    cap = full_capture()
    back = load_bundle(save(cap, tmp_path / "a.hlos"))
    assert back == cap
    assert back.stablehlo is not None
    assert "\r\n" in back.stablehlo
    assert isinstance(back.in_shardings, tuple)
    assert isinstance(back.mesh.axis_sizes, tuple)


def test_missing_parts_stay_missing(tmp_path: Path) -> None:
    cap = Capture(name="m", hlo="HloModule m\n")
    back = load_bundle(save(cap, tmp_path / "m.hlos"))
    assert back == cap
    assert back.missing == ("stablehlo", "jaxpr", "xla_cost", "xla_memory", "mesh")
    names = zipfile.ZipFile(tmp_path / "m.hlos").namelist()
    assert names == ["manifest.json", "hlo.txt"]


def test_bytes_are_deterministic_and_members_plain_text(tmp_path: Path) -> None:
    cap = full_capture()
    assert to_bytes(cap) == to_bytes(cap)
    with zipfile.ZipFile(save(cap, tmp_path / "a.hlos")) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["schema"] == "hloscope.bundle/1"
        assert zf.read("hlo.txt").decode() == cap.hlo
        assert zf.read("jaxpr.txt").decode() == cap.jaxpr
        assert set(zf.namelist()) == {
            "manifest.json", "stablehlo.mlir", "hlo.txt", "hlo_before_optimizations.txt",
            "jaxpr.txt", "buffer_assignment.txt",
        }


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",))),
    flops=st.floats(allow_nan=False),
    name=st.text(min_size=1, max_size=20),
)
def test_any_text_and_number_survive(text: str, flops: float, name: str) -> None:
    cap = Capture(name=name, hlo=text, jaxpr=text,
                  xla_cost=XlaCost(flops=flops, transcendentals=0.0, bytes_accessed=1.0))
    back = bundle.load_bundle(io.BytesIO(to_bytes(cap)))  # type: ignore[arg-type]
    assert back == cap


# -- writing --------------------------------------------------------------------------------


def test_a_failed_write_leaves_nothing_under_the_name(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.hlos"
    target.write_bytes(b"previous")

    def boom(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(InputError, match=r"cannot write .*out.hlos: No space left on device"):
        save(full_capture(), target)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.hlos"]  # no temp file left


def test_writing_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such directory"):
        save(full_capture(), tmp_path / "nope" / "a.hlos")


# -- refusing bad bundles -------------------------------------------------------------------


def rezip(members: dict[str, bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def members_of(cap: Capture) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(to_bytes(cap))) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def manifest_with(cap: Capture, edit: object) -> dict[str, bytes]:
    members = members_of(cap)
    manifest = json.loads(members["manifest.json"])
    edit(manifest)  # type: ignore[operator]
    members["manifest.json"] = json.dumps(manifest).encode()
    return members


def refused(path: Path, pattern: str) -> None:
    with pytest.raises(BundleError, match=pattern) as info:
        load_bundle(path)
    assert "\n" not in info.value.message
    assert info.value.exit_code == 2


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    members = manifest_with(full_capture(), lambda m: m.update(schema="hloscope.bundle/2"))
    refused(rezip(members, tmp_path / "b.hlos"), "schema 2 is newer than this hloscope reads")


def test_not_a_bundle_schema_is_refused(tmp_path: Path) -> None:
    members = manifest_with(full_capture(), lambda m: m.update(schema="other/1"))
    refused(rezip(members, tmp_path / "b.hlos"), "not an hloscope bundle")
    refused(rezip({"x.txt": b"x"}, tmp_path / "c.hlos"), "no manifest.json")


def test_random_bytes_and_truncation_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.hlos"
    junk.write_bytes(os.urandom(2000))
    refused(junk, "not a valid bundle")
    data = to_bytes(full_capture())
    for cut in (len(data) // 2, len(data) - 30, 10):
        short = tmp_path / f"short{cut}.hlos"
        short.write_bytes(data[:cut])
        refused(short, "corrupt or truncated")


def test_a_flipped_byte_inside_a_member_is_refused(tmp_path: Path) -> None:
    data = bytearray(to_bytes(full_capture(hlo="HloModule x\n" + "A" * 5000)))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("hlo.txt")
    spot = info.header_offset + 30 + len(info.filename) + 5
    data[spot] ^= 0xFF
    bad = tmp_path / "flip.hlos"
    bad.write_bytes(bytes(data))
    refused(bad, "corrupt or truncated")


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape.txt", "a/../../b", "C:/x", "a\\b"])
def test_unsafe_member_names_are_refused(tmp_path: Path, name: str) -> None:
    members = members_of(full_capture())
    members[name] = b"x"
    refused(rezip(members, tmp_path / "u.hlos"), "unsafe member name")


def test_an_unsafe_name_in_the_manifest_is_refused(tmp_path: Path) -> None:
    members = manifest_with(
        full_capture(), lambda m: m["members"]["hlo"].update(path="../hlo.txt")
    )
    refused(rezip(members, tmp_path / "u.hlos"), "unsafe member name")


def test_duplicate_members_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.hlos"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members_of(full_capture()).items():
            zf.writestr(name, data)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("hlo.txt", b"HloModule evil\n")
    refused(path, "appears twice")


def test_zip_bombs_are_refused_before_reading(tmp_path: Path) -> None:
    members = members_of(full_capture())
    members["padding.bin"] = b"\0" * (4 << 20)  # 4 MiB of zeros: ~4 KiB compressed
    path = tmp_path / "bomb.hlos"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert path.stat().st_size < 64 << 10
    with pytest.raises(BundleError, match="expand to more than 1048576 bytes"):
        load_bundle(path, max_bytes=1 << 20)
    assert load_bundle(path) == full_capture()  # under the default bound: fine


def test_a_lying_size_in_the_zip_directory_is_caught(tmp_path: Path) -> None:
    # A member that claims to be small but inflates to more: zipfile stops at the claimed
    # size and the CRC check fails, so memory stays bounded by what the directory says.
    data = bytearray(to_bytes(full_capture(hlo="HloModule x\n" + "B" * 100_000)))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("hlo.txt")
    # Patch both headers (local and central) that record hlo.txt's uncompressed size.
    real = struct.pack("<I", info.file_size)
    assert data.count(real) == 2
    bad = tmp_path / "lie.hlos"
    bad.write_bytes(bytes(data).replace(real, struct.pack("<I", 1000)))
    refused(bad, "corrupt or truncated")


def test_missing_member_is_refused(tmp_path: Path) -> None:
    members = members_of(full_capture())
    del members["jaxpr.txt"]
    refused(rezip(members, tmp_path / "m.hlos"), "'jaxpr.txt' listed in manifest.json is missing")


def test_an_altered_member_is_refused(tmp_path: Path) -> None:
    members = members_of(full_capture())
    members["hlo.txt"] = members["hlo.txt"].replace(b"constant(1)", b"constant(2)")
    refused(rezip(members, tmp_path / "a.hlos"), "does not match manifest.json")


def test_a_manifest_that_is_not_json_is_refused(tmp_path: Path) -> None:
    members = members_of(full_capture())
    members["manifest.json"] = b"{not json"
    refused(rezip(members, tmp_path / "j.hlos"), "manifest.json is not valid JSON")


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (
            lambda m: m["capture"]["xla_memory"].update(temp_bytes="7"),
            r"xla_memory.temp_bytes: expected int, got str",
        ),
        (lambda m: m["capture"]["xla_cost"].pop("flops"), r"xla_cost.flops is missing"),
        (lambda m: m["capture"].update(device_count=True), r"device_count: expected int, got bool"),
        (lambda m: m["capture"]["mesh"].update(axis_sizes=4), r"mesh.axis_sizes: expected a list"),
        (lambda m: m["capture"].pop("name"), r"capture.name is missing"),
        (lambda m: m.pop("capture"), r"no capture record"),
    ],
)
def test_a_manifest_with_wrong_types_is_refused(tmp_path: Path, edit: object, pattern: str) -> None:
    members = manifest_with(full_capture(), edit)
    refused(rezip(members, tmp_path / "t.hlos"), pattern)


def test_unknown_additive_fields_from_a_newer_hloscope_are_ignored(tmp_path: Path) -> None:
    members = manifest_with(full_capture(), lambda m: m["capture"].update(future_field=1))
    assert load_bundle(rezip(members, tmp_path / "f.hlos")) == full_capture()


def test_a_missing_file_and_a_folder_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_bundle(tmp_path / "none.hlos")
    with pytest.raises(InputError, match="is a directory"):
        load_bundle(tmp_path)
