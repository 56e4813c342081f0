#!/bin/sh
# test_layers_fixtures.sh: tools/layers.sh itself, on the fake trees of
# tests/fixtures/layers/: ok/ passes; bad/ fails and names every rule it
# breaks with its file:line (an upward include closing a directory cycle,
# siblings including each other, a header cycle, a directory not in the
# order).
set -eu
src=${top_srcdir:-.}
layers="$src/tools/layers.sh"
fx="$src/tests/fixtures/layers"
out=$(mktemp "${TMPDIR:-/tmp}/test_layers.XXXXXX")
trap 'rm -f "$out"' EXIT

if ! sh "$layers" "$fx/ok/src" >"$out" 2>&1; then
    cat "$out"; echo "FAIL: the ok tree was rejected"; exit 1
fi
grep -q '^  model(2)     -> num(1)          2$' "$out" || { cat "$out"; echo "FAIL: edge count"; exit 1; }

rc=0
sh "$layers" "$fx/bad/src" >"$out" 2>&1 || rc=$?
cat "$out"
[ "$rc" -eq 1 ] || { echo "FAIL: the bad tree exited $rc, not 1"; exit 1; }
for want in \
    'layers: src/core/up.c:3: core (0) includes model/fit.h: model (2) is above it' \
    'layers: src/num/ode.c:2: num and nn are siblings on level 1' \
    'layers: directory cycle: core -> model -> core:' \
    'layers: header cycle: core/a.h -> core/b.h -> core/a.h:' \
    '    src/core/b.h:2 (core/b.h -> core/a.h)' \
    'layers: src/extra/: not in the layer order' \
    'layers: FAIL, 7 problem(s)'; do
    grep -qF -- "$want" "$out" || { echo "FAIL: no line: $want"; exit 1; }
done
echo "ok: tools/layers.sh passes the ok tree and names each fault of the bad one"
