#!/usr/bin/env bash
# install-go-tools.sh installs the pinned Go tools `make test` runs into
# $(go env GOPATH)/bin with `go install`. Idempotent: a tool already there at
# its pinned version is left alone.
set -euo pipefail

STATICCHECK_VERSION="${STATICCHECK_VERSION:-v0.8.2}"

gobin="$(go env GOPATH)/bin"

# staticcheck prints "staticcheck 2026.2.2 (0.8.2)"; the module version is
# the part in parentheses.
if [ -x "$gobin/staticcheck" ] && "$gobin/staticcheck" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; then
	exit 0
fi
echo "deps: installing staticcheck ${STATICCHECK_VERSION} (go install)"
go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
