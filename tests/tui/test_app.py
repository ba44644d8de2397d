"""The TUI driven headless with Pilot on the fixed transformer bundle: every screen, the
kernel detail, search, jumps in the text, hardware switching, and errors shown in the UI."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest

pytest.importorskip("textual")

from rich.console import Console
from tui_helpers import HARDWARE, SIZE, settle

from hloscope.tui.app import make_app
from hloscope.tui.reports import Status
from hloscope.tui.screens.collectives import CollectivesScreen
from hloscope.tui.screens.devices import DevicesScreen
from hloscope.tui.screens.help import HelpScreen
from hloscope.tui.screens.kernel import KernelScreen
from hloscope.tui.screens.kernels import KernelsScreen
from hloscope.tui.screens.memory import MemoryScreen
from hloscope.tui.screens.overview import OverviewScreen
from hloscope.tui.screens.pickers import JumpPicker
from hloscope.tui.screens.source import SourceScreen
from hloscope.tui.screens.text import TextScreen
from hloscope.tui.widgets.codeview import CodeView
from hloscope.tui.widgets.vtable import VirtualTable


def plain(widget: Any) -> str:
    """The text a Static shows, as plain text at the widget's width."""
    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=max(40, widget.size.width), file=io.StringIO(), record=True,
                      color_system=None)
    console.print(content)
    return console.export_text()


async def test_opens_on_the_overview_with_every_panel_filled(transformer: Any) -> None:
    app = make_app(captures=[transformer], hardware=HARDWARE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        roof = app.reports.value("roofline")
        assert roof is not None
        assert roof.hardware.name == HARDWARE
        step = plain(app.screen.query_one("#ov-step"))
        assert "compute" in step
        assert "memory" in step
        assert "collect." in step
        assert f"roofline over {HARDWARE}" in step
        memory = plain(app.screen.query_one("#ov-memory"))
        assert "peak" in memory
        totals = plain(app.screen.query_one("#ov-totals"))
        fusion = app.reports.value("fusion")
        assert f"kernels {len(fusion.kernels)}" in totals
        top = app.screen.query_one("#ov-kernels", VirtualTable)
        # Top kernels are the roofline's ranking, longest first.
        assert [r.key for r in top.rows[:5]] == list(roof.top_kernels[:5])
        sources = app.screen.query_one("#ov-sources", VirtualTable)
        source = app.reports.value("source")
        assert sources.rows
        assert sources.rows[0].key == source.lines[0].source
        title = plain(app.screen.query_one("#title"))
        assert "jit_transformer_step" in title
        assert "data=4 × model=2" in title


async def test_each_key_opens_its_screen(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        expected = {
            "k": KernelsScreen,
            "s": SourceScreen,
            "c": CollectivesScreen,
            "d": DevicesScreen,
            "m": MemoryScreen,
            "t": TextScreen,
            "o": OverviewScreen,
        }
        for key, screen_type in expected.items():
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen_type), key
            for name in app.screen.NEEDS:
                st = app.reports.state(name)
                assert st.status in (Status.READY, Status.UNAVAILABLE), (name, st)


async def test_kernels_table_lists_every_kernel_and_filters(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        table = app.screen.query_one("#k-table", VirtualTable)
        fusion = app.reports.value("fusion")
        roof = app.reports.value("roofline")
        assert len(table.rows) == len(fusion.kernels)
        assert [r.key for r in table.rows] == list(roof.top_kernels)
        await pilot.press("slash", *"all-gather")
        await settle(pilot)
        gathers = [k.name for k in fusion.kernels if k.opcode.startswith("all-gather")]
        shown = [table.rows[i].key for i in table.view]
        assert gathers
        assert sorted(shown) == sorted(gathers)
        await pilot.press("enter")  # keep the filter, back to the table
        assert table.has_focus
        assert len(table.view) == len(gathers)
        await pilot.press("slash", "escape")  # clear it
        assert len(table.view) == len(fusion.kernels)
        await pilot.press("r")  # order by FLOPs
        await settle(pilot)
        first = fusion.kernels[0]
        top_flops = max(fusion.kernels, key=lambda k: k.flops * k.count)
        assert table.rows[0].key == top_flops.name or first.flops * first.count == (
            top_flops.flops * top_flops.count
        )


async def test_enter_opens_a_kernel_with_its_instructions_and_hlo(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        fusion = app.reports.value("fusion")
        table = app.screen.query_one("#k-table", VirtualTable)
        # A fusion with a body: move the cursor to the first kLoop kernel.
        name = next(r.key for r in table.rows if fusion.kernel(r.key).kind == "kLoop")
        assert table.find_key(name)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, KernelScreen)
        assert screen.kernel_name == name
        kernel = fusion.kernel(name)
        instrs = screen.query_one("#kd-instrs", VirtualTable)
        listed = [r.key for r in instrs.rows]
        assert listed
        assert set(listed) <= set(kernel.fused)
        head = plain(screen.query_one("#kd-head"))
        assert name in head
        assert kernel.kind in head
        assert HARDWARE in head
        await pilot.press("2")
        hlo = screen.query_one("#kd-hlo", CodeView)
        assert f"{name} = " in hlo.lines[0]
        assert any(line.strip() == "}" for line in hlo.lines)
        await pilot.press("escape")
        assert isinstance(app.screen, KernelsScreen)


async def test_text_jumps_to_an_operand_definition_and_back(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fusion = app.reports.value("fusion")
        module = app.session.analysis.module
        kernel = next(k for k in fusion.kernels if k.computation == module.entry
                      and module.by_name[k.computation].by_name[k.name].operands)
        app.open_instruction(kernel.name)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TextScreen)
        code = screen.code
        index = app.reports.value("index")
        assert code.cursor_line == index.line_of(kernel.name)
        assert kernel.name in plain(screen.query_one("#t-where"))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, JumpPicker)
        await pilot.press("enter")  # the first choice: operand 0
        await settle(pilot)
        operand = module.by_name[kernel.computation].by_name[kernel.name].operands[0]
        assert code.cursor_line == index.line_of(operand)
        await pilot.press("b")
        assert code.cursor_line == index.line_of(kernel.name)
        await pilot.press("tab")  # the StableHLO text
        await settle(pilot)
        assert screen.doc == "stablehlo"
        # The #loc table jax prints first is skipped: the view opens at the module.
        assert screen.code.lines[screen.code.cursor_line].startswith("module")
        await pilot.press("tab")  # back to HLO, where it was
        assert screen.code is code
        assert code.cursor_line == index.line_of(kernel.name)


async def test_search_in_text_finds_and_cycles(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        code = app.screen.code
        await pilot.press("slash", *"all-reduce(", "enter")
        first = code.cursor_line
        assert "all-reduce(" in code.lines[first]
        await pilot.press("n")
        second = code.cursor_line
        assert second != first
        assert "all-reduce(" in code.lines[second]
        await pilot.press("N")
        assert code.cursor_line == first


async def test_collectives_screen_shows_axes_and_why(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        sharding = app.reports.value("sharding")
        table = app.screen.query_one("#c-table", VirtualTable)
        assert len(table.rows) == len(sharding.collectives)
        current = sharding.collectives[[c.name for c in sharding.collectives].index(
            table.current.key)]
        detail = plain(app.screen.query_one("#c-detail"))
        assert current.name in detail
        assert current.axes_label in detail
        assert current.why
        assert current.why in " ".join(detail.split())
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TextScreen)


async def test_memory_screen_marks_the_peak_and_lists_buffers(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        memory = app.reports.value("memory")
        table = app.screen.query_one("#mm-table", VirtualTable)
        assert len(table.rows) == len(memory.at_peak)
        plot = plain(app.screen.query_one("#mm-plot"))
        assert "▼" in plot
        assert f"at step {memory.peak_step}" in plot


async def test_hardware_switch_recomputes_estimates_only(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fusion = app.reports.value("fusion")
        before = app.reports.value("roofline")
        app.session.set_hardware(app, "tpu-v5p")
        await settle(pilot)
        after = app.reports.value("roofline")
        assert after.hardware.name == "tpu-v5p"
        assert after.step_s != before.step_s
        assert app.reports.value("fusion") is fusion  # hardware-independent: kept
        assert "tpu-v5p" in plain(app.screen.query_one("#title"))


async def test_hardware_picker_lists_devices_and_applies_the_choice(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        from textual.widgets import OptionList

        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert HARDWARE in ids
        assert "tpu-v5e" in ids
        assert ids[options.highlighted] == HARDWARE
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.session.hardware_name == ids[ids.index(HARDWARE) + 1]


async def test_help_lists_the_keys_of_the_screen(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k", "question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(plain(w) for w in app.screen.query("Static"))
        assert "Order" in text
        assert "Kernels" in text
        assert "estimate" in text
        await pilot.press("escape")
        assert isinstance(app.screen, KernelsScreen)


async def test_a_bad_file_is_reported_in_the_ui(tmp_path: Any) -> None:
    bad = tmp_path / "bad.hlo"
    bad.write_text("HloModule m\n\nENTRY e {\n  x = f32[2] parameter(0)\n"
                   "  ROOT y = f32[2] nope(x\n")
    app = make_app([str(bad)], hardware=HARDWARE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.is_running
        st = app.reports.state("module")
        assert st.status is Status.FAILED
        assert "bad.hlo" in st.message
        assert "failed" in plain(app.screen.query_one("#ov-totals")) or "failed" in plain(
            app.screen.query_one("#status"))
        assert any("bad.hlo" in str(n.message) for n in app._notifications)


async def test_a_missing_target_is_reported_in_the_ui(tmp_path: Any) -> None:
    app = make_app([str(tmp_path / "nope.hlos")], hardware=HARDWARE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.session.phase == "failed"
        assert "no such file" in app.session.error
        assert "could not open" in plain(app.screen.query_one("#status"))


async def test_hlo_file_without_stablehlo_says_so(transformer: Any) -> None:
    only_hlo = dataclasses.replace(transformer, stablehlo=None)
    app = make_app(captures=[only_hlo], hardware=HARDWARE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t", "tab")
        await settle(pilot)
        head = plain(app.screen.query_one("#t-head"))
        assert "no StableHLO" in head


async def test_two_captures_open_the_diff_view(transformer: Any, transformer_4dev: Any) -> None:
    app = make_app(captures=[transformer, transformer_4dev], hardware=HARDWARE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.current_mode == "diff"
        tabs = plain(app.screen.query_one("#tabs"))
        assert "f Diff" in tabs
        await pilot.press("b")
        await settle(pilot)
        assert app.session.side == 1
        await pilot.press("o")
        await settle(pilot)
        title = plain(app.screen.query_one("#title"))
        assert "B: " in title
        assert "data=2 × model=2" in title


async def test_kernel_source_tab_shows_the_python_file(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fusion = app.reports.value("fusion")
        # A kernel made by the sample's own code (the fixture's paths are repo-relative).
        kernel = next(k for k in fusion.kernels if k.primary_source.startswith("samples/"))
        app.open_kernel(kernel.name)
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        src = app.screen.query_one("#kd-src", CodeView)
        path, _, line = kernel.primary_source.rpartition(":")
        with open(path, encoding="utf-8") as f:
            wanted = f.read().splitlines()[int(line) - 1]
        assert src.lines[src.cursor_line] == wanted
        assert src.cursor_line + src.first_line_number == int(line)
        assert path in plain(app.screen.query_one("#kd-src-head"))


async def test_kernel_stablehlo_tab_lists_its_ops(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fusion = app.reports.value("fusion")
        kernel = next(k for k in fusion.kernels if k.category == "matmul")
        app.open_kernel(kernel.name)
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        links = app.reports.value("stablehlo_links")
        stable = app.reports.value("stablehlo")
        table = app.screen.query_one("#kd-stable", VirtualTable)
        assert links.kernel_ops(kernel.name)
        assert [r.key for r in table.rows] == list(links.kernel_ops(kernel.name)[:200])
        assert "stablehlo.dot_general" in {stable.ops[r.key].name for r in table.rows}
        await pilot.press("enter")  # shows the op in the StableHLO text
        await settle(pilot)
        assert isinstance(app.screen, TextScreen)
        assert app.screen.doc == "stablehlo"


async def test_an_analysis_without_hardware_gets_the_sessions(transformer: Any) -> None:
    import hloscope

    app = make_app(analyses=[hloscope.analyze(transformer)], hardware=HARDWARE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # The per-line estimates are on the hardware every other screen uses.
        assert app.reports.value("source").hardware == HARDWARE
        assert app.reports.value("roofline").hardware.name == HARDWARE


async def test_source_screen_unfolds_a_line_to_kernels_and_ops(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        report = app.reports.value("source")
        table = app.screen.query_one("#s-table", VirtualTable)
        assert [r.key for r in table.rows] == [("line", ln.source) for ln in report.lines]
        first = report.lines[0]
        await pilot.press("enter")  # unfold
        await settle(pilot)
        children = [r.key for r in table.rows if r.depth]
        assert {name for kind, name in children if kind == "kernel"} == set(first.kernels)
        path, _, line = first.source.rpartition(":")
        ops = app.reports.value("stablehlo_links").line_ops(first.source)
        assert ops == tuple(op.id for op in app.reports.value("stablehlo").ops_at(path, int(line)))
        assert [v for kind, v in children if kind == "stablehlo"] == list(ops[:200])
        # Enter on a StableHLO op shows it in the StableHLO text.
        op_row = next(k for k in children if k[0] == "stablehlo")
        assert table.find_key(op_row)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TextScreen)
        assert app.screen.doc == "stablehlo"
        shown = app.screen.code.lines[app.screen.code.cursor_line]
        op = app.reports.value("stablehlo").ops[op_row[1]]
        assert op.name.split(".", 1)[-1] in shown
        # Back on Source: Enter on a kernel opens it.
        await pilot.press("s")
        await settle(pilot)
        kernel_row = next(k for k in children if k[0] == "kernel")
        assert table.find_key(kernel_row)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KernelScreen)
        assert app.screen.kernel_name == kernel_row[1]


async def test_devices_grid_selection_metric_and_matrix(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        report = app.reports.value("devices")
        heat = app.screen.heat
        assert heat.grid.shape == (4, 2)  # data=4 × model=2
        assert "device 0" in plain(app.screen.query_one("#dv-detail"))
        await pilot.press("down", "right")
        await settle(pilot)
        d = next(x for x in report.devices if x.coords == (1, 1))
        assert heat.device == d.id
        detail = plain(app.screen.query_one("#dv-detail"))
        assert f"device {d.id}" in detail
        assert "data=1, model=1" in detail
        assert heat.values[d.id] == d.estimated_s
        await pilot.press("tab")
        assert heat.values[d.id] == d.collective_sent_bytes
        await pilot.press("x")
        await settle(pilot)
        matrix = plain(app.screen.query_one("#dv-dense-body"))
        assert "from\\to" in matrix
        assert app.screen.query_one("#dv-dense").display


async def test_overview_enter_opens_the_top_kernel(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        top = app.reports.value("roofline").top_kernels[0]
        app.screen.query_one("#ov-kernels", VirtualTable).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KernelScreen)
        assert app.screen.kernel_name == top
        assert app.current_mode == "overview"  # over the screen it was opened from
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)


async def test_command_palette_finds_kernels_and_instructions(transformer: Any) -> None:
    from hloscope.tui.commands import HloscopeCommands

    app = make_app(captures=[transformer], hardware=HARDWARE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        provider = HloscopeCommands(app.screen)
        hits = [h async for h in provider.search("all-reduce.50")]
        labels = [str(h.text) for h in hits]
        assert "kernel all-reduce.50" in labels
        assert "instruction all-reduce.50" in labels
        kernel_hit = hits[labels.index("kernel all-reduce.50")]
        kernel_hit.command()
        await settle(pilot)
        assert isinstance(app.screen, KernelScreen)


async def test_diff_enter_opens_the_kernel_in_its_program(
    analysis: Any, analysis_4dev: Any
) -> None:
    app = make_app(analyses=[analysis, analysis_4dev])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        report = app.reports.value("diff")
        assert report is not None
        assert not report.identical
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one("#df-table", VirtualTable)
        added = next(r for r in table.rows if r.key[1] == 1)  # a kernel of B
        assert table.find_key(added.key)
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.side == 1
        assert isinstance(app.screen, KernelScreen)
        assert app.screen.kernel_name == added.key[2]
        assert app.reports.value("fusion").kernel(added.key[2]) is not None


async def test_an_internal_error_in_a_report_is_shown_not_raised(analysis: Any) -> None:
    app = make_app(analyses=[analysis])

    def broken(_: Any) -> Any:
        raise RuntimeError("boom in the memory pass")

    app.reports.compute["memory"] = (broken, False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.is_running
        st = app.reports.state("memory")
        assert st.status is Status.FAILED
        assert "RuntimeError: boom in the memory pass" in st.message
        assert any("boom" in str(n.message) for n in app._notifications)
        assert "failed" in plain(app.screen.query_one("#ov-memory"))
        await pilot.press("e")  # the error panel, with the traceback
        await settle(pilot)
        panel = " ".join(plain(w) for w in app.screen.query("Static"))
        assert "Traceback" in panel
        assert "boom in the memory pass" in panel


async def test_typing_in_the_search_bar_does_not_trigger_keys(analysis: Any) -> None:
    app = make_app(analyses=[analysis])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        await pilot.press("slash", "q", "m", "t")
        await settle(pilot)
        assert app.is_running
        assert app.current_mode == "kernels"
        assert app.screen.query_one("#k-table", VirtualTable).filter_text == "qmt"


async def test_text_built_in_the_background_opens_at_entry(transformer: Any) -> None:
    # The reports computed in the app (not handed in): the HLO text arrives while the Text
    # screen sits in the background, where its view cannot scroll yet.
    app = make_app(captures=[transformer], hardware=HARDWARE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        code = app.screen.code
        assert code.lines[code.cursor_line].startswith("ENTRY")
        assert round(code.scroll_y) == code.cursor_line  # on screen, at the top
