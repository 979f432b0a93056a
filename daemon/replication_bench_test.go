package daemon

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/bench/workload"
	"github.com/vmrep/vmrep/engine/seal"
	"github.com/vmrep/vmrep/internal/clock"
)

// BenchmarkReplicationEncryption sends one snapshot of a mixed image (the
// size sweep's: half random, a quarter text, a quarter holes) from a
// source daemon to a replication server whose store is plain, then
// encrypted, in the same run, so that their ratio is the cost of
// encryption at rest on the receiving side. Each iteration sends into a
// new, empty server store, so every blob is sent and stored; the timed
// part is the replicate job, from its start to the committed snapshot
// record. "source-sealed" sends to a plain server with every chunk sealed
// at the source (replicate --encrypt-for) under a new key each time, so
// each is sealed before its batch is asked about; "source-sealed-memo"
// under one key, so the source's memo knows the sealed IDs after the first
// iteration and chunks are sealed as the stream sends them. The image is 256 MiB, or VMREP_BENCH_SIZE MiB. MB/s counts the
// image's logical size; wire-MB/s the bytes the stream carried.
func BenchmarkReplicationEncryption(b *testing.B) {
	size := int64(256 << 20)
	if v, err := strconv.ParseInt(os.Getenv("VMREP_BENCH_SIZE"), 10, 64); err == nil && v > 0 {
		size = v << 20
	}
	ctx := context.Background()
	dir := b.TempDir()
	src := startSchedDaemon(b, filepath.Join(dir, "source"), clock.NewFake(day0))
	img := filepath.Join(src.dir, "web.img")
	if err := workload.Mixed(img, 42, size); err != nil {
		b.Fatal(err)
	}
	req := api.CreateVGRequest{Name: "web", Volumes: []api.VolumeSource{{Name: "boot", Role: "boot", Path: img}}}
	if _, err := src.cl.CreateVG(ctx, req); err != nil {
		b.Fatal(err)
	}
	if ev := src.runJob(src.cl.CreateSnapshot(ctx, "web", api.CreateSnapshotRequest{})); ev.State != api.StateDone {
		b.Fatalf("snapshot of web: %+v", ev.Error)
	}
	tc, caPEM := testTLS(b)
	const token = "replication-bench-token-0123456789"
	kek := seal.NewDataKey()
	for _, mode := range []string{"plain", "encrypted", "source-sealed", "source-sealed-memo"} {
		name := mode
		var key []byte
		if mode == "encrypted" {
			key = kek
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			var wire int64
			for i := range b.N {
				b.StopTimer()
				target := filepath.Join(dir, name+"-"+strconv.Itoa(i))
				addr, stop := openReplTarget(b, target, token, tc, key)
				b.StartTimer()
				rr := api.ReplicateRequest{Snapshot: "web@1", To: addr, Token: token, CAPEM: caPEM}
				switch mode {
				case "source-sealed": // a new key: nothing in the memo, every chunk sealed first
					rr.EncryptFor, rr.SourceKey = "acme", []byte(hex.EncodeToString(seal.NewDataKey()))
				case "source-sealed-memo": // one key: the memo knows every sealed ID after the first
					rr.EncryptFor, rr.SourceKey = "acme", []byte(hex.EncodeToString(kek))
				}
				ev := src.runJob(src.cl.Replicate(ctx, rr))
				b.StopTimer()
				if ev.State != api.StateDone {
					b.Fatalf("replicate web@1: %+v", ev.Error)
				}
				var res api.ReplicateResult
				if err := json.Unmarshal(ev.Result, &res); err != nil {
					b.Fatal(err)
				}
				if !res.Committed || res.SkippedBlobs != 0 || res.SentBlobs != res.Blobs {
					b.Fatalf("replicate web@1: %+v; want every blob sent into the empty store", res)
				}
				wire += res.WireBytes
				stop()
				if err := os.RemoveAll(target); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(wire)/1e6/b.Elapsed().Seconds(), "wire-MB/s")
		})
	}
}
