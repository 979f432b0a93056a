package daemon

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/bench/workload"
	"github.com/vmrep/vmrep/internal/clock"
)

// TestSealedSendBatches sends a snapshot sealed in many small batches (the
// memo and the per-batch map hand over at each one), then again: the
// second run seals nothing and sends nothing.
func TestSealedSendBatches(t *testing.T) {
	defer func(n int64) { sealBatchBytes = n }(sealBatchBytes)
	sealBatchBytes = 256 << 10
	ctx := context.Background()
	dir := t.TempDir()
	src := startSchedDaemon(t, filepath.Join(dir, "source"), clock.NewFake(day0))
	img := filepath.Join(src.dir, "web.img")
	if err := workload.Mixed(img, 7, 8<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := src.cl.CreateVG(ctx, api.CreateVGRequest{Name: "web", Volumes: []api.VolumeSource{{Name: "boot", Role: "boot", Path: img}}}); err != nil {
		t.Fatal(err)
	}
	if ev := src.runJob(src.cl.CreateSnapshot(ctx, "web", api.CreateSnapshotRequest{})); ev.State != api.StateDone {
		t.Fatalf("snapshot: %+v", ev.Error)
	}
	tc, caPEM := testTLS(t)
	const token = "sealed-batches-token-0123456789"
	addr := startReplTarget(t, filepath.Join(dir, "server"), token, tc)
	key := hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	send := func() api.ReplicateResult {
		t.Helper()
		ev := src.runJob(src.cl.Replicate(ctx, api.ReplicateRequest{Snapshot: "web@1", To: addr, Token: token, CAPEM: caPEM,
			EncryptFor: "acme", SourceKey: []byte(key)}))
		if ev.State != api.StateDone {
			t.Fatalf("replicate: %+v", ev.Error)
		}
		var res api.ReplicateResult
		if err := json.Unmarshal(ev.Result, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	r1 := send()
	if !r1.Committed || r1.SentBlobs != r1.Blobs || r1.SealedChunks < 20 {
		t.Fatalf("first sealed send: %+v", r1)
	}
	r2 := send()
	if r2.Committed || r2.SentBlobs != 0 || r2.SealedChunks != 0 || r2.SkippedBlobs != r2.Blobs {
		t.Fatalf("second sealed send: %+v", r2)
	}
	// A plain send of the VG the server holds sealed is refused.
	ev := src.runJob(src.cl.Replicate(ctx, api.ReplicateRequest{Snapshot: "web@1", To: addr, Token: token, CAPEM: caPEM}))
	if ev.State != api.StateFailed || ev.Error == nil {
		t.Fatalf("plain send after sealed ones: %+v", ev)
	}
	t.Logf("first: %d blobs, %d chunks sealed; second: %d skipped; plain: %s", r1.Blobs, r1.SealedChunks, r2.SkippedBlobs, ev.Error.Message)
}
