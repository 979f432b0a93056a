package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testdisk"
	"github.com/vmrep/vmrep/internal/testminio"
)

// rehearsalShim stands in for oci-volumes.sh, the one command of an oci
// stack that needs a tenancy. A block volume is a file named by its OCID
// in $SHIM_VOLS; attach does what OCI and udev do on the server: the
// volume appears as a block device (a loop device of the file) at the
// consistent path the attachment names (a link in the server's device
// root); detach removes both. Stop, start and the boot volume's detach and
// attach have no machine to act on here: they are only logged, so the
// test can check their order.
const rehearsalShim = `#!/bin/sh
set -eu
echo "$*" >> "$SHIM_LOG"
case $1 in
attach)
	dev=$(losetup -f --show "$SHIM_VOLS/$3")
	ln -s "$dev" "$4"
	echo "$4" > "$SHIM_VOLS/$3.link" ;;
detach)
	link=$(cat "$SHIM_VOLS/$3.link")
	dev=$(readlink "$link")
	rm "$link" "$SHIM_VOLS/$3.link"
	losetup -d "$dev" ;;
stop|start|boot-detach|boot-attach) ;;
*) echo "shim: unknown verb $1" >&2; exit 2 ;;
esac
`

// TestTenancyRehearsal rehearses the tenancy flow of the oci target on
// this machine (design.md, "The tenancy flow"): block volumes are files
// behind loop devices, object storage is MinIO, the replication server is
// a second vmrepd in a network namespace of its own (loopback where one
// cannot be made) with its store in the bucket and a device root; the hydration and power steps are read
// from the stacks `vmrep stack generate --target oci` writes and run as
// OpenTofu would, with only the attach/detach command replaced by a shim.
// VM1 is hydrated by the first stack, VM2 by the delta stack in place:
// only the changed volumes' steps run, inside a stop and a start, and the
// server moves them by the delta. After each, every volume, the boot
// volume too, is compared with cmp against vmrep restore of the snapshot.
// tenancy is the rehearsal's stand-in for a tenancy and its source: a
// source vmrepd with VG web (boot, db, logs) at web@1, a replication
// server with its store in MinIO and a device root, a block volume file
// per volume named by the OCID the stack gives it, and the shim.
type tenancy struct {
	t               *testing.T
	src, srv        *testDaemon
	boot, data      string
	vg              api.VG
	vols, shim, log string
	devRoot         string
	volFile, ids    map[string]string // by volume name
	ocids           map[string]string // OCI resource address → OCID
	vars            map[string]cty.Value
	netns           bool // the server runs in a network namespace of its own
}

// fakeOCID is the OCID the fake oci provider gives a resource of type typ
// holding vmrep volume (or named) name.
func fakeOCID(typ, name string) string { return "ocid1." + typ + ".fake." + name }

func newTenancy(t *testing.T) *tenancy {
	t.Helper()
	testdisk.NeedRoot(t)
	testdisk.Need(t, "losetup", "mkfs.ext4", "debugfs", "cmp")
	ctx := context.Background()
	mc := testminio.Start(t, "vmrep-tenancy")
	t.Setenv("VMREP_S3_ACCESS_KEY", mc.AccessKey)
	t.Setenv("VMREP_S3_SECRET_KEY", mc.SecretKey)
	ns := newServerNetns(t)
	endpoint := mc.Endpoint
	if ns != nil {
		endpoint = ns.forward(t, mc.Endpoint)
	}
	backend := "s3://" + mc.Bucket + "/store?endpoint=" + endpoint + "&secure=false"

	tn := &tenancy{t: t, src: newDaemon(t), volFile: map[string]string{}, ids: map[string]string{}}
	pki := newReplPKI(t, t.TempDir())
	tn.devRoot = filepath.Join(t.TempDir(), "oracleoci")
	if err := os.Mkdir(tn.devRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	serverFlags := []string{"--tls-cert", pki.certFile, "--tls-key", pki.keyFile, "--token-file", pki.tokenFile,
		"--replica-root", filepath.Join(t.TempDir(), "replicas"), "--device-root", tn.devRoot, "--backend", backend}
	serverName := ""
	if ns != nil {
		// Its own host: reached at its address, its certificate (made for
		// localhost) checked under that name.
		tn.srv = ns.newDaemonIn(t, append([]string{"--listen", ns.nsIP + ":0"}, serverFlags...)...)
		serverName = "localhost"
	} else {
		tn.srv = newDaemon(t, append([]string{"--listen", "127.0.0.1:0"}, serverFlags...)...)
	}
	addr := replAddr(t, tn.srv)
	tn.netns = ns != nil
	if tn.netns {
		t.Logf("replication server at %s in network namespace %s", addr, ns.name)
	} else {
		t.Logf("replication server at %s on loopback", addr)
	}

	tn.boot, tn.data = s3SourceImages(t, tn.src)
	logs := filepath.Join(tn.src.dir, "web-logs.img")
	writeImage(t, logs, 4<<20, 21)
	tn.src.ok("vg", "create", "web", "--boot", tn.boot, "--data", "db="+tn.data, "--data", "logs="+logs)
	tn.src.ok("snapshot", "create", "web")
	var err error
	if tn.vg, err = tn.src.client(t).GetVG(ctx, "web"); err != nil {
		t.Fatal(err)
	}

	// The tenancy's block volumes, each full of bytes that are not the
	// volume's (a boot volume starts as a clone of another).
	tn.vols = filepath.Join(t.TempDir(), "volumes")
	if err := os.Mkdir(tn.vols, 0o755); err != nil {
		t.Fatal(err)
	}
	tn.shim = filepath.Join(t.TempDir(), "shim.sh")
	if err := os.WriteFile(tn.shim, []byte(rehearsalShim), 0o755); err != nil {
		t.Fatal(err)
	}
	tn.log = filepath.Join(t.TempDir(), "shim.log")
	tn.ocids = map[string]string{"oci_core_instance." + tn.vg.ID: fakeOCID("oci_core_instance", "web")}
	for _, v := range tn.vg.Volumes {
		typ := "oci_core_volume"
		if v.Role == "boot" {
			typ = "oci_core_boot_volume"
		}
		id := fakeOCID(typ, v.ID)
		tn.ocids[typ+"."+v.ID] = id
		tn.ids[v.Name] = v.ID
		tn.volFile[v.Name] = filepath.Join(tn.vols, id)
		fillFile(t, tn.volFile[v.Name], v.Size, (v.Size+2<<20)&^(1<<20-1))
	}
	tn.vars = map[string]cty.Value{
		"server_address": cty.StringVal(addr), "server_token_file": cty.StringVal(pki.tokenFile),
		"server_ca_file": cty.StringVal(pki.caFile), "server_name": cty.StringVal(serverName),
		"server_instance_ocid": cty.StringVal("ocid1.instance.rehearsal.server"),
		"server_device_root":   cty.StringVal(tn.devRoot),
		"vmrep_bin":            cty.StringVal(filepath.Join(binDir, "vmrep")), "socket": cty.StringVal(tn.src.socket),
		"volume_command":   cty.ListVal([]cty.Value{cty.StringVal("sh"), cty.StringVal(tn.shim)}),
		"compartment_ocid": cty.StringVal("ocid1.compartment.rehearsal"), "availability_domain": cty.StringVal("AD-1"),
	}
	return tn
}

// env is what the shim reads, for the processes that run it.
func (tn *tenancy) env() []string { return []string{"SHIM_LOG=" + tn.log, "SHIM_VOLS=" + tn.vols} }

// check compares every block volume, through a read-only loop device,
// with the server's restore of its volume at ref.
func (tn *tenancy) check(ref string) {
	t := tn.t
	t.Helper()
	for _, v := range tn.vg.Volumes {
		want := filepath.Join(t.TempDir(), v.Name+".img")
		tn.srv.ok("restore", ref, "--volume", v.Name, "-o", want)
		out, err := exec.Command("losetup", "-r", "-f", "--show", tn.volFile[v.Name]).CombinedOutput()
		if err != nil {
			t.Fatalf("losetup: %v: %s", err, out)
		}
		dev := strings.TrimSpace(string(out))
		cmp, err := exec.Command("cmp", "-n", fmt.Sprint(v.Size), dev, want).CombinedOutput()
		exec.Command("losetup", "-d", dev).Run()
		if err != nil {
			t.Fatalf("%s: volume %s of %s differs: %v: %s", dev, v.Name, ref, err, cmp)
		}
	}
	if ents, _ := os.ReadDir(tn.devRoot); len(ents) != 0 {
		t.Fatalf("volumes still attached to the server: %v", ents)
	}
}

// verbs returns the shim's calls since the last call, by verb, and
// empties its log.
func (tn *tenancy) verbs() string {
	t := tn.t
	t.Helper()
	calls, err := os.ReadFile(tn.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var verbs []string
	for _, l := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			verbs = append(verbs, f[0])
		}
	}
	if err := os.WriteFile(tn.log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.Join(verbs, " ")
}

// changeBoot writes a new file into the ext4 boot image.
func (tn *tenancy) changeBoot(name string, seed uint64) {
	t := tn.t
	t.Helper()
	f := filepath.Join(tn.src.dir, name)
	if err := os.WriteFile(f, testdisk.Content(rand.New(rand.NewPCG(seed, seed)), 0, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testdisk.Debugfs(context.Background(), tn.boot, "write "+f+" "+name); err != nil {
		t.Fatal(err)
	}
}

// TestTenancyRehearsal rehearses the tenancy flow of the oci target on
// this machine (design.md, "The tenancy flow"): block volumes are files
// behind loop devices, object storage is MinIO, the replication server is
// a second vmrepd (on loopback, not in a network namespace) with its store
// in the bucket and a device root; the hydration and power steps are read
// from the stacks `vmrep stack generate --target oci` writes and run as
// OpenTofu would, with only the attach/detach command replaced by a shim.
// VM1 is hydrated by the first stack, VM2 by the delta stack in place:
// only the changed volumes' steps run, inside a stop and a start, and the
// server moves them by the delta. After each, every volume, the boot
// volume too, is compared with cmp against vmrep restore of the snapshot.
// TestTenancyRehearsalTofu runs the same stacks with tofu itself.
func TestTenancyRehearsal(t *testing.T) {
	tn := newTenancy(t)
	src := tn.src
	run := func(s stackStep) string {
		t.Helper()
		cmd := exec.Command(s.argv[0], s.argv[1:]...)
		cmd.Env = append(os.Environ(), tn.env()...)
		for k, v := range s.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("step %q: %v\n%s\nserver log:\n%s", s.argv, err, out, tn.srv.log)
		}
		return string(out)
	}

	// VM1: the first stack, every step.
	stack := filepath.Join(t.TempDir(), "stack")
	src.ok("stack", "generate", "web@1", "--target", "oci", "--out", stack)
	first := ociStackSteps(t, stack, tn.vars, tn.ocids)
	var hydrated []string
	for _, r := range first {
		for _, s := range r.create {
			out := run(s)
			if strings.HasSuffix(r.name, "-hydrate") && slicesContains(s.argv, "replicate") {
				hydrated = append(hydrated, r.name)
				if !strings.Contains(out, " full, ") {
					t.Errorf("%s: first hydration not written whole:\n%s", r.name, out)
				}
			}
		}
	}
	if len(hydrated) != len(tn.vg.Volumes) {
		t.Fatalf("first stack hydrated %v, want all %d volumes", hydrated, len(tn.vg.Volumes))
	}
	tn.check("web@1")
	tn.verbs()

	// VM2: the boot volume and db change, logs does not.
	tn.changeBoot("vm2.bin", 17)
	patchFile(t, tn.data, 2<<20, testdisk.Content(rand.New(rand.NewPCG(18, 18)), 0, 256<<10))
	src.ok("snapshot", "create", "web")
	dl := filepath.Join(src.dir, "web-1-2.vmdelta")
	src.ok("delta", "export", "web@1", "web@2", "-o", dl)
	src.ok("stack", "generate", "web@1..web@2", "--delta", dl, "--target", "oci", "--out", stack)
	second := ociStackSteps(t, stack, tn.vars, tn.ocids)
	// What the plan replaces: the resources whose trigger changed. The
	// old power step is destroyed first (it depends on every step), the
	// new one created last.
	was := map[string]stackResource{}
	for _, r := range first {
		was[r.name] = r
	}
	power := tn.vg.ID + "-power"
	for _, s := range was[power].destroy {
		run(s)
	}
	var replaced []string
	for _, r := range second {
		if r.trigger == was[r.name].trigger || r.name == power {
			continue
		}
		replaced = append(replaced, r.name)
		for _, s := range r.create {
			if out := run(s); slicesContains(s.argv, "replicate") && !strings.Contains(out, " delta from web@1") {
				t.Errorf("%s: not moved by the delta in place:\n%s", r.name, out)
			}
		}
	}
	for _, r := range second {
		if r.name == power {
			for _, s := range r.create {
				run(s)
			}
		}
	}
	if want := []string{tn.ids["boot"] + "-hydrate", tn.ids["db"] + "-hydrate"}; strings.Join(replaced, " ") != strings.Join(want, " ") {
		t.Errorf("the delta stack replaced %v, want %v (logs did not change)", replaced, want)
	}
	if got, want := tn.verbs(), "stop boot-detach attach detach boot-attach attach detach start"; got != want {
		t.Errorf("volume commands of the delta stack: %s\nwant %s", got, want)
	}
	tn.check("web@2")
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// fillFile makes a file of size bytes whose first n bytes are a pattern
// and the rest a hole.
func fillFile(t *testing.T, path string, n, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pat := make([]byte, 1<<20)
	for i := range pat {
		pat[i] = 0x5a
	}
	for off := int64(0); off < n; off += int64(len(pat)) {
		if _, err := f.WriteAt(pat[:min(int64(len(pat)), n-off)], off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}
