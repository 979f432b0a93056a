#!/usr/bin/env bash
# install-tofu.sh builds the pinned OpenTofu CLI from its Go module and puts it
# in $(go env GOPATH)/bin. The module carries replace directives, so
# `go install module@version` is refused; we download the module and build
# inside (a copy of) the directory the module cache reports.
#
# Idempotent: when a tofu of the pinned version is already on PATH or in
# GOPATH/bin, it does nothing.
set -euo pipefail

TOFU_VERSION="${TOFU_VERSION:-v1.12.6}"
TOFU_MODULE="github.com/opentofu/opentofu"

gobin="$(go env GOPATH)/bin"

has_pinned() {
	local bin="$1"
	[ -x "$bin" ] || return 1
	# One line reads "OpenTofu v1.12.6"; warnings about the CLI config may come first.
	local out
	out="$("$bin" version 2>/dev/null)" || return 1
	grep -qx "OpenTofu ${TOFU_VERSION}" <<<"$out"
}

if command -v tofu >/dev/null 2>&1 && has_pinned "$(command -v tofu)"; then
	echo "tofu ${TOFU_VERSION} already at $(command -v tofu)"
	exit 0
fi
if has_pinned "${gobin}/tofu"; then
	echo "tofu ${TOFU_VERSION} already at ${gobin}/tofu"
	exit 0
fi

echo "downloading ${TOFU_MODULE}@${TOFU_VERSION}" >&2
dir="$(go mod download -json "${TOFU_MODULE}@${TOFU_VERSION}" |
	sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
	echo "install-tofu: go mod download did not report a module directory" >&2
	exit 1
fi

mkdir -p "$gobin"
# Build to a temporary name and rename, so an interrupted build never leaves
# a half-written tofu that later runs would trust.
tmpbin="${gobin}/.tofu.$$"
trap 'rm -f "$tmpbin"' EXIT

ldflags="-X github.com/opentofu/opentofu/version.dev=no"
build() {
	(cd "$1" && go build -ldflags "$ldflags" -o "$tmpbin" ./cmd/tofu)
}

echo "building tofu in ${dir} (takes a few minutes)" >&2
if ! build "$dir"; then
	# The module cache is read-only; some builds need to write next to
	# go.mod (go.sum updates). Retry in a writable copy.
	work="$(mktemp -d)"
	trap 'rm -f "$tmpbin"; rm -rf "$work"' EXIT
	cp -R "$dir/." "$work/"
	chmod -R u+w "$work"
	echo "retrying the build in a writable copy" >&2
	build "$work"
fi

mv -f "$tmpbin" "${gobin}/tofu"
"${gobin}/tofu" version 2>/dev/null | grep -x "OpenTofu .*"
