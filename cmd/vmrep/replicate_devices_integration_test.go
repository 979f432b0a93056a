package main

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// TestReplicateDevices: replicate --materialize --device has the server
// write volumes into block devices named in its --device-root (loop
// devices here, linked as /dev/oracleoci links its attached volumes), the
// first time whole, then by the delta in place, each device read back; and
// every request that names a device the operator did not expose there is
// refused with nothing written.
func TestReplicateDevices(t *testing.T) {
	testdisk.NeedRoot(t)
	testdisk.Need(t, "losetup", "mkfs.ext4", "debugfs")
	ctx := context.Background()
	src := newDaemon(t)
	pki := newReplPKI(t, t.TempDir())
	root := filepath.Join(t.TempDir(), "replicas")
	devRoot := filepath.Join(t.TempDir(), "oracleoci")
	if err := os.MkdirAll(filepath.Join(devRoot, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, addr := newReplServer(t, pki, "--replica-root", root, "--device-root", devRoot)
	_, addrNoDev := newReplServer(t, pki, "--replica-root", filepath.Join(t.TempDir(), "replicas"))

	boot, data := s3SourceImages(t, src)
	src.ok("vg", "create", "web", "--boot", boot, "--data", "db="+data)
	src.ok("snapshot", "create", "web")
	vg, err := src.client(t).GetVG(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	devs := map[string]string{}  // volume name → /dev/loopN
	links := map[string]string{} // volume name → DEVROOT/oraclevdX
	for i, v := range vg.Volumes {
		ids[v.Name] = v.ID
		devs[v.Name] = loopDevice(t, v.Size)
		links[v.Name] = filepath.Join(devRoot, "oraclevd"+string(rune('b'+i)))
		if err := os.Symlink(devs[v.Name], links[v.Name]); err != nil {
			t.Fatal(err)
		}
	}
	want1 := map[string]string{"boot": filepath.Join(src.dir, "boot1.img"), "db": filepath.Join(src.dir, "data1.img")}
	copyFile(t, boot, want1["boot"])
	copyFile(t, data, want1["db"])

	base := func(to, ref string) []string {
		return []string{"replicate", ref, "--to", to, "--token-file", pki.tokenFile, "--ca", pki.caFile}
	}
	bind := func(name, path string) string { return ids[name] + "=" + path }

	// Refusals. Each must leave every device as it was (still the fill).
	held := loopDevice(t, 1<<20)
	heldLink := filepath.Join(devRoot, "oraclevdz")
	if err := os.Symlink(held, heldLink); err != nil {
		t.Fatal(err)
	}
	hf, err := os.OpenFile(held, os.O_RDONLY|syscall.O_EXCL, 0) // held, as a mounted disk is
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	plain := filepath.Join(devRoot, "plain")
	if err := os.WriteFile(plain, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(devs["db"], filepath.Join(devRoot, "sub", "x")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no device root", append(base(addrNoDev, "web@1"), "--materialize", "web", "--device", bind("db", links["db"])), 1, "no device root"},
		{"outside the root", append(base(addr, "web@1"), "--materialize", "web", "--device", bind("db", devs["db"])), 1, "not an entry of the device root"},
		{"dot-dot", append(base(addr, "web@1"), "--materialize", "web", "--device", bind("db", devRoot+"/sub/../oraclevdc")), 1, "not an entry of the device root"},
		{"subdirectory", append(base(addr, "web@1"), "--materialize", "web", "--device", bind("db", filepath.Join(devRoot, "sub", "x"))), 1, "not an entry of the device root"},
		{"not a block device", append(base(addr, "web@1"), "--materialize", "web", "--device", bind("db", plain)), 1, "not a block device"},
		{"in use", append(base(addr, "web@1"), "--materialize", "web", "--device", bind("db", heldLink)), 1, "in use"},
		{"one device twice", append(base(addr, "web@1"), "--materialize", "web", "--device", bind("db", links["db"]), "--device", bind("boot", links["db"])), 1, "a device backs one volume"},
		{"not a volume", append(base(addr, "web@1"), "--materialize", "web", "--device", "vol-00000000000000aa="+links["db"]), 1, "has no volume"},
		{"without materialize", append(base(addr, "web@1"), "--device", bind("db", links["db"])), 2, "--device goes with --materialize"},
		{"bad form", append(base(addr, "web@1"), "--materialize", "web", "--device", links["db"]), 2, "want VOLUME-ID=PATH"},
	} {
		r := src.vmrep(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", c.name, r.code, r.stderr, c.code, c.want)
		}
	}
	for _, v := range vg.Volumes {
		if deviceDiff(t, devs[v.Name], want1[v.Name], v.Size) < 0 {
			t.Fatalf("a refused request wrote %s", devs[v.Name])
		}
	}
	// A replica whose volume is a file is not silently turned into a device.
	src.ok(append(base(addr, "web@1"), "--materialize", "files")...)
	if r := src.vmrep(append(base(addr, "web@1"), "--materialize", "files", "--device", bind("db", links["db"]))...); r.code != 1 || !strings.Contains(r.stderr, "is a file") {
		t.Errorf("device over a file volume: exit %d, %q", r.code, r.stderr)
	}

	// web@1 whole into both devices.
	var r1 api.ReplicateResult
	src.okJSONResult(&r1, append(base(addr, "web@1"), "--materialize", "web",
		"--device", bind("boot", links["boot"]), "--device", bind("db", links["db"]))...)
	if r1.Replica == nil || len(r1.Replica.Devices) != 2 {
		t.Fatalf("first hydration: %+v", r1.Replica)
	}
	for _, d := range r1.Replica.Devices {
		if d.How != api.DeviceFull || !d.Verified || d.WrittenBytes == 0 {
			t.Errorf("first hydration of %s: %+v", d.Name, d)
		}
	}
	for _, v := range vg.Volumes {
		sameDevice(t, devs[v.Name], want1[v.Name], v.Size)
	}
	// A request that names no device does not write through the links
	// a device request left (their checks are made only when named).
	if r := src.vmrep(append(base(addr, "web@1"), "--materialize", "web")...); r.code != 1 || !strings.Contains(r.stderr, "is bound to device") {
		t.Errorf("materialize without devices into a device replica: exit %d, %q", r.code, r.stderr)
	}

	// web@2: the data image changes; only db is bound, boot is not touched.
	rng := rand.New(rand.NewPCG(4, 17))
	patchFile(t, data, 1<<20, testdisk.Content(rng, 0, 512<<10))
	src.ok("snapshot", "create", "web")
	var r2 api.ReplicateResult
	src.okJSONResult(&r2, append(base(addr, "web@2"), "--materialize", "web", "--device", bind("db", links["db"]))...)
	if r2.Replica == nil || len(r2.Replica.Devices) != 1 {
		t.Fatalf("delta hydration: %+v", r2.Replica)
	}
	d := r2.Replica.Devices[0]
	if d.How != api.DeviceDelta || d.From != 1 || !d.Verified || d.WrittenBytes == 0 || d.WrittenBytes > 2<<20 {
		t.Errorf("db moved to web@2: %+v", d)
	}
	sameDevice(t, devs["db"], data, vg.Volumes[1].Size)
	sameDevice(t, devs["boot"], want1["boot"], vg.Volumes[0].Size)

	// Again: the device is current and only read back.
	var r3 api.ReplicateResult
	src.okJSONResult(&r3, append(base(addr, "web@2"), "--materialize", "web", "--device", bind("db", links["db"]))...)
	if d := r3.Replica.Devices[0]; d.How != api.DeviceCurrent || d.WrittenBytes != 0 || !d.Verified {
		t.Errorf("current device: %+v", d)
	}
	// A device swapped under the same name (a fresh volume attached) is
	// not trusted: its read-back fails and it is written whole.
	fresh := loopDevice(t, vg.Volumes[1].Size)
	if err := os.Remove(links["db"]); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fresh, links["db"]); err != nil {
		t.Fatal(err)
	}
	var r4 api.ReplicateResult
	src.okJSONResult(&r4, append(base(addr, "web@2"), "--materialize", "web", "--device", bind("db", links["db"]))...)
	if d := r4.Replica.Devices[0]; d.How != api.DeviceFull || !d.Verified {
		t.Errorf("swapped device: %+v", d)
	}
	sameDevice(t, fresh, data, vg.Volumes[1].Size)

	// web@3 into yet another fresh device under the name: the state says
	// web@2, so the delta web@2..web@3 is tried; its ranges hold neither
	// web@2's nor web@3's bytes, so it is refused before any write, and
	// the volume is written whole.
	patchFile(t, data, 5<<20, testdisk.Content(rng, 0, 64<<10))
	src.ok("snapshot", "create", "web")
	fresh2 := loopDevice(t, vg.Volumes[1].Size)
	if err := os.Remove(links["db"]); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fresh2, links["db"]); err != nil {
		t.Fatal(err)
	}
	var r5 api.ReplicateResult
	src.okJSONResult(&r5, append(base(addr, "web@3"), "--materialize", "web", "--device", bind("db", links["db"]))...)
	if d := r5.Replica.Devices[0]; d.How != api.DeviceFull || !d.Verified || !strings.Contains(d.Note, "delta refused") {
		t.Errorf("device not at the delta's base: %+v", d)
	}
	sameDevice(t, fresh2, data, vg.Volumes[1].Size)
}
