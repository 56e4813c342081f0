#!/bin/sh
# test_ui.sh: the dashboard in a headless Chromium against a live daemon
# (tests/ui_test.py). Needs Debian's chromium-headless-shell (or chromium)
# and libjs-chart.js (.ci/run installs them); skips (77) without Chromium.
set -eu
py=/usr/bin/python3
if ! command -v chromium-headless-shell >/dev/null 2>&1 && ! command -v chromium >/dev/null 2>&1; then
    echo "SKIP: no Chromium (Debian: apt-get install chromium-headless-shell)"; exit 77
fi
if ! [ -x "$py" ]; then echo "SKIP: no $py"; exit 77; fi
export PYTHONDONTWRITEBYTECODE=1
exec "$py" "${top_srcdir:-.}/tests/ui_test.py" "$@"
