package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// mixedBlocks writes n 1 MiB blocks at off as the benchmark's mixed image
// has them (bench/workload.Mixed): half random, a quarter text, a quarter
// zero.
func mixedBlocks(t *testing.T, path string, off int64, n int, rng *rand.Rand) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range n {
		b := make([]byte, 1<<20)
		switch rng.IntN(4) {
		case 0: // zero
		case 1:
			b = testdisk.Content(rng, 1, 1<<20)
		default:
			b = testdisk.Content(rng, 0, 1<<20)
		}
		if _, err := f.WriteAt(b, off+int64(i)<<20); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplicateMixedWire: on the benchmark's mixed content, the second
// replication of a changed VG sends only the changed chunks, and the
// bytes on the wire (stored, compressed form) are below the logical
// bytes of the changed chunks.
func TestReplicateMixedWire(t *testing.T) {
	src := newDaemon(t)
	pki := newReplPKI(t, t.TempDir())
	_, addr := newReplServer(t, pki)
	rng := rand.New(rand.NewPCG(11, 0x313ed))
	boot, data := filepath.Join(src.dir, "boot.img"), filepath.Join(src.dir, "data.img")
	mixedBlocks(t, boot, 0, 4, rng)
	mixedBlocks(t, data, 0, 32, rng)
	src.ok("vg", "create", "web", "--boot", boot, "--data", "db="+data)
	src.ok("snapshot", "create", "web")
	to := []string{"--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile}
	var r1 api.ReplicateResult
	src.okJSONResult(&r1, append([]string{"replicate", "web@1"}, to...)...)

	// 8 of the data volume's 32 MiB change, with the same mix.
	mixedBlocks(t, data, 12<<20, 8, rng)
	src.ok("snapshot", "create", "web")
	var r2 api.ReplicateResult
	src.okJSONResult(&r2, append([]string{"replicate", "web@2"}, to...)...)
	if !r2.Committed || r2.SkippedBlobs == 0 || r2.SentBytes > 10<<20 || r2.SentBytes >= r1.SentBytes {
		t.Fatalf("changed replication sent more than the change: first %+v, second %+v", r1, r2)
	}
	if r2.WireBytes <= 0 || r2.WireBytes >= r2.SentBytes {
		t.Fatalf("changed replication: %d bytes on the wire for %d logical; want fewer", r2.WireBytes, r2.SentBytes)
	}
	t.Logf("mixed image, first: %d logical, %d on the wire; 8 MiB changed: %d logical, %d on the wire (%.0f%%), %d blobs skipped",
		r1.SentBytes, r1.WireBytes, r2.SentBytes, r2.WireBytes, 100*float64(r2.WireBytes)/float64(r2.SentBytes), r2.SkippedBlobs)
}
