#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 20s) each.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-20s}
for pkg in $(go list ./...); do
  for f in $(go test -list 'Fuzz.*' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $f"
    go test "$pkg" -run '^$' -fuzz "^$f\$" -fuzztime "$t"
  done
done
