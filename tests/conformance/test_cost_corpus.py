"""hloscope's costs against XLA's own HloCostAnalysis on the shared corpus (real XLA test and
benchmark modules, and TPU programs from corpus/generated).

- Totals: our module total, summed the way XLA sums (float32, its visit order:
  `passes/cost_f32.py`), equals `hlo_module_cost_analysis` bit for bit on every module; our
  exact total is within float32 accumulation error of it.
- Per instruction: each instruction carved into a module of its own and costed by XLA
  (`cost_carve.py`) equals ours, for >= 99.5% of the compared instructions over >= 200
  modules. Every instruction of every module is carved (~147k instructions, ~30 s on 2
  cores); set PER_MODULE to sample (every opcode a module has, then a stride) if that grows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = [pytest.mark.jax, pytest.mark.slow]

PER_MODULE: int | None = None
DATA = Path(__file__).resolve().parent.parent / "data" / "cost"


@dataclass
class ModuleResult:
    name: str
    ok_f32: bool = False
    rel_exact: float = 0.0
    detail: str = ""
    compared: int = 0
    matched: int = 0
    by_signature: int = 0
    mismatches: list[str] = field(default_factory=list)
    carve_errors: list[str] = field(default_factory=list)


def _corpus_files(corpus: Path) -> list[Path]:
    files = []
    with open(corpus / "hlo" / "MANIFEST.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["xla_parses"] == "yes":
                files.append(corpus / "hlo" / row["local_name"])
    files += sorted((corpus / "generated").glob("*.hlo"))
    return files


def _check(path: Path, limit: int | None) -> ModuleResult | None:
    from cost_carve import compare

    from hloscope import _jaxapi
    from hloscope.hlo import parse
    from hloscope.passes import cost
    from hloscope.passes.cost_f32 import xla_float32_total

    text = path.read_text(encoding="utf-8")
    res = ModuleResult(path.name)
    try:
        xla = _jaxapi.hlo_cost_of_text(text)
    except Exception:
        return None  # XLA's analysis refuses it (not a cost module): nothing to compare
    module = parse(text, name=str(path))
    report = cost.run(module)
    ours = xla_float32_total(module, report)
    keys = ("flops", "transcendentals", "bytes accessed")
    res.ok_f32 = all(ours[k] == xla.get(k, 0.0) for k in keys)
    exact = (report.total.flops, report.total.transcendentals, report.total.bytes_accessed)
    res.rel_exact = max(abs(e - xla.get(k, 0.0)) / max(1.0, abs(xla.get(k, 0.0)))
                        for e, k in zip(exact, keys, strict=True))
    if not res.ok_f32:
        res.detail = f"float32 sum {ours} vs XLA {[xla.get(k, 0.0) for k in keys]}"
    cmp = compare(text, module, report, limit=limit)
    res.compared, res.matched, res.by_signature = cmp.compared, cmp.matched, cmp.by_signature
    res.mismatches = list(cmp.mismatches or [])
    res.carve_errors = list(cmp.carve_errors or [])
    return res


@pytest.fixture(scope="module")
def results(corpus: Path) -> list[ModuleResult]:
    out = []
    for path in _corpus_files(corpus):
        r = _check(path, PER_MODULE)
        if r is not None:
            out.append(r)
    return out


def test_totals_equal_xla_bit_for_bit(results: list[ModuleResult]) -> None:
    bad = [f"{r.name}: {r.detail}" for r in results if not r.ok_f32]
    print(f"\n{len(results)} modules; totals as XLA sums them differ on {len(bad)}")
    for line in bad:
        print("  ", line)
    assert len(results) >= 400
    assert not bad


def test_exact_totals_differ_only_by_float32_accumulation(results: list[ModuleResult]) -> None:
    worst = max(results, key=lambda r: r.rel_exact)
    print(f"\nlargest relative difference of the exact total from XLA's float32 one: "
          f"{worst.rel_exact:.2e} ({worst.name})")
    assert worst.rel_exact < 1e-4


def test_per_instruction_agreement(results: list[ModuleResult]) -> None:
    compared = sum(r.compared for r in results)
    matched = sum(r.matched for r in results)
    modules = sum(1 for r in results if r.compared)
    renamed = sum(r.by_signature for r in results)
    errors = [e for r in results for e in (f"{r.name}: {x}" for x in r.carve_errors)]
    mism = [m for r in results for m in (f"{r.name}: {x}" for x in r.mismatches)]
    rate = matched / compared if compared else 0.0
    print(f"\nper instruction: {matched}/{compared} exact ({rate:.4%}) over {modules} modules "
          f"({renamed} matched by signature where XLA renamed duplicates); "
          f"{len(errors)} XLA refused to carve")
    for line in mism[:50] + errors[:20]:
        print("  ", line)
    assert modules >= 200
    assert rate >= 0.995
    assert len(errors) <= 0.005 * compared


@pytest.mark.parametrize("name", ["rules.hlo", "control.hlo", "kernels.hlo"])
def test_unit_fixtures_agree_with_xla(name: str) -> None:
    """The hand-written modules behind tests/unit/test_cost_rules.py, every instruction."""
    r = _check(DATA / name, None)
    assert r is not None
    assert r.ok_f32, r.detail
    assert r.compared == r.matched, r.mismatches
