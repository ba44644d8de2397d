#!/usr/bin/env bash
# Drive the TUI as a person would, in a real terminal (tmux): open it, press keys, read the
# screen back with capture-pane, check what each screen shows, quit.
#
#   scripts/tmux_check.sh                 # on the fixed test bundle (a few seconds)
#   scripts/tmux_check.sh --default       # also `hloscope` alone: captures the default sample
#
# Needs tmux and the `hloscope` command (HLOSCOPE=/path/to/hloscope to choose one).
# Exit code 0 when every check passed; the screen at a failure is printed.
set -uo pipefail
cd "$(dirname "$0")/.."

HLOSCOPE=${HLOSCOPE:-$(command -v hloscope || echo "python -m hloscope")}
BUNDLE=tests/tui/data/transformer.hlos
SESSION="hloscope-check-$$"
WIDTH=120
HEIGHT=36
failures=0

command -v tmux >/dev/null || { echo "tmux_check: tmux is not installed" >&2; exit 2; }

screen() { tmux capture-pane -p -t "$SESSION"; }

# wait_for TEXT [SECONDS]: until TEXT is on the screen.
wait_for() {
    local text=$1 limit=${2:-30} waited=0
    while ! screen | grep -qF -- "$text"; do
        sleep 0.25
        waited=$((waited + 1))
        if [ $((waited / 4)) -ge "$limit" ]; then
            return 1
        fi
    done
}

check() {  # check NAME TEXT [SECONDS]
    if wait_for "$2" "${3:-15}"; then
        echo "ok    $1"
    else
        echo "FAIL  $1: '$2' not on screen"
        screen | sed 's/^/      | /'
        failures=$((failures + 1))
    fi
}

keys() { tmux send-keys -t "$SESSION" "$@"; sleep 0.4; }

start() {  # start COMMAND...
    tmux kill-session -t "$SESSION" 2>/dev/null
    tmux new-session -d -s "$SESSION" -x "$WIDTH" -y "$HEIGHT" "$* ; echo EXITED \$?; sleep 30"
}

stop() { tmux kill-session -t "$SESSION" 2>/dev/null; }
trap stop EXIT

echo "== hloscope tui $BUNDLE --hardware h100-sxm"
start "$HLOSCOPE tui $BUNDLE --hardware h100-sxm"
check "opens on the Overview" "Step (estimate on h100-sxm)" 60
check "analyses finish" " ready" 120
check "top kernels listed" "all-reduce.50"
keys k
check "Kernels screen" "414 kernels"
keys Enter
check "kernel detail" "1 Instructions"
keys 2
check "kernel HLO" "all-reduce.50 = "
keys Escape
keys /
keys -l "all-gather"
keys Enter
check "filter" "filter “all-gather”"
keys s
check "Source screen" "source lines"
keys c
check "Collectives screen" "by axis:"
keys d
check "Devices screen" "metric: [estimated time]"
keys x
check "communication matrix" "from\\to"
keys m
check "Memory screen" "Buffers live at the peak"
keys t
check "HLO text opens at ENTRY" "ENTRY %main"
keys Tab
check "StableHLO text" "module @jit_transformer_step"
keys h
check "hardware picker" "Hardware (Enter: use"
keys Escape
keys '?'
check "help" "Help: Text"
keys Escape
keys q
check "quits with exit code 0" "EXITED 0"

echo "== NO_COLOR=1: no colour in the output (Textual then draws in shades of grey)"
start "NO_COLOR=1 $HLOSCOPE tui $BUNDLE --hardware h100-sxm"
if wait_for " ready" 120; then
    hues=$(tmux capture-pane -p -e -t "$SESSION" | python3 -c '
import re, sys
def grey(n):  # 256-colour palette: the grey ramp, black, white, or an equal-component cube entry
    if n >= 232 or n in (0, 7, 8, 15, 16, 231):
        return True
    if 16 <= n <= 231:
        n -= 16
        return n // 36 == (n // 6) % 6 == n % 6
    return False
bad = set()
for params in re.findall(r"\x1b\[([0-9;]*)m", sys.stdin.read()):
    p = [int(x) for x in params.split(";") if x]
    i = 0
    while i < len(p):
        if p[i] in (38, 48) and i + 2 < len(p) and p[i + 1] == 5:
            if not grey(p[i + 2]):
                bad.add(p[i + 2])
            i += 3
        elif p[i] in (38, 48) and i + 4 < len(p) and p[i + 1] == 2:
            if len(set(p[i + 2:i + 5])) > 1:
                bad.add(tuple(p[i + 2:i + 5]))
            i += 5
        else:
            if 31 <= p[i] <= 36 or 41 <= p[i] <= 46 or 91 <= p[i] <= 96 or 101 <= p[i] <= 106:
                bad.add(p[i])
            i += 1
print(" ".join(map(str, sorted(bad, key=str))))
')
    if [ -n "$hues" ]; then
        echo "FAIL  NO_COLOR: colours on screen: $hues"
        failures=$((failures + 1))
    else
        echo "ok    NO_COLOR: shades of grey only"
    fi
else
    echo "FAIL  NO_COLOR run did not get ready"
    failures=$((failures + 1))
fi
keys q

if [ "${1:-}" = "--default" ]; then
    echo "== hloscope (no arguments): the default sample, captured"
    start "$HLOSCOPE"
    check "captures and opens the default sample" "jit_transformer_step" 180
    check "analyses finish" " ready" 180
    keys q
    check "quits with exit code 0" "EXITED 0"
fi

stop
if [ "$failures" -gt 0 ]; then
    echo "tmux_check: $failures check(s) failed"
    exit 1
fi
echo "tmux_check: all checks passed"
