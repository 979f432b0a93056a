package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/internal/testminio"
)

// encMarkers are unique strings the test disk holds; encVG names its VG,
// so that the VG record holds that name.
var encMarkers = []string{"MARKER-8c1f0e9a-disk-one", "MARKER-51d7b2c4-disk-two", "MARKER-e04a93f6-disk-three"}

const encVG = "vgmarker5f2b"

// writeMarkerImage writes random bytes with each marker repeated at a few
// places, so that the markers lie in several chunks.
func writeMarkerImage(t *testing.T, path string, size int) {
	t.Helper()
	r := rand.New(rand.NewPCG(41, 42))
	img := make([]byte, size)
	for i := range img {
		img[i] = byte(r.Uint32())
	}
	for i, m := range encMarkers {
		for k := range 4 {
			copy(img[(i*4+k)*size/13+777:], m)
		}
	}
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
}

// scanBucket GETs every object under prefix and returns the markers (and
// the VG's name) it finds, with the object each is in.
func scanBucket(t *testing.T, mc testminio.Server, prefix string) (found []string, objects map[string]int64) {
	t.Helper()
	ctx := context.Background()
	objects, err := mc.Objects(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) < 3 {
		t.Fatalf("bucket holds only %v under %s", objects, prefix)
	}
	for key := range objects {
		b, err := mc.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range append(encMarkers, encVG) {
			if bytes.Contains(b, []byte(m)) || strings.Contains(key, m) {
				found = append(found, fmt.Sprintf("%s in %s", m, key))
			}
		}
	}
	return found, objects
}

// TestEncryptedBucketMarkerScan is issue 19's marker scan: a disk holding
// known markers is snapshotted by a daemon whose store lives in a MinIO
// bucket, with compression off; every object of the bucket is read back.
// Encrypted, no marker and not the VG's name shows in any object or key;
// plain, all show (so the scan is real). Then one bit is flipped in a pack
// object and in a record object of the encrypted store: verify --read-data
// reports both, and a restore that meets the pack fails cleanly.
func TestEncryptedBucketMarkerScan(t *testing.T) {
	ctx := context.Background()
	mc := testminio.Start(t, "vmrep-enc")
	t.Setenv("VMREP_S3_ACCESS_KEY", mc.AccessKey)
	t.Setenv("VMREP_S3_SECRET_KEY", mc.SecretKey)
	keyFile := filepath.Join(t.TempDir(), "kek")
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, encrypted := range []bool{false, true} {
		prefix := "plain"
		args := []string{"--compression", "none"}
		if encrypted {
			prefix = "sealed"
			args = append(args, "--encrypt", "--key-file", keyFile)
		}
		args = append(args, "--backend", "s3://"+mc.Bucket+"/"+prefix+"?endpoint="+mc.Endpoint+"&secure=false")
		d := newDaemon(t, args...)
		img := filepath.Join(d.dir, "disk.img")
		writeMarkerImage(t, img, 6<<20)
		d.ok("vg", "create", encVG, "--boot", img)
		d.ok("snapshot", "create", encVG)
		found, objects := scanBucket(t, mc, prefix+"/")
		t.Logf("%s: %d objects, markers found: %v", prefix, len(objects), found)
		if !encrypted {
			if len(found) < len(encMarkers)+1 {
				t.Fatalf("plain bucket shows only %v: the scan is not real", found)
			}
			d.stop()
			continue
		}
		if len(found) > 0 {
			t.Fatalf("encrypted bucket shows %v", found)
		}
		if out := d.ok("verify", "--read-data"); !strings.Contains(out, "no problems") {
			t.Fatalf("verify of the intact encrypted store:\n%s", out)
		}
		restored := filepath.Join(d.dir, "restored.img")
		d.ok("restore", encVG+"@1", "-o", restored)
		sameFile(t, img, restored)

		// One bit in the largest pack object and in a record object.
		var pack, record string
		for k, n := range objects {
			if strings.Contains(k, "/packs/") && (pack == "" || n > objects[pack]) {
				pack = k
			}
			if strings.Contains(k, "/records/") {
				record = k
			}
		}
		for _, k := range []string{pack, record} {
			b, err := mc.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x10
			if err := mc.Put(ctx, k, b); err != nil {
				t.Fatal(err)
			}
		}
		r := d.vmrep("verify", "--read-data")
		out := r.stdout + r.stderr
		if r.code == 0 || !strings.Contains(out, "authentication") || !strings.Contains(out, "record ") || !strings.Contains(out, "pack ") {
			t.Fatalf("verify --read-data after flipped bits: exit %d\n%s", r.code, out)
		}
		r = d.vmrep("restore", encVG+"@1", "-o", filepath.Join(d.dir, "again.img"))
		if r.code != 1 || !strings.Contains(r.stderr, "authentication") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Fatalf("restore through a flipped bit: exit %d, stderr %q; want one line saying authentication failed", r.code, r.stderr)
		}
		t.Logf("verify:\n%s\nrestore: %s", out, r.stderr)
	}
}
