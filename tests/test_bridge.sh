#!/bin/sh
# test_bridge.sh: the PyTorch bridge (tools/odeserve-export, odeserve-import)
# against a live daemon (tests/bridge_test.py). Needs Debian's python3-torch
# and python3-scipy (.ci/run installs them); skips (77) without. torchdiffeq
# and torchcde are used too when they are on PYTHONPATH or in _vendor/
# (torchcde imports torchsde, which imports trampoline).
set -eu
py=/usr/bin/python3
if ! [ -x "$py" ] || ! "$py" -c 'import torch, scipy, numpy' 2>/dev/null; then
    echo "SKIP: $py with torch (python3-torch) and scipy (python3-scipy) is needed"; exit 77
fi
src=${top_srcdir:-.}
for d in torchdiffeq torchcde torchsde trampoline; do
    if [ -d "$src/_vendor/$d" ]; then PYTHONPATH="$src/_vendor/$d${PYTHONPATH:+:$PYTHONPATH}"; fi
done
export PYTHONPATH="${PYTHONPATH:-}" PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=1
exec "$py" "$src/tests/bridge_test.py"
