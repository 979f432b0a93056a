#!/usr/bin/env bash
# Installs every tool the tests, benchmarks and demo use, idempotently: a
# Debian package is installed only when its command is missing.
set -euo pipefail

# command -> Debian package
declare -A want=(
  [mkfs.ext4]=e2fsprogs
  [debugfs]=e2fsprogs
  [qemu-img]=qemu-utils
  [qemu-io]=qemu-utils
  # the QEMU source's tests serve qcow2 images over NBD with QMP
  [qemu-storage-daemon]=qemu-system-common
  [fusermount3]=fuse3
  [losetup]=mount
  [lvcreate]=lvm2
  [cmp]=diffutils
  [restic]=restic
  [borg]=borgbackup
  [casync]=casync
  [xdelta3]=xdelta3
  [rsync]=rsync
  [hyperfine]=hyperfine
  [openssl]=openssl
  [fsfreeze]=util-linux
  [flock]=util-linux
  [sfdisk]=fdisk
  [debootstrap]=debootstrap
  [extlinux]=extlinux
  [qemu-system-x86_64]=qemu-system-x86
  [chromium]=chromium
)

# files -> Debian package: what the sample VM (scripts/sample-vm.sh) and
# `vmrep launch` need besides commands
declare -A wantfile=(
  [/usr/lib/syslinux/mbr/mbr.bin]=syslinux-common
  [/usr/share/keyrings/debian-archive-keyring.gpg]=debian-archive-keyring
  [/usr/share/OVMF/OVMF_CODE_4M.fd]=ovmf
  [/usr/share/seabios/bios-256k.bin]=seabios
  # a font for the status page's screenshots in headless chromium
  [/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf]=fonts-dejavu-core
)

missing=()
for cmd in "${!want[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] || missing+=("${want[$cmd]}")
done
for f in "${!wantfile[@]}"; do
  [ -e "$f" ] || missing+=("${wantfile[$f]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "deps: installing Debian packages: $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi

# staticcheck, pinned, which `make test` runs after go vet.
scripts/install-go-tools.sh

if [ -x scripts/install-tofu.sh ]; then
  scripts/install-tofu.sh
fi

# The vmrep provider local stacks require, in tofu's implicit local mirror.
if [ -x scripts/install-tfprovider.sh ]; then
  scripts/install-tfprovider.sh
fi

# desync, a benchmark peer, built from a pinned module version.
if [ -x scripts/install-desync.sh ]; then
  scripts/install-desync.sh
fi

# MinIO, the S3-compatible server the engine/cas/s3backend tests run.
if [ -x scripts/install-minio.sh ]; then
  scripts/install-minio.sh
fi

# The bootable sample VM the boot tests and the demo replicate (a cache,
# built once per recipe; a minute or two the first time).
scripts/sample-vm.sh >/dev/null
