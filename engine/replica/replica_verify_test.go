package replica

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/source"
)

// discard keeps no blob: chunking again needs only IDs.
type discard struct{}

func (discard) Put(context.Context, blob.Type, blob.ID, []byte) (bool, error) { return true, nil }
func (discard) Flush(context.Context) error                                   { return nil }

// fileSource is a raw source over the first size bytes of r.
type fileSource struct {
	io.ReaderAt
	size int64
}

func (f fileSource) Size() int64    { return f.size }
func (f fileSource) Format() string { return "raw" }
func (f fileSource) Close() error   { return nil }
func (f fileSource) Allocated(_ context.Context, fn func(source.Range) error) error {
	return fn(source.Range{Off: 0, Len: f.size})
}

func TestVerifyReplica(t *testing.T) {
	ctx := context.Background()
	e, snaps, imgs, _ := chain(t)
	rep := filepath.Join(e.dir, "at3")
	if _, err := CreateReplica(ctx, e.store, snaps[2], rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	bySnapshot := VerifyReplicaOptions{Blobs: e.store, Snapshot: func(_ string, v VolumeState) (blob.ID, bool) {
		vs, ok := snaps[2].Volume(v.ID)
		return vs.Manifest, ok
	}}
	byState := VerifyReplicaOptions{Rechunk: func(ctx context.Context, r io.ReaderAt, size int64, _ *blob.ChunkerParams, _ func(int64)) (blob.ID, error) {
		st, err := ingest.Volume(ctx, discard{}, fileSource{r, size}, ingest.Options{Cutter: e.cut})
		return st.ID, err
	}}
	boot := imgs[2][0]
	// check verifies the replica and returns the boot volume's check; every
	// other volume must be OK.
	check := func(opts VerifyReplicaOptions, wantOK bool, against string) VolumeCheck {
		t.Helper()
		_, checks, err := VerifyReplica(ctx, rep, opts)
		if err != nil || len(checks) != len(imgs[2]) {
			t.Fatalf("verify: %v %+v", err, checks)
		}
		var c VolumeCheck
		for _, o := range checks {
			if o.ID == boot.id {
				c = o
			} else if !o.OK || o.Against != against {
				t.Fatalf("verify against %s: %+v", against, o)
			}
		}
		if c.OK != wantOK || c.Against != against {
			t.Fatalf("verify against %s: %+v, want ok %v", against, c, wantOK)
		}
		return c
	}
	check(bySnapshot, true, AgainstSnapshot)
	check(byState, true, AgainstState)

	at := int64(len(boot.data) / 3)
	flip := func() {
		f, err := os.OpenFile(VolumePath(rep, boot.id), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b := []byte{boot.data[at] ^ 1}
		if b[0] == boot.data[at] {
			b[0] ^= 1
		}
		if _, err := f.WriteAt(b, at); err != nil {
			t.Fatal(err)
		}
	}
	flip()
	if c := check(bySnapshot, false, AgainstSnapshot); c.MismatchOffset > at || c.MismatchOffset+c.MismatchLength <= at || c.Mismatches != 1 {
		t.Errorf("mismatch %d+%d (%d ranges) does not name the flipped byte at %d", c.MismatchOffset, c.MismatchLength, c.Mismatches, at)
	}
	if c := check(byState, false, AgainstState); c.MismatchOffset != -1 {
		t.Errorf("a re-chunked mismatch claims an offset: %+v", c)
	}

	// Apply with verify on a replica already at the target checks it.
	d23 := filepath.Join(e.dir, "23.vmdelta")
	if _, err := build.Export(ctx, e.store, snaps[1], snaps[2], delta.FileSink(d23), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	rd, err := delta.Open(context.Background(), d23)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, rd, rep, ApplyOptions{Verify: VerifyFull, Blobs: e.store}); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("apply --verify full on a damaged replica at the target: %v", err)
	}
	// Bytes back: no block is left non-zero in a hole, nothing differs.
	if err := os.WriteFile(VolumePath(rep, boot.id), boot.data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := Apply(ctx, rd, rep, ApplyOptions{Verify: VerifyFull, Blobs: e.store})
	if err != nil || sum.Verified != len(imgs[2]) || sum.Volumes != 0 {
		t.Fatalf("apply --verify full at the target: %+v, %v", sum, err)
	}
	check(byState, true, AgainstState)
}
