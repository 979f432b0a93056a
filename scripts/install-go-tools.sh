#!/usr/bin/env bash
# install-go-tools.sh installs the pinned Go tools `make test` runs into
# $(go env GOPATH)/bin with `go install`. Idempotent: a tool already there at
# its pinned version is left alone.
set -euo pipefail

STATICCHECK_VERSION="${STATICCHECK_VERSION:-v0.8.2}"
# Prometheus 3.x is published as module versions v0.3xx.
PROMTOOL_VERSION="${PROMTOOL_VERSION:-v0.316.0}"

gobin="$(go env GOPATH)/bin"

# staticcheck prints "staticcheck 2026.2.2 (0.8.2)"; the module version is
# the part in parentheses.
if ! { [ -x "$gobin/staticcheck" ] && "$gobin/staticcheck" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; }; then
	echo "deps: installing staticcheck ${STATICCHECK_VERSION} (go install)"
	go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi

# promtool checks vmrepd's /metrics in the metrics tests (promtool check
# metrics). A go-installed promtool does not know its own version; the
# module version is in its build information.
if ! { [ -x "$gobin/promtool" ] && go version -m "$gobin/promtool" 2>/dev/null |
	grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/prometheus/prometheus[[:space:]]+${PROMTOOL_VERSION}[[:space:]]"; }; then
	echo "deps: installing promtool ${PROMTOOL_VERSION} (go install; the first build takes several minutes)"
	go install "github.com/prometheus/prometheus/cmd/promtool@${PROMTOOL_VERSION}"
fi
