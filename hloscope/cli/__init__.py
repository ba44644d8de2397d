"""The `hloscope` command. stdout carries the report only; diagnostics go to stderr.

Exit codes: 0 ok (diff: no differences); 1 differences found or a check failed; 2 usage or
input error; 3 capture failed (jax raised); 130 interrupted.

Each subcommand lives in its own module with `add_parser(subparsers)` and `run(args) -> int`;
this module only dispatches and turns `hloscope.Error` into one line and an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from hloscope.errors import Error

# subcommand -> module; the module defines add_parser(subparsers) and run(args) -> int.
COMMANDS: dict[str, str] = {
    "tui": "hloscope.cli.tui_cmd",
    "capture": "hloscope.cli.capture_cmd",
    "dump": "hloscope.cli.dump_cmd",
    "diff": "hloscope.cli.diff_cmd",
    "samples": "hloscope.cli.samples_cmd",
}

EXIT_OK = 0
EXIT_DIFFERENT = 1
EXIT_USAGE = 2
EXIT_CAPTURE = 3
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in our one-line form with exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"hloscope: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    from hloscope import __version__

    parser = _Parser(
        prog="hloscope",
        description="What XLA did to your JAX program, what it costs, and why. "
        "With no command, opens the TUI on the default sample.",
    )
    parser.add_argument("--version", action="version", version=f"hloscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for modname in COMMANDS.values():
        importlib.import_module(modname).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    real = argv is None  # a real process (console script, python -m), not a test calling main
    if real:
        from hloscope.cli import _interrupt, _stderr

        _stderr.install()
        _interrupt.install()
    code = _main(list(sys.argv[1:] if argv is None else argv))
    if real and code == EXIT_INTERRUPTED:
        # jax's native threads may still be compiling; interpreter shutdown under them can
        # crash (SIGSEGV) and turn 130 into -11. Nothing is left to clean up: leave now.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    return code


def _main(argv: list[str]) -> int:
    from hloscope.cli import _interrupt

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = args.command or "tui"
        if args.command is None:
            args = parser.parse_args(["tui"])
        mod = importlib.import_module(COMMANDS[command])
        code: int = mod.run(args)
        _interrupt.check()
        return code
    except BaseException as e:
        # After Ctrl-C, whatever jax turned the interrupt into (an ImportError, a swallowed
        # exception, a failed compile) is the interrupt.
        if isinstance(e, KeyboardInterrupt) or _interrupt.requested():
            sys.stderr.write("hloscope: interrupted\n")
            return EXIT_INTERRUPTED
        if isinstance(e, Error):
            sys.stderr.write(f"hloscope: error: {e.message}\n")
            return e.exit_code
        if isinstance(e, BrokenPipeError):
            # A closed pipe (`| head`) is not an error of ours.
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            return EXIT_OK
        raise


if __name__ == "__main__":
    raise SystemExit(main())
