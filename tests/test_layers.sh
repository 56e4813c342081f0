#!/bin/sh
# test_layers.sh: src/ keeps the layer order of docs/STYLE.md (no include
# running back up, none between siblings, no cycle between directories or
# headers). tools/layers.sh prints the graph and names each offending
# file:line.
set -eu
src=${top_srcdir:-.}
exec sh "$src/tools/layers.sh" "$src/src"
