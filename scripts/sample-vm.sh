#!/usr/bin/env bash
# sample-vm.sh builds the bootable sample VM the boot tests and the demo
# replicate: a minimal Debian (debootstrap, the cloud kernel, systemd,
# qemu-guest-agent) on an MBR-partitioned boot volume with SYSLINUX, and a
# data volume with its own ext4 filesystem that the guest mounts at /data.
#
#   scripts/sample-vm.sh            build (or reuse) and print the directory
#   scripts/sample-vm.sh --path     print the directory it would use, build nothing
#
# The directory holds boot.img (raw, 1 GiB sparse) and data.img (raw,
# 128 MiB). It is a cache keyed by this script's own digest: editing the
# recipe builds a new one and removes the old. The cache lives in
# $VMREP_SAMPLE_CACHE, else $XDG_CACHE_HOME/vmrep/sample-vm, else
# ~/.cache/vmrep/sample-vm. Concurrent callers wait on one lock and share
# one build. Packages come from the Debian mirror apt is configured with.
#
# What the guest does, for tests:
#   - console on ttyS0 (115200); a getty login prompt there;
#   - once /data is mounted it prints one line on ttyS0:
#       vmrep-sample: ready data=<serial of the data disk> hello=<first line of /data/hello.txt>
#   - qemu-guest-agent answers on the virtio-serial port org.qemu.guest_agent.0,
#     so a test can run a command inside the guest (guest-exec) and read a file.
# Needs root (loop mounts), debootstrap, extlinux and e2fsprogs (scripts/deps.sh).
set -euo pipefail

SUITE=bookworm
BOOT_SIZE=1G
DATA_SIZE=128M
ROOT_UUID=5b1e0c1a-7f3d-4d3e-9a57-76d0b00c0001
DATA_UUID=5b1e0c1a-7f3d-4d3e-9a57-76d0b00c0002
PACKAGES=linux-image-cloud-amd64,systemd-sysv,udev,qemu-guest-agent,e2fsprogs

self=$(readlink -f "$0")
recipe=$(sha256sum "$self" | cut -c1-16)
base=${VMREP_SAMPLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmrep/sample-vm}
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
if [ -f "$out/done" ]; then # built while we waited
	echo "$out"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "sample-vm: building the sample VM needs root (debootstrap, loop mounts)" >&2
	exit 1
fi
for cmd in debootstrap extlinux mkfs.ext4 sfdisk; do
	command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] || {
		echo "sample-vm: $cmd is missing; run scripts/deps.sh" >&2
		exit 1
	}
done
mbr=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$mbr" ] || { echo "sample-vm: $mbr is missing (Debian package syslinux-common)" >&2; exit 1; }

# The mirror apt already uses: this machine reaches Debian's packages
# through it and nothing else.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
	mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit} $1 == "deb" && $2 ~ /^\[/ {print $3; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { echo "sample-vm: no Debian mirror in apt's sources" >&2; exit 1; }

work=$(mktemp -d "$base/.build.XXXXXX")
mnt=$work/mnt
cleanup() {
	mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
	rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
echo "sample-vm: debootstrap $SUITE (a minute or two)" >&2
keyring=()
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
if ! debootstrap "${keyring[@]}" --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
	tail -20 "$work/debootstrap.log" >&2
	echo "sample-vm: debootstrap failed (log above)" >&2
	exit 1
fi

# --- the guest's configuration ---
echo vmrep-sample >"$root/etc/hostname"
cat >"$root/etc/fstab" <<EOF
UUID=$ROOT_UUID / ext4 errors=remount-ro 0 1
LABEL=vmrep-data /data ext4 defaults,nofail,x-systemd.device-timeout=180s 0 2
EOF
mkdir -p "$root/data"
# A root without a password cannot log in; the login prompt is only a
# readiness signal a real VM also gives.
chroot "$root" passwd -l root >/dev/null

cat >"$root/usr/local/sbin/vmrep-sample-ready" <<'EOF'
#!/bin/sh
# Prints the sample VM's readiness line on the serial console.
serial=$(cat /sys/block/vdb/serial 2>/dev/null || echo none)
hello=$(head -n1 /data/hello.txt 2>/dev/null || echo none)
echo "vmrep-sample: ready data=$serial hello=$hello" >/dev/ttyS0
EOF
chmod 755 "$root/usr/local/sbin/vmrep-sample-ready"
cat >"$root/etc/systemd/system/vmrep-sample-ready.service" <<'EOF'
[Unit]
Description=vmrep sample VM readiness line
# Ready means /data is mounted: under TCG on a loaded host the data disk
# can take long to appear, hence the long device timeout in fstab.
After=local-fs.target data.mount
Requires=data.mount

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vmrep-sample-ready

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/vmrep-sample-ready.service "$root/etc/systemd/system/multi-user.target.wants/vmrep-sample-ready.service"
mkdir -p "$root/etc/systemd/system/getty.target.wants"
ln -sf /lib/systemd/system/serial-getty@.service "$root/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
# No network in the sample: nothing waits for it.
rm -f "$root/etc/systemd/system/multi-user.target.wants/"*networking* 2>/dev/null || true

# Smaller: package caches, documentation, locales, manuals.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
	"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'C.*' ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true

# --- the boot volume: MBR, one bootable ext4 partition at 1 MiB ---
kernel=$(cd "$root/boot" && ls vmlinuz-* | head -n1)
initrd=$(cd "$root/boot" && ls initrd.img-* | head -n1)
mkdir -p "$root/boot/extlinux"
cat >"$root/boot/extlinux/extlinux.conf" <<EOF
SERIAL 0 115200
DEFAULT debian
PROMPT 0
TIMEOUT 1
LABEL debian
	LINUX /boot/$kernel
	INITRD /boot/$initrd
	APPEND root=UUID=$ROOT_UUID ro console=ttyS0,115200 quiet
EOF

img=$work/boot.img
truncate -s "$BOOT_SIZE" "$img"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$img"
part_bytes=$(( $(stat -c %s "$img") - 1048576 ))
# SYSLINUX reads ext4 without the 64bit feature.
mkfs.ext4 -q -F -O ^64bit -L vmrep-root -U "$ROOT_UUID" -E offset=1048576 -d "$root" "$img" "$((part_bytes / 1024))k"
mkdir -p "$mnt"
mount -o loop,offset=1048576 "$img" "$mnt"
extlinux --install "$mnt/boot/extlinux" >/dev/null 2>&1
umount "$mnt"
dd if="$mbr" of="$img" bs=440 count=1 conv=notrunc status=none

# --- the data volume: ext4 without a partition table ---
mkdir -p "$work/data"
printf 'hello from VM1\n' >"$work/data/hello.txt"
truncate -s "$DATA_SIZE" "$work/data.img"
mkfs.ext4 -q -F -L vmrep-data -U "$DATA_UUID" -d "$work/data" "$work/data.img"

# --- into the cache, old recipes out ---
rm -rf "$out"
mkdir -p "$out"
mv "$img" "$work/data.img" "$out/"
echo "$SUITE $(cd "$root/boot" && echo "$kernel")" >"$out/recipe"
touch "$out/done"
for d in "$base"/*/; do
	[ "${d%/}" = "$out" ] || rm -rf "${d%/}"
done
echo "sample-vm: built $(du -sh "$out" | cut -f1) in $out" >&2
echo "$out"
