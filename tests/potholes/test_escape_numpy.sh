#!/bin/sh
# test_escape_numpy.sh: runs test_escape_numpy.py (an independent numpy
# re-implementation of the escape loop) against the C engine; exit 77 (skip)
# without /usr/bin/python3 and numpy.
set -u
P=${PH_POTHOLE:?PH_POTHOLE not set}
/usr/bin/python3 -c "import numpy" 2>/dev/null || { echo "numpy absent: skipped"; exit 77; }
T=$(mktemp -d /tmp/ph_escape_numpy.XXXXXX)
trap 'rm -rf "$T"' EXIT
# Not `exec`: the shell must outlive python for the trap to remove $T.
/usr/bin/python3 "$(dirname "$0")/test_escape_numpy.py" "$P" "$T"
