package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testdisk"
	"github.com/vmrep/vmrep/internal/testminio"
)

// TestReplicateThroughObjectStorageToBlockDevices is claims 14–17 end to
// end: the source daemon (the replication plugin) takes snapshots and
// pushes them to a replication server whose store lives in an
// S3-compatible bucket, so they land in object storage first; the server
// then writes them from there onto block devices (loop devices the
// operator linked into the replica directory), creating the replicated
// volume group, first whole and then moved forward by a delta.
func TestReplicateThroughObjectStorageToBlockDevices(t *testing.T) {
	testdisk.NeedRoot(t)
	testdisk.Need(t, "losetup", "mkfs.ext4", "debugfs")
	ctx := context.Background()
	mc := testminio.Start(t, "vmrep-repl")
	t.Setenv("VMREP_S3_ACCESS_KEY", mc.AccessKey) // the daemons inherit it
	t.Setenv("VMREP_S3_SECRET_KEY", mc.SecretKey)
	const prefix = "server"
	backend := "s3://" + mc.Bucket + "/" + prefix + "?endpoint=" + mc.Endpoint + "&secure=false"

	src := newDaemon(t)
	pki := newReplPKI(t, t.TempDir())
	root := filepath.Join(t.TempDir(), "replicas")
	srv, addr := newReplServer(t, pki, "--replica-root", root, "--backend", backend)
	replicate := func(ref string) api.ReplicateResult {
		var r api.ReplicateResult
		src.okJSONResult(&r, "replicate", ref, "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile,
			"--materialize", "web")
		return r
	}

	boot, data := s3SourceImages(t, src)
	src.ok("vg", "create", "web", "--boot", boot, "--data", "db="+data)
	src.ok("snapshot", "create", "web")
	vg, err := src.client(t).GetVG(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	// The operator's block storage: one loop device per volume, sized to
	// it and full of bytes that are not the volume's, linked from the
	// replica directory under the names materialize writes.
	replica := filepath.Join(root, "web")
	if err := os.MkdirAll(replica, 0o755); err != nil {
		t.Fatal(err)
	}
	devs := map[string]string{} // volume name → /dev/loopN
	for _, v := range vg.Volumes {
		devs[v.Name] = loopDevice(t, v.Size)
		if err := os.Symlink(devs[v.Name], filepath.Join(replica, v.ID+".img")); err != nil {
			t.Fatal(err)
		}
	}
	want1 := map[string]string{"boot": filepath.Join(src.dir, "boot1.img"), "db": filepath.Join(src.dir, "data1.img")}
	copyFile(t, boot, want1["boot"])
	copyFile(t, data, want1["db"])

	for _, v := range vg.Volumes { // so that equal bytes later mean written
		if deviceDiff(t, devs[v.Name], want1[v.Name], v.Size) < 0 {
			t.Fatalf("%s already holds volume %s", devs[v.Name], v.Name)
		}
	}

	r1 := replicate("web@1")
	if !r1.Committed || r1.SentBlobs == 0 || r1.SentBlobs != r1.Blobs {
		t.Fatalf("first replication: %+v", r1)
	}
	packs1 := bucketPacks(t, mc, prefix, srv)
	for _, v := range vg.Volumes {
		sameDevice(t, devs[v.Name], want1[v.Name], v.Size)
	}

	// web@2: a new file inside the ext4 boot image, 512 KiB of the data
	// image rewritten and 1 MiB of it zeroed, so the delta has both.
	rng := rand.New(rand.NewPCG(14, 17))
	newFile := filepath.Join(src.dir, "new.bin")
	if err := os.WriteFile(newFile, testdisk.Content(rng, 0, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testdisk.Debugfs(ctx, boot, "write "+newFile+" added.bin"); err != nil {
		t.Fatal(err)
	}
	patchFile(t, data, 1<<20, testdisk.Content(rng, 0, 512<<10))
	patchFile(t, data, 3<<20, make([]byte, 1<<20))
	src.ok("snapshot", "create", "web")

	r2 := replicate("web@2")
	if !r2.Committed || r2.SentBlobs == 0 || r2.SkippedBlobs == 0 || r2.SentBytes*2 > r1.SentBytes {
		t.Fatalf("second replication sent %d bytes in %d blobs, skipped %d (first sent %d)",
			r2.SentBytes, r2.SentBlobs, r2.SkippedBlobs, r1.SentBytes)
	}
	t.Logf("web@1: %+v\nweb@2: %+v", r1, r2)
	packs2 := bucketPacks(t, mc, prefix, srv)
	if len(packs2) <= len(packs1) {
		t.Errorf("web@2 added no pack to the bucket: %d then %d", len(packs1), len(packs2))
	}
	for k := range packs1 {
		if _, ok := packs2[k]; !ok {
			t.Errorf("pack %s of web@1 is gone from the bucket", k)
		}
	}
	if log := srv.log.String(); !strings.Contains(log, "how=full") || !strings.Contains(log, "how=delta") {
		t.Errorf("the second materialize did not move the devices with a delta:\n%s", srv.log)
	}
	for _, v := range vg.Volumes {
		fi, err := os.Lstat(filepath.Join(replica, v.ID+".img"))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("replica entry of %s is no longer the link to %s: %v %v", v.Name, devs[v.Name], fi, err)
		}
	}
	want2 := map[string]string{"boot": boot, "db": data}
	for _, v := range vg.Volumes {
		sameDevice(t, devs[v.Name], want2[v.Name], v.Size)
	}
	// Every pack the server reads back from the bucket is whole.
	srv.ok("verify", "--read-data")
}

// s3SourceImages writes the source VM's disks: an ext4 boot image and a
// raw data image whose size is not a multiple of 64 KiB.
func s3SourceImages(t *testing.T, d *testDaemon) (boot, data string) {
	t.Helper()
	tree := filepath.Join(d.dir, "tree")
	if _, err := testdisk.Tree(tree, testdisk.TreeSpec{Seed: 14, Files: 40, Bytes: 6 << 20}); err != nil {
		t.Fatal(err)
	}
	boot, data = filepath.Join(d.dir, "web-boot.img"), filepath.Join(d.dir, "web-data.img")
	if err := testdisk.Ext4(context.Background(), boot, tree, 24); err != nil {
		t.Fatal(err)
	}
	writeImage(t, data, 8<<20+4096*5, 15)
	return boot, data
}

// loopDevice attaches a file of size bytes, filled with a non-zero pattern
// so that unwritten or unzeroed ranges show, and detaches it at cleanup.
func loopDevice(t *testing.T, size int64) string {
	t.Helper()
	if size%512 != 0 {
		t.Fatalf("volume size %d is not a multiple of the loop device's 512-byte sectors", size)
	}
	f, err := os.CreateTemp(t.TempDir(), "blockdev-*.img")
	if err != nil {
		t.Fatal(err)
	}
	fill := bytes.Repeat([]byte{0xa5}, 1<<20)
	for off := int64(0); off < size; off += int64(len(fill)) {
		if _, err := f.WriteAt(fill[:min(int64(len(fill)), size-off)], off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", f.Name()).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup -f --show %s: %v: %s", f.Name(), err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

// sameDevice checks the first size bytes of a block device equal a file of
// exactly that size.
func sameDevice(t *testing.T, dev, want string, size int64) {
	t.Helper()
	if at := deviceDiff(t, dev, want, size); at >= 0 {
		t.Fatalf("%s differs from %s at byte %d of %d", dev, want, at, size)
	}
}

// deviceDiff compares the first size bytes of a block device with a file of
// exactly that size and returns the first differing offset, or -1.
func deviceDiff(t *testing.T, dev, want string, size int64) int64 {
	t.Helper()
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(w)) != size {
		t.Fatalf("%s is %d bytes, the volume %d", want, len(w), size)
	}
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, size)
	if _, err := io.ReadFull(f, got); err != nil {
		t.Fatalf("read %d bytes of %s: %v", size, dev, err)
	}
	if bytes.Equal(got, w) {
		return -1
	}
	i := 0
	for got[i] == w[i] {
		i++
	}
	return int64(i)
}

// bucketPacks lists the pack objects of the server's store in the bucket
// and checks the store directory holds none: its packs are in object
// storage only.
func bucketPacks(t *testing.T, mc testminio.Server, prefix string, srv *testDaemon) map[string]int64 {
	t.Helper()
	objs, err := mc.Objects(context.Background(), prefix+"/")
	if err != nil {
		t.Fatal(err)
	}
	packs := map[string]int64{}
	for k, n := range objs {
		if strings.HasPrefix(k, prefix+"/packs/") && strings.HasSuffix(k, ".pack") {
			packs[k] = n
		}
	}
	if _, ok := objs[prefix+"/config"]; !ok || len(packs) == 0 {
		t.Fatalf("bucket holds no store config or no packs under %s/: %v", prefix, objs)
	}
	hasSnapshot := false
	for k := range objs {
		hasSnapshot = hasSnapshot || strings.HasPrefix(k, prefix+"/records/snapshots/")
	}
	if !hasSnapshot {
		t.Errorf("bucket holds no snapshot record: %v", objs)
	}
	err = filepath.WalkDir(filepath.Join(srv.store, "packs"), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.SkipDir
		}
		if err == nil && !d.IsDir() {
			t.Errorf("server store directory holds %s; its packs belong in the bucket", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return packs
}

// patchFile writes b at off in path.
func patchFile(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
