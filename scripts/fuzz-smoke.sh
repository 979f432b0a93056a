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
    # Minimizing each new interesting input may take a worker up to a
    # minute by default; on inputs of a few KiB that was the whole budget
    # (FuzzParse ran 40 inputs in 20 s). One second keeps the time fuzzing.
    if go test -run '^$' -fuzz "^${fn}\$" -fuzztime "${secs}s" -fuzzminimizetime 1s "$pkg" >"$log" 2>&1; then
      continue
    fi
    # Go 1.26's fuzz coordinator can report its own -fuzztime deadline as a
    # failure when a worker is mid-input as time runs out (golang/go#75804,
    # fixed in Go 1.27). That failure writes no input; a real one always
    # does, and prints where.
    if grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written to' "$log"; then
      echo "fuzz: $fn stopped by the Go 1.26 fuzztime race (no failing input); not a finding"
      continue
    fi
    cat "$log"
    exit 1
  done
done
