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
// a second vmrepd (on loopback, not in a network namespace) with its store
// in the bucket and a device root; the hydration and power steps are read
// from the stacks `vmrep stack generate --target oci` writes and run as
// OpenTofu would, with only the attach/detach command replaced by a shim.
// VM1 is hydrated by the first stack, VM2 by the delta stack in place:
// only the changed volumes' steps run, inside a stop and a start, and the
// server moves them by the delta. After each, every volume, the boot
// volume too, is compared with cmp against vmrep restore of the snapshot.
func TestTenancyRehearsal(t *testing.T) {
	testdisk.NeedRoot(t)
	testdisk.Need(t, "losetup", "mkfs.ext4", "debugfs", "cmp")
	ctx := context.Background()
	mc := testminio.Start(t, "vmrep-tenancy")
	t.Setenv("VMREP_S3_ACCESS_KEY", mc.AccessKey)
	t.Setenv("VMREP_S3_SECRET_KEY", mc.SecretKey)
	backend := "s3://" + mc.Bucket + "/store?endpoint=" + mc.Endpoint + "&secure=false"

	src := newDaemon(t)
	pki := newReplPKI(t, t.TempDir())
	devRoot := filepath.Join(t.TempDir(), "oracleoci")
	if err := os.Mkdir(devRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, addr := newReplServer(t, pki, "--replica-root", filepath.Join(t.TempDir(), "replicas"),
		"--device-root", devRoot, "--backend", backend)

	boot, data := s3SourceImages(t, src)
	logs := filepath.Join(src.dir, "web-logs.img")
	writeImage(t, logs, 4<<20, 21)
	src.ok("vg", "create", "web", "--boot", boot, "--data", "db="+data, "--data", "logs="+logs)
	src.ok("snapshot", "create", "web")
	vg, err := src.client(t).GetVG(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}

	// The tenancy's block volumes, each full of bytes that are not the
	// volume's (a boot volume starts as a clone of another).
	vols := filepath.Join(t.TempDir(), "volumes")
	if err := os.Mkdir(vols, 0o755); err != nil {
		t.Fatal(err)
	}
	shim := filepath.Join(t.TempDir(), "shim.sh")
	if err := os.WriteFile(shim, []byte(rehearsalShim), 0o755); err != nil {
		t.Fatal(err)
	}
	shimLog := filepath.Join(t.TempDir(), "shim.log")
	ocids := map[string]string{"oci_core_instance." + vg.ID: "ocid1.instance.rehearsal.web"}
	volFile := map[string]string{} // volume name → the block volume's file
	for _, v := range vg.Volumes {
		typ, kind := "oci_core_volume", "volume"
		if v.Role == "boot" {
			typ, kind = "oci_core_boot_volume", "bootvolume"
		}
		id := "ocid1." + kind + ".rehearsal." + v.ID
		ocids[typ+"."+v.ID] = id
		volFile[v.Name] = filepath.Join(vols, id)
		fillFile(t, volFile[v.Name], v.Size, (v.Size+2<<20)&^(1<<20-1))
	}
	vars := map[string]cty.Value{
		"server_address": cty.StringVal(addr), "server_token_file": cty.StringVal(pki.tokenFile),
		"server_ca_file": cty.StringVal(pki.caFile), "server_name": cty.StringVal(""),
		"server_instance_ocid": cty.StringVal("ocid1.instance.rehearsal.server"),
		"server_device_root":   cty.StringVal(devRoot),
		"vmrep_bin":            cty.StringVal(filepath.Join(binDir, "vmrep")), "socket": cty.StringVal(src.socket),
		"volume_command":   cty.ListVal([]cty.Value{cty.StringVal("sh"), cty.StringVal(shim)}),
		"compartment_ocid": cty.StringVal("ocid1.compartment.rehearsal"), "availability_domain": cty.StringVal("AD-1"),
	}
	run := func(s stackStep) string {
		t.Helper()
		cmd := exec.Command(s.argv[0], s.argv[1:]...)
		cmd.Env = append(os.Environ(), "SHIM_LOG="+shimLog, "SHIM_VOLS="+vols)
		for k, v := range s.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("step %q: %v\n%s\nserver log:\n%s", s.argv, err, out, srv.log)
		}
		return string(out)
	}
	// check compares every block volume, through a read-only loop device,
	// with the server's restore of its volume at ref.
	check := func(ref string) {
		t.Helper()
		for _, v := range vg.Volumes {
			want := filepath.Join(t.TempDir(), v.Name+".img")
			srv.ok("restore", ref, "--volume", v.Name, "-o", want)
			out, err := exec.Command("losetup", "-r", "-f", "--show", volFile[v.Name]).CombinedOutput()
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
	}

	// VM1: the first stack, every step.
	stack := filepath.Join(t.TempDir(), "stack")
	src.ok("stack", "generate", "web@1", "--target", "oci", "--out", stack)
	first := ociStackSteps(t, stack, vars, ocids)
	var hydrated []string
	for _, r := range first {
		for _, s := range r.create {
			out := run(s)
			if strings.HasSuffix(r.name, "-hydrate") && len(s.argv) > 1 && slicesContains(s.argv, "replicate") {
				hydrated = append(hydrated, r.name)
				if !strings.Contains(out, " full, ") {
					t.Errorf("%s: first hydration not written whole:\n%s", r.name, out)
				}
			}
		}
	}
	if len(hydrated) != len(vg.Volumes) {
		t.Fatalf("first stack hydrated %v, want all %d volumes", hydrated, len(vg.Volumes))
	}
	check("web@1")
	if ents, _ := os.ReadDir(devRoot); len(ents) != 0 {
		t.Fatalf("volumes still attached to the server after the first stack: %v", ents)
	}

	// VM2: the boot volume and db change, logs does not.
	newFile := filepath.Join(src.dir, "new.bin")
	rng := rand.New(rand.NewPCG(17, 17))
	if err := os.WriteFile(newFile, testdisk.Content(rng, 0, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testdisk.Debugfs(ctx, boot, "write "+newFile+" vm2.bin"); err != nil {
		t.Fatal(err)
	}
	patchFile(t, data, 2<<20, testdisk.Content(rng, 0, 256<<10))
	src.ok("snapshot", "create", "web")
	dl := filepath.Join(src.dir, "web-1-2.vmdelta")
	src.ok("delta", "export", "web@1", "web@2", "-o", dl)
	src.ok("stack", "generate", "web@1..web@2", "--delta", dl, "--target", "oci", "--out", stack)
	second := ociStackSteps(t, stack, vars, ocids)
	if err := os.WriteFile(shimLog, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// What the plan replaces: the resources whose trigger changed. The
	// old power step is destroyed first (it depends on every step), the
	// new one created last.
	was := map[string]stackResource{}
	for _, r := range first {
		was[r.name] = r
	}
	power := vg.ID + "-power"
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
	ids := map[string]string{}
	for _, v := range vg.Volumes {
		ids[v.Name] = v.ID
	}
	if want := []string{ids["boot"] + "-hydrate", ids["db"] + "-hydrate"}; strings.Join(replaced, " ") != strings.Join(want, " ") {
		t.Errorf("the delta stack replaced %v, want %v (logs did not change)", replaced, want)
	}
	calls, err := os.ReadFile(shimLog)
	if err != nil {
		t.Fatal(err)
	}
	var verbs []string
	for _, l := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
		verbs = append(verbs, strings.Fields(l)[0])
	}
	if got, want := strings.Join(verbs, " "), "stop boot-detach attach detach boot-attach attach detach start"; got != want {
		t.Errorf("volume commands of the delta stack: %s\nwant %s", got, want)
	}
	check("web@2")
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
