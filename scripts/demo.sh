#!/usr/bin/env bash
# make demo: builds nothing itself (make does), makes sample VM disks from
# generated trees, runs vmrepd on a temporary socket and walks through
# vg create, two snapshots with a change in between, list and restore.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
for tool in mkfs.ext4 debugfs cmp; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is needed (apt-get install e2fsprogs diffutils)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmrep-demo.XXXXXX")
DAEMON_PID=
cleanup() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		wait "$DAEMON_PID" || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# gen_tree DIR SEED: a few directories of files, some random, some text.
gen_tree() {
	local dir=$1 seed=$2 i
	mkdir -p "$dir/etc" "$dir/usr/bin" "$dir/var/lib" "$dir/home/user"
	for i in $(seq 1 40); do
		head -c $((20000 + i * 3000)) /dev/urandom >"$dir/usr/bin/prog$i"
		printf 'config %s line %s\n' "$seed" "$i" >"$dir/etc/conf$i"
	done
	for i in $(seq 1 10); do
		head -c $((1 << 20)) /dev/urandom >"$dir/var/lib/blob$i"
	done
}

step "making sample disks in $WORK"
gen_tree "$WORK/tree-boot" boot
mkdir -p "$WORK/tree-db" "$WORK/tree-logs"
for i in $(seq 1 16); do head -c $((1 << 20)) /dev/urandom >"$WORK/tree-db/table$i.dat"; done
for i in $(seq 1 200); do printf 'log line %s\n' $(seq 1 200) >"$WORK/tree-logs/app$i.log"; done
mkfs.ext4 -q -F -L boot -d "$WORK/tree-boot" "$WORK/disk0.img" 128M
mkfs.ext4 -q -F -L db -d "$WORK/tree-db" "$WORK/disk1.img" 64M
mkfs.ext4 -q -F -L logs -d "$WORK/tree-logs" "$WORK/disk2.img" 32M
ls -ls "$WORK"/disk*.img

SOCK=$WORK/run/vmrepd.sock
step "starting vmrepd on $SOCK"
"$BIN/vmrepd" --store "$WORK/store" --socket "$SOCK" --log-level warn 2>"$WORK/vmrepd.log" &
DAEMON_PID=$!
export VMREP_SOCKET=$SOCK
for _ in $(seq 1 100); do "$BIN/vmrep" vg list >/dev/null 2>&1 && break; sleep 0.1; done

cd "$WORK"
step "create the volume group: one boot and two data volumes"
run "$BIN/vmrep" vg create web --boot disk0.img --data db=disk1.img --data logs=disk2.img
run "$BIN/vmrep" vg show web

step "first snapshot"
run "$BIN/vmrep" snapshot create web

step "change files inside the images (debugfs)"
head -c $((2 << 20)) /dev/urandom >"$WORK/newfile"
debugfs -w -R "write $WORK/newfile /var/lib/newblob" disk0.img >/dev/null 2>&1
debugfs -w -R "rm /var/lib/blob3" disk0.img >/dev/null 2>&1
debugfs -w -R "write $WORK/newfile /table-new.dat" disk1.img >/dev/null 2>&1
echo "boot: added /var/lib/newblob (2 MiB), removed /var/lib/blob3; db: added /table-new.dat; logs unchanged"
cp disk0.img disk0-v2.img

step "second snapshot: only the changed chunks are new"
run "$BIN/vmrep" snapshot create web
run "$BIN/vmrep" snapshot list web

step "restore each snapshot's boot volume and compare"
mkdir -p "$WORK/restored"
run "$BIN/vmrep" restore web@latest --volume boot -o restored/boot-2.img
run cmp restored/boot-2.img disk0-v2.img
echo "web@2 boot == disk0.img as changed: identical"
run "$BIN/vmrep" restore web@1 --volume boot -o restored/boot-1.img
if cmp -s restored/boot-1.img disk0-v2.img; then echo "unexpected: web@1 equals the changed image" >&2; exit 1; fi
if ! debugfs -R "ls -l /var/lib" restored/boot-1.img 2>/dev/null | grep -q blob3; then
	echo "demo: web@1 boot lacks /var/lib/blob3" >&2
	exit 1
fi
echo "web@1 boot still has /var/lib/blob3, as before the change"
run "$BIN/vmrep" restore web@1 --volume logs -o restored/logs-1.img
run cmp restored/logs-1.img disk2.img
echo "web@1 logs == disk2.img: identical"

step "verify the store, reading every chunk"
run "$BIN/vmrep" verify --read-data

step "jobs the daemon ran"
run "$BIN/vmrep" jobs

step "stopping vmrepd"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
DAEMON_PID=
echo "demo done"
