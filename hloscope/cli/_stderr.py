"""Keep native start-up noise off the CLI's stderr.

jaxlib imports its CUDA/TPU plugin modules when jax is imported, and their C++ code logs through
absl before logging is initialised (`WARNING: All log messages before absl::InitializeLog() ...`,
`I0000 ... cudart_stub.cc:31] Could not find cuda drivers ...`) straight to file descriptor 2,
where no Python setting reaches it. Our stderr is a contract (one `hloscope: error:` line, or
progress on a terminal), so the CLI points fd 2 at a pipe, drops those INFO lines and banners,
and passes every other byte on. Python's own `sys.stderr` keeps the real stream, so progress
bars and terminal detection are untouched.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

# Only lines known to be start-up chatter: absl's pre-init banners and INFO-level (I....) lines
# of native code. Warnings and errors from native code still reach the user.
_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    rb"STDERR|WARNING: Logging before InitGoogle\(\) is written to STDERR"
    rb"|I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] .*)\r?\n$"
)
_installed = False


def install() -> None:
    """Filter fd 2 for the rest of the process (idempotent; a no-op when fd 2 is unusable)."""
    global _installed
    if _installed:
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
    except OSError:
        return
    _installed = True
    # Python keeps writing to the real stream (same mode, a terminal stays a terminal).
    sys.stderr = open(real, "w", encoding=sys.stderr.encoding, errors="backslashreplace",
                      buffering=1, closefd=False)
    thread = threading.Thread(target=_pump, args=(read, real), name="native-stderr", daemon=True)
    thread.start()

    def _finish() -> None:
        # Close our end so the pump sees EOF once native code is done writing, then drain it.
        try:
            os.dup2(real, 2)
        except OSError:
            return
        thread.join(timeout=2)

    atexit.register(_finish)


def _pump(read: int, real: int) -> None:
    pending = b""
    with os.fdopen(read, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not _NOISE.match(line + b"\n"))
            if out:
                _write_all(real, out)
            # A partial line that cannot be noise goes out at once (prompts, progress).
            if pending and not _could_be_noise(pending):
                _write_all(real, pending)
                pending = b""
    if pending:
        _write_all(real, pending)


def _could_be_noise(partial: bytes) -> bool:
    return partial.startswith((b"WARNING: ", b"I")) and len(partial) < 4096


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            n = os.write(fd, data)
        except OSError:
            return
        data = data[n:]
