#!/usr/bin/env bash
# os-delta-workload.sh builds the OS-disk delta workload of the benchmark
# harness: the sample VM's boot disk (scripts/sample-vm.sh, a debootstrap
# Debian root in ext4 at 1 MiB) as "before", and the same disk after an
# `apt-get install` of a few packages run in place (the root loop-mounted,
# apt inside a chroot) as "after". Files the install writes land in new
# blocks, the ext4 journal, inode tables and bitmaps change: the workload a
# delta of a real guest update sees.
#
#   scripts/os-delta-workload.sh            build (or reuse) and print the directory
#   scripts/os-delta-workload.sh --path     print the directory it would use, build nothing
#
# The directory holds before.img and after.img (raw, sparse). It is a cache
# keyed by this script's digest and the sample VM's recipe, in
# $VMREP_OSDELTA_CACHE, else $XDG_CACHE_HOME/vmrep/os-delta, else
# ~/.cache/vmrep/os-delta. Packages come from the mirror apt is configured
# with. Needs root (loop mounts, chroot).
set -euo pipefail

PACKAGES="curl less vim-tiny python3-minimal"

here=$(dirname "$(readlink -f "$0")")
self=$(readlink -f "$0")
samplerecipe=$(sha256sum "$here/sample-vm.sh" | cut -c1-16)
recipe=$( (sha256sum "$self"; echo "$samplerecipe") | sha256sum | cut -c1-16)
base=${VMREP_OSDELTA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmrep/os-delta}
out=$base/$recipe

if [ "${1:-}" = "--path" ]; then
	echo "$out"
	exit 0
fi
if [ -f "$out/done" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$base"
exec 9>"$base/.lock"
flock 9
if [ -f "$out/done" ]; then
	echo "$out"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "os-delta-workload: building needs root (loop mounts, chroot)" >&2
	exit 1
fi
sample=$("$here/sample-vm.sh")

work=$(mktemp -d "$base/.build.XXXXXX")
mnt=$work/mnt
cleanup() {
	for m in "$mnt/proc" "$mnt/dev" "$mnt"; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT

cp --sparse=always "$sample/boot.img" "$work/before.img"
cp --sparse=always "$sample/boot.img" "$work/after.img"
mkdir -p "$mnt"
mount -o loop,offset=1048576 "$work/after.img" "$mnt"
mount -t proc proc "$mnt/proc"
mount --bind /dev "$mnt/dev"
cp /etc/resolv.conf "$mnt/etc/resolv.conf" 2>/dev/null || true
echo "os-delta-workload: apt-get install $PACKAGES in the sample root (a minute or two)" >&2
if ! chroot "$mnt" env DEBIAN_FRONTEND=noninteractive apt-get -q update >"$work/apt.log" 2>&1 ||
	! chroot "$mnt" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends install $PACKAGES >>"$work/apt.log" 2>&1; then
	tail -20 "$work/apt.log" >&2
	echo "os-delta-workload: apt-get failed (log above)" >&2
	exit 1
fi
umount "$mnt/dev" "$mnt/proc"
sync -f "$mnt"
umount "$mnt"

rm -rf "$out"
mkdir -p "$out"
mv "$work/before.img" "$work/after.img" "$out/"
echo "$PACKAGES" >"$out/packages"
touch "$out/done"
for d in "$base"/*/; do
	[ "${d%/}" = "$out" ] || rm -rf "${d%/}"
done
echo "os-delta-workload: built in $out" >&2
echo "$out"
