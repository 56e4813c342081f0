#!/bin/sh
# test_pyclient.sh: the Python client and odeservectl (clients/python)
# against live daemons (tests/pyclient_test.py). Needs Debian's python3 with
# numpy, pip and setuptools (./bootstrap installs them); skips (77) without.
set -eu
py=/usr/bin/python3
if ! [ -x "$py" ] || ! "$py" -c 'import setuptools, numpy, pip' 2>/dev/null; then
    echo "SKIP: $py with numpy, pip and setuptools is needed"; exit 77
fi
export PYTHONDONTWRITEBYTECODE=1
exec "$py" "${top_srcdir:-.}/tests/pyclient_test.py"
