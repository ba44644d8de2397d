#!/usr/bin/env bash
# mypy over the installed package layout: passes/, tui/ and samples/ live at the top level but
# import as hloscope.passes/.tui/.samples, which mypy cannot see through an editable install.
# Build a throwaway tree of symlinks in that layout and check it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/hloscope"
for entry in "$root"/hloscope/*; do
  ln -s "$entry" "$tmp/hloscope/$(basename "$entry")"
done
ln -s "$root/passes" "$tmp/hloscope/passes"
ln -s "$root/tui" "$tmp/hloscope/tui"
ln -s "$root/samples" "$tmp/hloscope/samples"
cd "$tmp"
python=${PYTHON:-python3}
"$python" -m mypy --config-file "$root/pyproject.toml" --no-incremental -p hloscope "$@"
