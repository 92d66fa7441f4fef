#!/usr/bin/env bash
# `make pytest`: the tests that tolerate company on several workers (pytest-xdist), then the `serial` ones alone
# (load-sensitive: 500 devices, floods, several processes, a PostgreSQL restart). Both phases run and report; the
# exit status is the first failing phase's, and a phase that selects no tests (status 5) is not a failure unless
# neither selected any. Arguments go to both phases.
set -uo pipefail

pytest=${PYTEST:-.venv/bin/pytest}
workers=${PYTEST_WORKERS:-3}

"$pytest" -m "not serial" -n "$workers" --dist worksteal "$@"
parallel=$?
echo "--- the serial tests, alone ---"
"$pytest" -m serial "$@"
serial=$?

if [ "$parallel" -eq 5 ] && [ "$serial" -eq 5 ]; then
  exit 5
fi
for status in "$parallel" "$serial"; do
  if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then
    exit "$status"
  fi
done
exit 0
