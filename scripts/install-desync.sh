#!/usr/bin/env bash
# install-desync.sh builds the pinned desync CLI, a peer in the benchmarks
# (bench/harness), and puts it in $(go env GOPATH)/bin. Its CLI is package main
# under cmd/desync, so it cannot be imported or `go install`ed here (the
# checksum database does not list the module); we download the module at a
# pinned version, check its hash against the one pinned below, and build
# ./cmd/desync inside a writable copy, away from the project's go.mod.
#
# Idempotent: a desync already in GOPATH/bin or on PATH is kept. A failed
# build is reported and leaves desync out of the benchmarks; it never fails
# `make deps`.
set -uo pipefail

DESYNC_VERSION="${DESYNC_VERSION:-v0.9.6}"
DESYNC_SUM="h1:Wb2b/SBdbY/QBSVeI/bXsG0NHSKJX7K9Xuqbq/degA8="
DESYNC_MODULE="github.com/folbricht/desync"

gobin="$(go env GOPATH)/bin"
if command -v desync >/dev/null 2>&1; then
	exit 0
fi
if [ -x "${gobin}/desync" ]; then
	exit 0
fi

echo "install-desync: downloading ${DESYNC_MODULE}@${DESYNC_VERSION}" >&2
json="$(GONOSUMDB="${DESYNC_MODULE}" go mod download -json "${DESYNC_MODULE}@${DESYNC_VERSION}")" || {
	echo "install-desync: download failed; benchmarks run without desync" >&2
	exit 0
}
field() { sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*\"\(.*\)\",\{0,1\}\$/\1/p" <<<"$json"; }
dir="$(field Dir)"
sum="$(field Sum)"
if [ "$sum" != "$DESYNC_SUM" ]; then
	echo "install-desync: module hash $sum is not the pinned $DESYNC_SUM; not building" >&2
	exit 0
fi

work="$(mktemp -d)"
tmpbin="${gobin}/.desync.$$"
trap 'rm -rf "$work" "$tmpbin"' EXIT
cp -R "$dir/." "$work/"
chmod -R u+w "$work"
mkdir -p "$gobin"
echo "install-desync: building ./cmd/desync" >&2
if ! (cd "$work" && GOFLAGS=-mod=mod go build -o "$tmpbin" ./cmd/desync); then
	echo "install-desync: build failed; benchmarks run without desync" >&2
	exit 0
fi
mv -f "$tmpbin" "${gobin}/desync"
echo "install-desync: desync ${DESYNC_VERSION} at ${gobin}/desync" >&2
