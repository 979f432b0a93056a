#!/usr/bin/env bash
# install-minio.sh builds a pinned MinIO server from its Go module and puts it
# in $(go env GOPATH)/bin/minio. The engine/cas/s3backend tests run it on a
# loopback port as the S3-compatible server.
#
# MinIO's RELEASE.* tags are not semantic versions and the module proxy does
# not serve them, so the pin is the pseudo-version of a commit. The module has
# replace directives, so `go install module@version` is refused; we download
# the module and build inside a writable copy of its directory.
#
# Idempotent: a stamp next to the binary records the pinned version; when it
# matches, nothing is done.
set -euo pipefail

MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
MINIO_MODULE="github.com/minio/minio"

gobin="$(go env GOPATH)/bin"
stamp="${gobin}/.minio.version"

if [ -x "${gobin}/minio" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$MINIO_VERSION" ]; then
	echo "minio ${MINIO_VERSION} already at ${gobin}/minio"
	exit 0
fi

echo "downloading ${MINIO_MODULE}@${MINIO_VERSION}" >&2
dir="$(go mod download -json "${MINIO_MODULE}@${MINIO_VERSION}" |
	sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
	echo "install-minio: go mod download did not report a module directory" >&2
	exit 1
fi

mkdir -p "$gobin"
# Build to a temporary name and rename, so an interrupted build never leaves
# a half-written binary behind.
tmpbin="${gobin}/.minio.$$"
work="$(mktemp -d)"
trap 'rm -f "$tmpbin"; rm -rf "$work"' EXIT
cp -R "$dir/." "$work/"
chmod -R u+w "$work"

echo "building minio in a copy of ${dir} (takes several minutes)" >&2
(cd "$work" && CGO_ENABLED=0 go build -trimpath -o "$tmpbin" .)

mv -f "$tmpbin" "${gobin}/minio"
echo "$MINIO_VERSION" >"$stamp"
"${gobin}/minio" --version | head -n 1
