"""Child process of `hloscope.stablehlo.isolate`: MLIR bytes on stdin -> one JSON document on
stdout: `{"module": ...}`, `{"error": {...}}` (a ParseError's fields, or the message of another
hloscope error) or `{"bug": traceback}`.

Run as `python -m hloscope.stablehlo._worker [--source NAME]`. Anything jax or XLA prints goes
to stderr: stdout carries the document only.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any


def main(argv: list[str]) -> int:
    source = argv[argv.index("--source") + 1] if "--source" in argv else None
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # keep stray prints off the channel
    data = sys.stdin.buffer.read()
    try:
        from hloscope.errors import Error, ParseError
        from hloscope.stablehlo import serial
        from hloscope.stablehlo.reader import read

        doc: dict[str, Any]
        try:
            module = read(data, source=source)
        except ParseError as e:
            doc = {"error": {"reason": e.reason, "file": e.file, "line": e.line,
                             "column": e.column}}
        except Error as e:
            doc = {"error": {"message": e.message}}
        else:
            doc = {"module": serial.to_json(module)}
    except Exception:  # a bug in our reader: hand the traceback to the parent
        doc = {"bug": traceback.format_exc()}
    out.write(json.dumps(doc, separators=(",", ":")))  # dumps: the C encoder; dump is not
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
