"""The Textual TUI. Only this package imports textual.

    hloscope                      # the default sample (captured in a worker, with progress)
    hloscope tui TARGET           # a bundle, an HLO/MLIR file, a dump folder, sample:NAME...
    hloscope tui A B              # two programs: the Diff view
    textual run --dev hloscope.tui.app:HloscopeApp

From Python: `hloscope.tui.app.make_app(analyses=[hloscope.analyze(cap)]).run()`.

Keys: o k s c d m t (f) switch screens, / searches, Enter opens, Escape goes back, h picks the
hardware, ? shows help, ctrl+p the command palette, q quits; the mouse works too.

Layout: `app.py` (bindings, modes, first push), `session.py` (what is open; loading in a
worker), `reports.py` (reports computed one at a time in a background thread, their states),
`screens/` (one per question), `widgets/` (virtual table and code view on Textual's Line
API, heatmap, plots, chrome), `rows.py` and `*_info.py` (reports -> rows and texts: the only
modules that know the reports' fields), `hloscope.tcss` (layout).
"""
