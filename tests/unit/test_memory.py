"""The memory pass on small hand-written scheduled modules: which values share a buffer, when
each is live, the timeline, the peak and its buffers, XLA-convention totals and the fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from hloscope.hardware import Hardware
from hloscope.hlo import parse
from hloscope.passes import memory
from hloscope.passes.liveness import BufferKind, build
from hloscope.records import XlaMemory

KB4 = 4096  # f32[1024]

CHAIN = """HloModule chain, is_scheduled=true

ENTRY %main (p: f32[1024]) -> f32[1024] {
  %p = f32[1024]{0} parameter(0)
  %a = f32[1024]{0} exponential(%p)
  %b = f32[1024]{0} negate(%a)
  ROOT %c = f32[1024]{0} add(%b, %b)
}
"""


def run(text: str, **kw: object) -> memory.MemoryReport:
    kw.setdefault("hardware", [])
    return memory.run(parse(text), **kw)  # type: ignore[arg-type]


def buffer_names(text: str) -> list[list[str]]:
    live = build(parse(text))
    return sorted(sorted(live.values[v].label for v in b.values) for b in live.buffers)


def test_elementwise_results_take_the_dying_operands_buffer() -> None:
    assert buffer_names(CHAIN) == [["a", "b", "c"], ["p"]]
    r = run(CHAIN)
    assert r.timeline == (KB4, 2 * KB4, 2 * KB4, 2 * KB4)
    assert r.peak_bytes == 2 * KB4
    assert (r.argument_bytes, r.output_bytes, r.alias_bytes, r.temp_bytes) == (KB4, KB4, 0, 0)


def test_a_dot_result_does_not_reuse_its_operand() -> None:
    text = """HloModule dot, is_scheduled=true

ENTRY %main (p: f32[32,32]) -> f32[32,32] {
  %p = f32[32,32]{1,0} parameter(0)
  %e = f32[32,32]{1,0} exponential(%p)
  ROOT %d = f32[32,32]{1,0} dot(%e, %e), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}
"""
    r = run(text)
    assert r.peak_bytes == 3 * KB4  # p, e and d together at the dot
    assert r.peak_instruction == "d"
    assert {b.name for b in r.at_peak} == {"p", "e", "d"}


TUPLES = """HloModule tuples, is_scheduled=true

ENTRY %main (p: f32[256]) -> f32[16,16] {
  %p = f32[256]{0} parameter(0)
  %e = f32[256]{0} exponential(%p)
  %bc = f32[16,16]{1,0} bitcast(%e)
  %t = (f32[256]{0}, f32[16,16]{1,0}) tuple(%e, %bc)
  %g = f32[16,16]{1,0} get-tuple-element(%t), index=1
  ROOT %r = f32[16,16]{1,0} negate(%g)
}
"""


def test_bitcast_tuple_and_get_tuple_element_define_no_storage() -> None:
    # Only the tuple's pointer table (2 x 8 bytes) is new; e lives until its use through g.
    assert buffer_names(TUPLES) == [["e"], ["p"], ["r"], ["t"]]
    r = run(TUPLES)
    assert r.timeline == (1024, 2048, 2048, 2048 + 16, 2048 + 16, 3072)
    assert r.peak_bytes == 3072
    assert r.peak_instruction == "r"


LOOP = """HloModule loop, is_scheduled=true

%cond (c: (s32[], f32[1024])) -> pred[] {
  %c = (s32[], f32[1024]{0}) parameter(0)
  %i = s32[] get-tuple-element(%c), index=0
  %n = s32[] constant(10)
  ROOT %lt = pred[] compare(%i, %n), direction=LT
}

%body (b: (s32[], f32[1024])) -> (s32[], f32[1024]) {
  %b = (s32[], f32[1024]{0}) parameter(0)
  %j = s32[] get-tuple-element(%b), index=0
  %x = f32[1024]{0} get-tuple-element(%b), index=1
  %one = s32[] constant(1)
  %j2 = s32[] add(%j, %one)
  %big = f32[1024,4]{1,0} broadcast(%x), dimensions={0}
  %s = f32[1024,1]{1,0} slice(%big), slice={[0:1024], [0:1]}
  %x2 = f32[1024]{0} bitcast(%s)
  ROOT %r = (s32[], f32[1024]{0}) tuple(%j2, %x2)
}

ENTRY %main (p: f32[1024]) -> f32[1024] {
  %p = f32[1024]{0} parameter(0)
  %zero = s32[] constant(0)
  %z = s32[] copy(%zero)
  %cp = f32[1024]{0} copy(%p)
  %init = (s32[], f32[1024]{0}) tuple(%z, %cp)
  %w = (s32[], f32[1024]{0}) while(%init), condition=%cond, body=%body
  ROOT %out = f32[1024]{0} get-tuple-element(%w), index=1
}
"""


def test_the_loop_carry_is_one_buffer_and_body_temporaries_count_at_the_while() -> None:
    live = build(parse(LOOP))
    carry = next(b for b in live.buffers if "cp" in [live.values[v].label for v in b.values])
    labels = {live.values[v].label for v in carry.values}
    # init, the condition's and the body's parameters, the new value, the while result
    assert {"cp", "c{1}", "b{1}", "s", "w{1}"} <= labels
    assert carry.kind is BufferKind.OUTPUT
    r = run(LOOP)
    w_step = 5
    assert r.peak_step == w_step
    assert r.peak_computation == "body"
    assert r.timeline[w_step] == r.peak_bytes == max(r.timeline)
    # p + carry + the 16 KiB broadcast + the slice written into the carry + tables/counter
    assert r.peak_bytes >= KB4 + KB4 + 4 * KB4
    names = {b.name for b in r.at_peak}
    assert "big" in names
    assert "p" in names
    assert r.constant_bytes == 12  # zero, n and one: 4 bytes each, for the whole run


def test_conditional_counts_the_larger_branch_not_both() -> None:
    text = """HloModule cond, is_scheduled=true

%small (a: f32[1024]) -> f32[1024] {
  %a = f32[1024]{0} parameter(0)
  ROOT %n = f32[1024]{0} negate(%a)
}

%large (a2: f32[1024]) -> f32[1024] {
  %a2 = f32[1024]{0} parameter(0)
  %big = f32[1024,8]{1,0} broadcast(%a2), dimensions={0}
  %s = f32[1024,1]{1,0} slice(%big), slice={[0:1024], [0:1]}
  ROOT %r = f32[1024]{0} bitcast(%s)
}

ENTRY %main (pr: pred[], p: f32[1024]) -> f32[1024] {
  %pr = pred[] parameter(0)
  %p = f32[1024]{0} parameter(1)
  ROOT %c = f32[1024]{0} conditional(%pr, %p, %p), true_computation=%small, false_computation=%large
}
"""
    r = run(text)
    # pred + p + the large branch's broadcast (32 KiB) and result; the small branch's negate
    # never adds to it.
    assert r.peak_bytes == 1 + KB4 + 8 * KB4 + KB4
    assert r.peak_computation == "large"
    assert r.timeline[-1] == r.peak_bytes


def test_dynamic_update_slice_writes_in_place() -> None:
    text = """HloModule dus, is_scheduled=true

ENTRY %main (p: f32[1024], u: f32[16], i: s32[]) -> f32[1024] {
  %p = f32[1024]{0} parameter(0)
  %u = f32[16]{0} parameter(1)
  %i = s32[] parameter(2)
  %c = f32[1024]{0} copy(%p)
  ROOT %d = f32[1024]{0} dynamic-update-slice(%c, %u, %i)
}
"""
    assert ["c", "d"] in buffer_names(text)
    assert run(text).peak_bytes == 2 * KB4 + 64 + 4


def test_donated_parameter_is_reused_by_the_output() -> None:
    text = """HloModule donate, is_scheduled=true, input_output_alias={ {}: (0, {}, may-alias) }

ENTRY %main (p: f32[1024]) -> f32[1024] {
  %p = f32[1024]{0} parameter(0)
  ROOT %e = f32[1024]{0} exponential(%p)
}
"""
    r = run(text)
    assert (r.argument_bytes, r.output_bytes, r.alias_bytes) == (KB4, KB4, KB4)
    assert r.whole_run_bytes == KB4
    assert r.peak_bytes == KB4
    assert r.parameters[0].donated_to == ((),)
    assert r.outputs[0].aliases_parameter == 0
    assert r.at_peak[0].kind == "donated"


def test_donated_storage_is_free_between_last_read_and_the_write() -> None:
    text = """HloModule gap, is_scheduled=true, input_output_alias={ {}: (0, {}, may-alias) }

ENTRY %main (p: f32[1024], q: f32[2048]) -> f32[1024] {
  %p = f32[1024]{0} parameter(0)
  %q = f32[2048]{0} parameter(1)
  %s = f32[1024]{0} slice(%p), slice={[0:1024]}
  %t = f32[1024]{0} slice(%q), slice={[0:1024]}
  %d = f32[1024,2]{1,0} broadcast(%t), dimensions={0}
  %u = f32[1024,1]{1,0} slice(%d), slice={[0:1024], [0:1]}
  %v = f32[1024]{0} bitcast(%u)
  ROOT %o = f32[1024]{0} add(%s, %v)
}
"""
    live = build(parse(text))
    donated = next(b for b in live.buffers if b.donated)
    assert donated.segments == ((0, 2), (7, 8))  # p read by s at 2; o written at 7
    r = run(text)
    # At the broadcast: q, s, t, d; p's storage is free (XLA packs temporaries there).
    assert r.timeline[4] == 2 * KB4 + KB4 + KB4 + 2 * KB4


def test_copy_start_keeps_its_source_live_until_copy_done() -> None:
    text = """HloModule async, is_scheduled=true

ENTRY %main (p: f32[1024]) -> f32[1024] {
  %p = f32[1024]{0} parameter(0)
  %e = f32[1024]{0} exponential(%p)
  %cs = (f32[1024]{0}, f32[1024]{0}, u32[]) copy-start(%e)
  %n = f32[1024]{0} negate(%p)
  %cd = f32[1024]{0} copy-done(%cs)
  ROOT %a = f32[1024]{0} add(%cd, %n)
}
"""
    live = build(parse(text))
    e = next(v for v in live.values if v.label == "e")
    assert e.end == 4  # the copy-done, not the copy-start at 2
    dest = next(v for v in live.values if v.label == "cs{0}")
    assert live.buffer_of_value[dest.id] == next(
        live.buffer_of_value[v.id] for v in live.values if v.label == "a")


def test_constants_of_reducers_are_whole_run_buffers() -> None:
    text = """HloModule reducer, is_scheduled=true

%add (x: f32[], y: f32[]) -> f32[] {
  %x = f32[] parameter(0)
  %y = f32[] parameter(1)
  %k = f32[] constant(0)
  %xy = f32[] add(%x, %y)
  ROOT %s = f32[] add(%xy, %k)
}

ENTRY %main (p: f32[1024]) -> f32[] {
  %p = f32[1024]{0} parameter(0)
  %zero = f32[] constant(0)
  ROOT %r = f32[] reduce(%p, %zero), dimensions={0}, to_apply=%add
}
"""
    r = run(text)
    assert r.constant_bytes == 8
    assert r.whole_run_bytes == KB4 + 4 + 8


def test_fit_uses_the_model_without_xla_figures_and_xla_with_them() -> None:
    hw = Hardware(name="tiny", description="", peak_flops={"f32": 1.0}, hbm_bytes_per_s=1.0,
                  hbm_capacity_bytes=3 * KB4)
    r = run(CHAIN, hardware=[hw])
    fit = r.fits["tiny"]
    assert (fit.basis, fit.required_bytes, fit.fits) == ("model", r.reserved_bytes, True)
    assert fit.margin_bytes == 3 * KB4 - r.reserved_bytes
    assert r.peak_share("tiny") == r.peak_bytes / (3 * KB4)
    assert r.peak_share("h100-sxm") is None  # not among the devices it was fitted on
    xla = XlaMemory(argument_bytes=KB4, output_bytes=KB4, alias_bytes=0, temp_bytes=2 * KB4)
    fit = run(CHAIN, hardware=[hw], xla_memory=xla).fits["tiny"]
    assert (fit.basis, fit.required_bytes, fit.fits, fit.margin_bytes) == (
        "xla", 4 * KB4, False, -KB4)


def test_notes_explain_xla_cpu_peak_and_temp_arena() -> None:
    # TUPLES: p and r are 1 KiB each; e and the tuple table are temporaries.
    xla = XlaMemory(argument_bytes=1024, output_bytes=1024, alias_bytes=0, temp_bytes=0,
                    peak_bytes=2048)
    r = run(TUPLES, xla_memory=xla, platform="cpu")
    assert r.xla_peak_bytes == 2048 == r.whole_run_bytes
    assert r.xla_source == "memory_analysis"
    assert any("whole run" in n and "no heap-simulator trace" in n for n in r.notes)
    assert any("more than XLA's temp arena" in n for n in r.notes)


def test_json_document_has_the_contract_keys() -> None:
    doc = run(TUPLES).to_json()
    for key in ("peak_bytes", "xla_peak_bytes", "timeline", "at_peak", "fits", "notes"):
        assert key in doc
    assert doc["timeline"] == list(run(TUPLES).timeline)
    assert {"name", "bytes", "source"} <= set(doc["at_peak"][0])


def test_source_lines_come_from_the_stack_frame_tables(memory_data: Path) -> None:
    text = (memory_data / "small.cpu_after_optimizations.txt").read_text()
    r = run(text)
    tanh = next(b for b in r.at_peak if b.name == "wrapped_tanh")
    assert tanh.source is not None
    assert tanh.source.endswith("small.py:3")
    assert tanh.op_name == "jit(f)/tanh"


def test_unscheduled_module_is_noted() -> None:
    r = run(CHAIN.replace(", is_scheduled=true", ""))
    assert not r.scheduled
    assert any("not scheduled" in n for n in r.notes)


@pytest.fixture
def memory_data() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "memory"


def test_all_gather_start_keeps_its_operand_until_done() -> None:
    text = """HloModule ag, is_scheduled=true

ENTRY %main (p: f32[256]) -> (f32[1024], f32[256]) {
  %p = f32[256]{0} parameter(0)
  %e = f32[256]{0} exponential(%p)
  %ags = (f32[256]{0}, f32[1024]{0}) all-gather-start(%e), replica_groups={{0,1,2,3}},
    dimensions={0}
  %n = f32[256]{0} negate(%p)
  %agd = f32[1024]{0} all-gather-done(%ags)
  ROOT %t = (f32[1024]{0}, f32[256]{0}) tuple(%agd, %n)
}
"""
    live = build(parse(text))
    by_label = {v.label: v for v in live.values}
    assert by_label["e"].end == 4  # read until all-gather-done
    # all-gather-done's result is the start's destination buffer, not a new one.
    assert "agd" not in by_label
    out = next(o for o in memory.run(parse(text), hardware=[]).outputs if o.index == (0,))
    assert (out.defined_by, out.bytes) == ("ags", KB4)


def test_async_computation_buffers_live_until_async_done() -> None:
    text = """HloModule asyncwrap, is_scheduled=true

%wrapped (a: f32[256]) -> f32[256] {
  %a = f32[256]{0} parameter(0)
  %big = f32[256,8]{1,0} broadcast(%a), dimensions={0}
  %s = f32[256,1]{1,0} slice(%big), slice={[0:256], [0:1]}
  ROOT %r = f32[256]{0} bitcast(%s)
}

ENTRY %main (p: f32[256]) -> f32[256] {
  %p = f32[256]{0} parameter(0)
  %as = ((f32[256]{0}), f32[256]{0}, s32[]) async-start(%p), calls=%wrapped
  %n = f32[256]{0} negate(%p)
  %ad = f32[256]{0} async-done(%as)
  ROOT %o = f32[256]{0} add(%ad, %n)
}
"""
    live = build(parse(text))
    done = live.sequence.index(next(i for i in live.sequence if i.name == "ad"))
    big = next(v for v in live.values if v.label == "big")
    assert big.end >= done
    r = memory.run(parse(text), hardware=[])
    # At the negate, between start and done: p, the wrapped computation's 8 KiB broadcast and
    # its 1 KiB result, n, the async tuple's 24-byte table and its operand tuple's 8 bytes.
    assert r.timeline[2] >= 1024 + 8192 + 1024 + 1024


def test_tiled_layouts_are_padded_and_other_memory_spaces_left_out() -> None:
    from hloscope.hlo.shapes import parse_shape
    from hloscope.passes.liveness import byte_size, device_bytes

    assert byte_size(parse_shape("f32[3,5]{1,0:T(8,128)}")) == 8 * 128 * 4
    assert byte_size(parse_shape("bf16[300]{0:T(256)}")) == 512 * 2
    assert byte_size(parse_shape("bf16[2,8,100]{2,1,0:T(8,128)(2,1)}")) == 2 * 8 * 128 * 2
    assert byte_size(parse_shape("f32[5]{0:T(8,128)}")) == 8 * 128 * 4  # leading 1 padded
    assert device_bytes(parse_shape("f32[3,5]{1,0:T(8,128)S(1)}")) == 0
    assert byte_size(parse_shape("(f32[2], s32[])")) == 16
