#!/bin/sh
# ui-screenshots.sh: regenerate docs/ui/*.png, the dashboard's screenshots in
# docs/dashboard.md and the README, by running the dashboard's test
# (tests/ui_test.py) with --screenshots. Needs a built tree, Chromium
# (chromium-headless-shell) and libjs-chart.js. Usage: tools/ui-screenshots.sh
set -eu
cd "$(dirname "$0")/.."
top_srcdir=$(pwd) top_builddir=$(pwd)
export top_srcdir top_builddir
/usr/bin/python3 tests/ui_test.py --screenshots docs/ui
ls -l docs/ui
