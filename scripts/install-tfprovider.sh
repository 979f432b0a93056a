#!/usr/bin/env bash
# install-tfprovider.sh builds the vmrep OpenTofu provider
# (tools/terraform-provider-vmrep, which local stacks require) and puts it
# in OpenTofu's implicit local mirror, ~/.terraform.d/plugins (or
# $TOFU_PLUGIN_DIR), so `tofu init` in a stack installs it without a
# network and without a CLI config. Its dependencies come from the Go
# module proxy like every other module of the build.
#
# Idempotent: nothing is built when the installed provider is newer than
# every file of its source.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$ROOT/tools/terraform-provider-vmrep
VERSION=0.1.0
plugins=${TOFU_PLUGIN_DIR:-$HOME/.terraform.d/plugins}
platform="$(go env GOOS)_$(go env GOARCH)"
dir=$plugins/vmrep.local/vmrep/vmrep/$VERSION/$platform
bin=$dir/terraform-provider-vmrep_v$VERSION

if [ -x "$bin" ] && [ -z "$(find "$SRC" -type f -newer "$bin" -print -quit)" ]; then
	echo "vmrep provider $VERSION already at $bin"
	exit 0
fi
mkdir -p "$dir"
# Build to a temporary name and rename: tofu never sees half a binary.
tmp=$dir/.terraform-provider-vmrep.$$
trap 'rm -f "$tmp"' EXIT
echo "building the vmrep provider $VERSION" >&2
(cd "$SRC" && go build -o "$tmp" .)
mv -f "$tmp" "$bin"
echo "vmrep provider $VERSION at $bin"
