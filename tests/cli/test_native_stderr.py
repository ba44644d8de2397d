"""The CLI's fd-2 filter drops native start-up chatter and passes everything else on."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import os, sys
from hloscope.cli import _stderr
_stderr.install()
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written"
            b" to STDERR\n")
os.write(2, b"I0000 00:00:1795950791.195118   29684 cudart_stub.cc:31] Could not find cuda"
            b" drivers on your machine, GPU will not be used.\n")
os.write(2, b"E0000 00:00:1795950739.435178   29120 common_lib.cc:554] a real native error\n")
os.write(2, b"partial prompt> ")
sys.stderr.write("hloscope: error: python's own line\n")
"""


def test_noise_is_dropped_and_the_rest_kept() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60, check=True)
    lines = done.stderr.splitlines(keepends=True)
    # Python writes to the real fd directly and the pump forwards native bytes from a thread,
    # so the two interleave in any order (the partial prompt may land before Python's line).
    assert "hloscope: error: python's own line\n" in done.stderr
    assert any("a real native error" in line for line in lines)
    assert "partial prompt> " in done.stderr
    assert "absl::InitializeLog" not in done.stderr
    assert "cudart_stub" not in done.stderr
