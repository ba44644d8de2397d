"""Errors a user can cause. Each carries a one-line message; the CLI prints it and exits 2 (or 3).

Internal bugs are not `Error`s: they still raise whatever they raise.
"""

from __future__ import annotations


class Error(Exception):
    """Base of every error a user can cause (bad input, bad usage). One line, no traceback."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(Error):
    """Bad command line or API arguments."""


class InputError(Error):
    """A file or target that cannot be read: missing, wrong kind, corrupt."""


class ParseError(InputError):
    """Text that does not parse. The message reads `file:line:col: expected X, found Y`."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        where = ":".join(
            str(p) for p in (file or "<text>", line, column) if p is not None
        )
        super().__init__(f"{where}: {message}")
        self.reason = message


class BundleError(InputError):
    """A `.hlos` bundle that cannot be opened: corrupt, truncated, newer schema, unsafe member."""


class CaptureError(Error):
    """jax or XLA raised while tracing, lowering or compiling the user's program."""

    exit_code = 3


class MissingPartError(InputError):
    """A capture lacks the part an analysis needs (e.g. no optimized HLO in a `.mlir` file)."""
