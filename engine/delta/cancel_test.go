package delta

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// bigDelta writes a single-file delta of one added volume whose frames
// hold n MiB of raw data in all, and returns its path.
func bigDelta(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "big.vmdelta")
	const frame = 4 << 20
	size := int64(n) << 20
	h := &Header{VGID: "vg", Base: SnapRef{ID: "a", Seq: 1}, Target: SnapRef{ID: "b", Seq: 2},
		Volumes: []VolumeHeader{{ID: "vol", Name: "boot", Added: true, TargetSize: size}}}
	w := FileSink(path)
	if err := w.Begin(h); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, frame)
	for i := range data {
		data[i] = byte(i*7 + 1)
	}
	for off := int64(0); off < size; off += frame {
		f := &Frame{NoBase: true, Recs: []Record{{Kind: KindData, Off: off, Len: frame}},
			Mode: StoredRaw, Stored: data, DataLen: frame, TargetHash: frameSum(writeVersion, data)}
		if err := w.Put(0, AppendFrame(nil, f), 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	return path
}

// cancelAfter is a context whose Err says Canceled from its n-th call on,
// so a test can cancel in the middle of a long read and count how much
// more was checked.
type cancelAfter struct {
	context.Context
	n, calls int
}

func (c *cancelAfter) Err() error {
	c.calls++
	if c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// TestOpenCancel: a cancelled context stops Open's checksum pass and a
// walk of the frames within a few MiB of a 64 MiB delta, with
// context.Canceled.
func TestOpenCancel(t *testing.T) {
	path := bigDelta(t, 64)
	if _, err := Open(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("open with a cancelled context: %v, want context.Canceled", err)
	}
	c := &cancelAfter{Context: context.Background(), n: 3}
	if _, err := Open(c, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("open cancelled after 2 MiB: %v, want context.Canceled", err)
	}
	if c.calls > 3 {
		t.Errorf("open went on for %d checks after the cancel", c.calls-3)
	}
	rd, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	c = &cancelAfter{Context: context.Background(), n: 2}
	frames := 0
	err = rd.Walk(c, true, func(*Record) error { frames++; return nil })
	if !errors.Is(err, context.Canceled) || frames > 1 {
		t.Fatalf("walk cancelled after one frame: %d frames, %v; want 1, context.Canceled", frames, err)
	}
}
