#!/usr/bin/env bash
# Runs every fuzz target of the module briefly, so that a decoder that panics
# on its seed corpus or on a few seconds of mutation fails the suite.
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
secs=${FUZZ_SECONDS:-4}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for fn in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | awk '{print $2}' | sort -u); do
    echo "fuzz: $pkg $fn (${secs}s)"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "${secs}s" "$pkg" >"$log" 2>&1 || { cat "$log"; exit 1; }
  done
done
