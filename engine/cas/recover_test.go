package cas

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

// A process that died after renaming a new record file into place but before
// indexing it leaves the index one write behind; Open takes the file's word.
func TestOpenCatchesUpWithRewrittenRecord(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	if err := s.PutRecord(ctx, blob.RecordVG, "vg-0000000000000001", []byte(`{"next_seq":1}`)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	newer := encodeRecord(blob.RecordVG, []byte(`{"next_seq":2}`))
	if err := os.WriteFile(filepath.Join(dir, "records", "vgs", "vg-0000000000000001"), newer, 0o640); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	got, err := s.GetRecord(ctx, blob.RecordVG, "vg-0000000000000001")
	if err != nil || string(got) != `{"next_seq":2}` {
		t.Fatalf("GetRecord = %q, %v; want the file's newer data", got, err)
	}
	rep, err := s.Verify(ctx, VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %v %v", rep.Problems, err)
	}
}

// Verify reads record files through the backend, which caches descriptors;
// a record rewritten since must not be read from the old file.
func TestVerifyAfterRecordRewrite(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, 1<<20)
	for i := range 3 {
		if err := s.PutRecord(ctx, blob.RecordVG, "vg-0000000000000002", []byte{'{', byte('0' + i), '}'}); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Verify(ctx, VerifyOptions{})
		if err != nil || len(rep.Problems) != 0 {
			t.Fatalf("verify after write %d: %v %v", i, rep.Problems, err)
		}
	}
}
