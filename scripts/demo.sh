#!/usr/bin/env bash
# make demo: builds nothing itself (make does), makes sample VM disks from
# generated trees, runs vmrepd on a temporary socket and walks through
# vg create, two snapshots with a change in between, list and restore, then
# replication: diff, a replica at web@1 moved to web@2 by a delta, the
# OpenTofu stacks for both (applied when tofu is installed), a QCOW2
# export checked with qemu-img, the FUSE view, a replication server that
# receives both snapshots over TLS, the bootable sample VM replicated,
# changed and booted from its replica in QEMU, and garbage collection.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
for tool in mkfs.ext4 debugfs cmp qemu-img openssl; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is needed (apt-get install e2fsprogs diffutils qemu-utils)" >&2; exit 1; }
done
# make deps builds tofu into GOPATH/bin.
PATH=$PATH:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmrep-demo.XXXXXX")
DAEMON_PID=
SERVER_PID=
cleanup() {
	for pid in $SERVER_PID $DAEMON_PID; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			wait "$pid" || true
		fi
	done
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

cp disk0.img disk0-v1.img
cp disk1.img disk1-v1.img

step "change files inside the images (debugfs)"
head -c $((2 << 20)) /dev/urandom >"$WORK/newfile"
debugfs -w -R "write $WORK/newfile /var/lib/newblob" disk0.img >/dev/null 2>&1
debugfs -w -R "rm /var/lib/blob3" disk0.img >/dev/null 2>&1
debugfs -w -R "write $WORK/newfile /table-new.dat" disk1.img >/dev/null 2>&1
echo "boot: added /var/lib/newblob (2 MiB), removed /var/lib/blob3; db: added /table-new.dat; logs unchanged"
cp disk0.img disk0-v2.img
cp disk1.img disk1-v2.img

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

step "what changed between web@1 and web@2 (manifests only; equal pages skipped)"
run "$BIN/vmrep" diff web@1 web@2

# vol_id NAME: the volume ID the replica names the volume's file by.
vol_id() { "$BIN/vmrep" vg show web --json | sed -n "/\"id\": \"vol-/{h;n;/\"name\": \"$1\"/{x;s/.*\"\(vol-[0-9a-f]*\)\".*/\1/p}}"; }
BOOT_ID=$(vol_id boot)
DB_ID=$(vol_id db)
LOGS_ID=$(vol_id logs)

step "a replica at web@1, moved to web@2 by a delta"
run "$BIN/vmrep" replica create web@1 --dir replica
run cmp "replica/$BOOT_ID.img" disk0-v1.img
run "$BIN/vmrep" delta export web@1 web@2 -o d12.vmdelta
run "$BIN/vmrep" delta show d12.vmdelta
run "$BIN/vmrep" delta apply d12.vmdelta --replica replica --verify full
run cmp "replica/$BOOT_ID.img" disk0-v2.img
run cmp "replica/$DB_ID.img" disk1-v2.img
run cmp "replica/$LOGS_ID.img" disk2.img
echo "replica == web@2 on every volume"
run "$BIN/vmrep" delta apply d12.vmdelta --replica replica
echo "applying it again: nothing left to write"

step "OpenTofu stacks: stack-v1 replicates web@1, stack-v2 applies the delta"
run "$BIN/vmrep" stack generate web@1 --target local --out stack-v1
run "$BIN/vmrep" stack generate web@1..web@2 --delta d12.vmdelta --target local --out stack-v2
run "$BIN/vmrep" stack generate web@1 --target oci --out stack-oci
ls stack-v1
if command -v tofu >/dev/null; then
	# As the README prints it: no -var, no terminal; vmrep from PATH, the
	# daemon from VMREP_SOCKET, the replica in replica-web/ next to the stacks.
	export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1
	for s in stack-v1 stack-v2; do
		printf '$ (cd %s && tofu init && tofu apply -auto-approve)\n' "$s"
		(cd "$s" && PATH=$BIN:$PATH && tofu init -no-color >/dev/null && tofu apply -auto-approve -no-color </dev/null) |
			grep -E '^(terraform_data[^ ]*: Creation complete|Apply complete)' || true
	done
	run cmp "replica-web/$BOOT_ID.img" disk0-v2.img
	echo "tofu-applied replica == web@2"
	tofu -chdir=stack-v2 plan -detailed-exitcode -no-color >/dev/null
	echo "tofu plan on stack-v2: no changes"
	mv replica-web replica-web.moved
	drift=$(tofu -chdir=stack-v2 plan -no-color 2>&1 || true)
	if grep -q 'has no readable state.json' <<<"$drift"; then
		echo "replica moved away: tofu plan on stack-v2 fails and says so"
	else
		echo "demo: tofu plan did not see the moved replica" >&2
		exit 1
	fi
	mv replica-web.moved replica-web
else
	echo "tofu is not installed (make deps builds it): skipping tofu apply"
fi

step "export web@1 boot as QCOW2 for a cloud image import"
run "$BIN/vmrep" export web@1 --volume boot --format qcow2 -o boot.qcow2
run qemu-img check boot.qcow2
run qemu-img compare -f qcow2 -F raw boot.qcow2 disk0-v1.img
ls -ls boot.qcow2 disk0-v1.img

step "verify the store, reading every chunk"
run "$BIN/vmrep" verify --read-data

step "jobs the daemon ran"
run "$BIN/vmrep" jobs

# ---- FUSE view (fusefs): every snapshot as disk image files ----------------
if [ "$(id -u)" = 0 ] && [ -e /dev/fuse ]; then
	step "mount the store through FUSE; loop-mount web@2's boot volume from it"
	mkdir -p "$WORK/fuse" "$WORK/boot-v2"
	run "$BIN/vmrep" mount "$WORK/fuse"
	run "$BIN/vmrep" mounts
	run ls -l "$WORK/fuse" "$WORK/fuse/web" "$WORK/fuse/web/2"
	run cmp "$WORK/fuse/web/2/boot.img" disk0-v2.img
	run mount -o loop,ro "$WORK/fuse/web/2/boot.img" "$WORK/boot-v2"
	run ls "$WORK/boot-v2/etc" | head -5
	run cat "$WORK/boot-v2/etc/conf1"
	run umount "$WORK/boot-v2"
	run "$BIN/vmrep" umount "$WORK/fuse"
else
	echo "FUSE needs root and /dev/fuse: skipping the mount step"
fi
# ---- end of FUSE view --------------------------------------------------------

# ---- replication server ----------------------------------------------------
step "a replication server: a second vmrepd receives web@1 and web@2 over TLS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$WORK/server.key" -out "$WORK/server.pem" 2>/dev/null
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/token"
chmod 600 "$WORK/token" "$WORK/server.key"
PORT=$((20000 + RANDOM % 20000))
mkdir -p "$WORK/server-replicas"
"$BIN/vmrepd" --store "$WORK/server-store" --socket "$WORK/run/server.sock" --log-level warn \
	--listen "127.0.0.1:$PORT" --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" \
	--token-file "$WORK/token" --replica-root "$WORK/server-replicas" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do VMREP_SOCKET=$WORK/run/server.sock "$BIN/vmrep" vg list >/dev/null 2>&1 && break; sleep 0.1; done
run "$BIN/vmrep" replicate web@1 --to "127.0.0.1:$PORT" --token-file token --ca server.pem --materialize web
run "$BIN/vmrep" replicate web@2 --to "127.0.0.1:$PORT" --token-file token --ca server.pem --materialize web
run cmp "server-replicas/web/$BOOT_ID.img" disk0-v2.img
echo "server's replica == web@2; the second replication sent only the changed chunks"
VMREP_SOCKET=$WORK/run/server.sock run "$BIN/vmrep" snapshot list web
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=
# ---- end of replication server ----------------------------------------------

# ---- a replica that boots --------------------------------------------------
step "the sample VM (Debian, SYSLINUX, a data volume at /data): replicated, changed, booted from the replica"
SAMPLE=$("$ROOT/scripts/sample-vm.sh")
cp --sparse=always "$SAMPLE/boot.img" vm-boot.img
cp --sparse=always "$SAMPLE/data.img" vm-data.img
run "$BIN/vmrep" vg create vm --boot vm-boot.img --data data=vm-data.img
run "$BIN/vmrep" snapshot create vm
run "$BIN/vmrep" replica create vm@1 --dir vm-replica
printf 'hello from VM2\n' >hello.txt
debugfs -w -R "rm hello.txt" vm-data.img >/dev/null 2>&1
debugfs -w -R "write hello.txt hello.txt" vm-data.img >/dev/null 2>&1
echo "data volume: /hello.txt now says 'hello from VM2'"
run "$BIN/vmrep" snapshot create vm
run "$BIN/vmrep" replica create --at vm@2 --dir vm-replica
run "$BIN/vmrep" launch --test vm@2 --replica vm-replica --ready 'vmrep-sample: ready' --timeout 5m \
	--check 'cat /data/hello.txt' --check 'cat /sys/block/vdb/serial' | tee launch.out
grep -q '^  hello from VM2$' launch.out || { echo "demo: the booted replica does not show VM2's file" >&2; exit 1; }
echo "the replica booted, and the guest reads VM2's file from its data volume"
# ---- end of a replica that boots ---------------------------------------------

step "delete web@1 and collect what no snapshot needs any more"
run "$BIN/vmrep" snapshot delete web@1
run "$BIN/vmrep" gc
run "$BIN/vmrep" verify --read-data

step "stopping vmrepd"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
DAEMON_PID=
echo "demo done"
