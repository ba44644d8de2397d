"""`--target` / `--mesh` parsing and checks (no jax): what each spec means, and one clear line
for each way to get it wrong."""

from __future__ import annotations

import importlib.metadata
import re

import pytest

from hloscope import compile_targets as ct
from hloscope.errors import UsageError


@pytest.mark.parametrize(
    ("text", "platform", "count", "topology", "host", "chip_config", "hardware", "kind"),
    [
        ("tpu-v5e:16x16", "tpu", 256, "v5e:16x16", (2, 2, 1), "default", "tpu-v5e", "TPU v5 lite"),
        ("tpu-v5e:2x2", "tpu", 4, "v5e:2x2", (2, 2, 1), "default", "tpu-v5e", "TPU v5 lite"),
        ("tpu-v6e:2x4", "tpu", 8, "v6e:2x4", (2, 4, 1), "default", "tpu-v6e", "TPU v6 lite"),
        ("tpu-v6e:4x4", "tpu", 16, "v6e:4x4", (2, 2, 1), "default", "tpu-v6e", "TPU v6 lite"),
        ("tpu-v4:2x2x2", "tpu", 8, "v4:2x2x2", (2, 2, 1), "megacore", "tpu-v4", "TPU v4"),
        ("tpu-v5p:8x8x16", "tpu", 1024, "v5p:8x8x16", (2, 2, 1), "megacore", "tpu-v5p", "TPU v5"),
        ("h100x8", "cuda", 8, "1x1x8", (8,), "", "h100-sxm", "NVIDIA H100 80GB HBM3"),
        ("a100x8", "cuda", 8, "1x1x8", (8,), "", "a100-80g", "NVIDIA A100-SXM4-80GB"),
        ("h200x8", "cuda", 8, "1x1x8", (8,), "", "h200", "NVIDIA H200"),
        ("b200x16", "cuda", 16, "1x2x8", (8,), "", "b200", "NVIDIA B200"),
        ("h100", "cuda", 1, "1x1x1", (1,), "", "h100-sxm", "NVIDIA H100 80GB HBM3"),
        ("cpu:64", "cpu", 64, "", (), "", "", ""),
        ("cpu", "cpu", 1, "", (), "", "", ""),
    ],
)
def test_parse_target(
    text: str, platform: str, count: int, topology: str, host: tuple[int, ...],
    chip_config: str, hardware: str, kind: str,
) -> None:
    spec = ct.parse_target(text)
    assert (spec.platform, spec.device_count, spec.topology) == (platform, count, topology)
    assert (spec.chips_per_host, spec.chip_config) == (host, chip_config)
    assert (spec.hardware, spec.device_kind) == (hardware, kind)
    assert spec.remote == (platform != "cpu")


def test_canonical_name_round_trips() -> None:
    for text in ("TPU-V5E:4x4", "tpu-v5p:4x4x4,slices=2", "H100x16", "tpu-v5e:4x4,host=2x2x1"):
        spec = ct.parse_target(text)
        assert ct.parse_target(spec.name) == spec


def test_slices_and_hosts() -> None:
    spec = ct.parse_target("tpu-v5p:4x4x4,slices=2")
    assert (spec.device_count, spec.num_slices, spec.hosts) == (128, 2, 32)
    assert "2 slices" in spec.describe()
    assert ct.parse_target("h100x16").hosts == 2
    assert ct.parse_target("h100x16,host=4").topology == "1x4x4"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tpu-v9:2x2", "unknown TPU generation 'v9'"),
        ("tpu-v5e:2x2x2", "a v5e topology is AxB (2D torus)"),
        ("tpu-v4:4x4", "a v4 topology is AxBxC (3D torus)"),
        ("tpu-v5e:32x16", "512 chips is more than the largest v5e slice (256 chips)"),
        ("tpu-v5e:3x3", "not a whole number of hosts of 2x2x1 chips"),
        ("tpu-v5e:2x2,slices=0", "device count must be 1..64"),
        ("tpu-v5e:2x2,pods=2", "unknown option 'pods'"),
        ("tpu-v5e:2x2,host=2x2", "host= takes AxBxC chips"),
        ("h100x12", "12 GPUs do not fill whole hosts of 8"),
        ("x100x8", "GPUs: a100xN, h100xN, h200xN, b200xN"),
        ("cpu:0", "device count must be 1..4096"),
        ("gpu", "unknown target 'gpu'"),
        ("cpu:8,slices=2", "unknown option 'slices'"),
        ("tpu-v5e:2x2,slices", "bad option 'slices'"),
    ],
)
def test_bad_targets_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)) as info:
        ct.parse_target(text)
    assert "\n" not in str(info.value)


def test_parse_mesh() -> None:
    assert ct.parse_mesh("data=16,model=16") == (("data", 16), ("model", 16))
    for bad, message in [
        ("data", "expected NAME=SIZE"),
        ("data=x", "expected NAME=SIZE"),
        ("data=2,data=4", "axis 'data' given twice"),
        ("data=0", "needs a positive size"),
        ("1d=2", "expected NAME=SIZE"),
    ]:
        with pytest.raises(UsageError, match=re.escape(message)):
            ct.parse_mesh(bad)


def test_mesh_must_use_every_device() -> None:
    spec = ct.parse_target("tpu-v5e:16x16")
    ct.check_mesh(spec, ct.parse_mesh("data=16,model=16"))
    with pytest.raises(UsageError, match=r"spans 128 devices but tpu-v5e:16x16 has 256"):
        ct.check_mesh(spec, ct.parse_mesh("data=64,model=2"))


def test_fit_mesh_keeps_the_programs_axis_names() -> None:
    wanted = {"data": 128, "model": 2}
    assert ct.fit_mesh(wanted, None) == wanted
    assert ct.fit_mesh(wanted, (("model", 16), ("data", 16))) == {"model": 16, "data": 16}
    with pytest.raises(UsageError, match="--mesh names axes x,y but the program's mesh"):
        ct.fit_mesh(wanted, (("x", 16), ("y", 16)))


def test_gpu_target_configs_are_shipped_and_sourced() -> None:
    for name, model in ct.GPU_MODELS.items():
        text = ct.gpu_target_config(ct.parse_target(f"{name}x8"))
        assert f'device_description_str: "{model.device_kind}"' in text
        block = ""
        for line in text.splitlines():
            # Every figure names its source (the README lists them): each field of
            # gpu_device_info, and a nested block (compute capability, cuDNN version) on the
            # line that opens it.
            if re.match(r"\w+ \{", line):
                block = line.split()[0]
                figure = block == "dnn_version_info"
            else:
                figure = block == "gpu_device_info" and bool(re.match(r"  \w+( \{|: )", line))
            if figure:
                assert "#" in line, f"{model.config_file}: no source on {line.strip()!r}"


def _no_dist(name: str) -> str:
    raise importlib.metadata.PackageNotFoundError(name)


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version

    def version(dist: str) -> str:
        if dist in ("libtpu", "jax-cuda12-plugin", "jax-cuda12-pjrt"):
            return _no_dist(dist)
        return real(dist)

    monkeypatch.setattr(importlib.metadata, "version", version)
    jax_version = real("jax")
    with pytest.raises(UsageError, match=re.escape(f"pip install 'jax[tpu]=={jax_version}'")):
        ct.require_backend(ct.parse_target("tpu-v5e:2x2"))
    with pytest.raises(
        UsageError, match=re.escape(f"pip install 'jax[cuda12-local]=={jax_version}'")
    ):
        ct.require_backend(ct.parse_target("h100x8"))
    assert ct.missing_backend("tpu") is not None
    ct.require_backend(ct.parse_target("cpu:8"))  # CPU needs no extra


def test_mismatched_plugin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version

    def version(dist: str) -> str:
        return {"jax-cuda12-plugin": "0.0.1", "jax-cuda12-pjrt": "0.0.1"}.get(dist) or real(dist)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(UsageError, match=r"jax-cuda12-plugin \S+ to match jaxlib, but 0\.0\.1"):
        ct.require_backend(ct.parse_target("h100x8"))


def test_libtpu_version_pattern() -> None:
    assert ct._matches("0.0.42.1", "0.0.42.*")
    assert ct._matches("0.0.42", "0.0.42.*")
    assert not ct._matches("0.0.421", "0.0.42.*")
    assert not ct._matches("0.0.41.3", "0.0.42.*")


def test_worker_log_tail_skips_start_up_noise() -> None:
    from hloscope.remote_compile import last_words

    log = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "Traceback (most recent call last):\n"
        "ValueError: bad thing\n"
        "E0000 common_lib.cc:554] INVALID_ARGUMENT: unexpected worker hostname from env var "
        "TPU_WORKER_HOSTNAMES\n"
        "=== Source Location Trace: ===\n"
    )
    assert last_words(log) == "Traceback (most recent call last): | ValueError: bad thing"
    assert last_words("\n=== Source Location Trace: ===\n").startswith("(nothing but")
