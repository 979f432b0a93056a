package delta

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// writeTargetCopyDelta writes a small version-4 delta by hand: one frame
// with a data record and a target copy of it, and returns its path.
func writeTargetCopyDelta(t testing.TB, dir string) string {
	h := &Header{VGID: "vg", VGName: "vg", Base: SnapRef{ID: "snap-a", Seq: 1}, Target: SnapRef{ID: "snap-b", Seq: 2},
		Volumes: []VolumeHeader{{ID: "vol-0123456789abcdef", Name: "boot", BaseSize: 64 << 10, TargetSize: 64 << 10}}}
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(i * 7)
	}
	fr := Frame{Recs: []Record{
		{Kind: KindData, Off: 0, Len: 4096},
		{Kind: KindTargetCopy, Off: 32 << 10, Len: 4096, Src: 0},
	}, Mode: StoredRaw, Stored: data, DataLen: 4096}
	path := filepath.Join(dir, "tc.vmdelta")
	s := FileSink(path)
	if err := s.Begin(h); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(0, AppendFrame(nil, &fr), len(fr.Recs)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTargetCopyRecord writes a target copy record and reads it back; the
// same bytes labelled version 3, which has no target copies, are refused.
func TestTargetCopyRecord(t *testing.T) {
	path := writeTargetCopyDelta(t, t.TempDir())
	rd, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var got []Record
	err = rd.WalkFrames(context.Background(), true, func(f *Frame) error {
		if !f.TargetCopies {
			t.Errorf("frame does not say it holds target copies")
		}
		got = append(got, f.Recs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Kind != KindTargetCopy || got[1].Off != 32<<10 || got[1].Src != 0 || got[1].Len != 4096 {
		t.Fatalf("records read back: %+v", got)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[4] = 3
	v3 := filepath.Join(t.TempDir(), "v3.vmdelta")
	if err := os.WriteFile(v3, reseal(b), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := parse(v3); err == nil {
		t.Fatal("a version 3 file with a target copy record was read")
	}
}
