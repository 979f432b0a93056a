package daemon

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/bench/workload"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/seal"
	"github.com/vmrep/vmrep/engine/volume"
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
	// web@2 goes plain first; sending it sealed afterwards is refused
	// before anything is sealed.
	if ev := src.runJob(src.cl.CreateSnapshot(ctx, "web", api.CreateSnapshotRequest{})); ev.State != api.StateDone {
		t.Fatalf("snapshot: %+v", ev.Error)
	}
	if ev := src.runJob(src.cl.Replicate(ctx, api.ReplicateRequest{Snapshot: "web@2", To: addr, Token: token, CAPEM: caPEM})); ev.State != api.StateDone {
		t.Fatalf("plain replicate of web@2: %+v", ev.Error)
	}
	ev2 := src.runJob(src.cl.Replicate(ctx, api.ReplicateRequest{Snapshot: "web@2", To: addr, Token: token, CAPEM: caPEM,
		EncryptFor: "acme", SourceKey: []byte(key)}))
	if ev2.State != api.StateFailed || ev2.Error == nil || !strings.Contains(ev2.Error.Message, "already here in clear") {
		t.Fatalf("sealed send of a snapshot held in clear: %+v", ev2)
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

// TestSealedGuards checks the server's rules for VGs held sealed and the
// tag check that refuses a sealed manifest altered on the server.
func TestSealedGuards(t *testing.T) {
	for _, c := range []struct{ held, sending, want string }{
		{"", "", ""}, {"", "fp1", ""}, {"fp1", "fp1", ""},
		{"fp1", "", "send it sealed too"}, {"fp1", "fp2", "another key"},
	} {
		e := checkSealedSend("web", c.held, c.sending)
		if (e == nil) != (c.want == "") || e != nil && !strings.Contains(e.Error(), c.want) {
			t.Errorf("held %q, sending %q: %v, want %q", c.held, c.sending, e, c.want)
		}
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	keys, err := seal.NewSourceKeys(key, "acme")
	if err != nil {
		t.Fatal(err)
	}
	m := blob.Sum([]byte("a sealed manifest"))
	sn := volume.Snapshot{ID: "snap-1", VGID: "vg-1", VGName: "web", Seq: 1, Volumes: []volume.VolumeSnapshot{
		{VolumeID: "vol-a", Name: "boot", Size: 4096, Manifest: m, Sealed: keys.Fingerprint(), SealedTag: keys.VolumeTag("snap-1", "vol-a", m, 4096)},
		{VolumeID: "vol-b", Name: "db", Size: 8192, Manifest: m, Sealed: keys.Fingerprint(), SealedTag: keys.VolumeTag("snap-1", "vol-b", m, 8192)},
	}}
	if e := checkSealedRecord("web", sn, ""); e != nil {
		t.Fatalf("an evenly sealed record: %v", e)
	}
	req := api.ReplReplicaRequest{SourceKey: key, SealedFor: "acme"}
	if _, e := hydrationReader(nil, sn, req); e != nil {
		t.Fatalf("hydration with the right key: %v", e)
	}
	if _, e := hydrationReader(nil, sn, api.ReplReplicaRequest{}); e == nil || !strings.Contains(e.Error(), "cannot read it") {
		t.Errorf("hydration without a key: %v", e)
	}
	if _, e := hydrationReader(nil, sn, api.ReplReplicaRequest{SourceKey: key, SealedFor: "globex"}); e == nil || !strings.Contains(e.Error(), "another key or for another tenancy") {
		t.Errorf("hydration for another tenancy: %v", e)
	}
	for name, alter := range map[string]func(*volume.Snapshot){
		"manifest swapped":      func(s *volume.Snapshot) { s.Volumes[1].Manifest = blob.Sum([]byte("older")) },
		"tags swapped":          func(s *volume.Snapshot) { s.Volumes[0].SealedTag, s.Volumes[1].SealedTag = s.Volumes[1].SealedTag, s.Volumes[0].SealedTag },
		"size changed":          func(s *volume.Snapshot) { s.Volumes[0].Size = 8192 },
		"record of another seq": func(s *volume.Snapshot) { s.ID = "snap-2" },
	} {
		bad := sn
		bad.Volumes = slices.Clone(sn.Volumes)
		alter(&bad)
		if _, e := hydrationReader(nil, bad, req); e == nil || !strings.Contains(e.Error(), "does not carry its source's tag") {
			t.Errorf("%s: %v", name, e)
		}
	}
	uneven := sn
	uneven.Volumes = slices.Clone(sn.Volumes)
	uneven.Volumes[1].Sealed, uneven.Volumes[1].SealedTag = "", ""
	if e := checkSealedRecord("web", uneven, ""); e == nil {
		t.Error("a record with one plain volume among sealed ones was taken")
	}
	plain := sn
	plain.Volumes = []volume.VolumeSnapshot{{VolumeID: "vol-a", Name: "boot", Size: 4096, Manifest: m}}
	if e := checkSealedRecord("web", plain, keys.Fingerprint()); e == nil {
		t.Error("a plain record of a VG held sealed was taken")
	}
}
