package api

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func sampleStream() []byte {
	b := AppendBlobStreamPrefix(nil)
	b = AppendBlobFrame(b, 1, [32]byte{1}, []byte("chunk data"))
	b = AppendBlobFrame(b, 2, [32]byte{2}, nil)
	return AppendBlobStreamEnd(b)
}

func TestBlobStream(t *testing.T) {
	good := sampleStream()
	tests := []struct {
		name   string
		in     []byte
		frames int
		bad    bool
	}{
		{"good", good, 2, false},
		{"empty stream", AppendBlobStreamEnd(AppendBlobStreamPrefix(nil)), 0, false},
		{"no end byte", good[:len(good)-1], 2, true},
		{"cut in data", good[:8+37+4], 0, true},
		{"bytes after end", append(append([]byte{}, good...), 0), 2, true},
		{"bad magic", append([]byte("XMRB"), good[4:]...), 0, true},
		{"bad version", append(append([]byte("VMRB"), 9), good[5:]...), 0, true},
		{"over limit", AppendBlobStreamEnd(AppendBlobFrame(AppendBlobStreamPrefix(nil), 1, [32]byte{}, make([]byte, 65))), 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewBlobStreamReader(bytes.NewReader(tc.in), 64)
			n := 0
			var err error
			for {
				_, _, _, err = r.Next(nil)
				if err != nil {
					break
				}
				n++
			}
			if n != tc.frames {
				t.Errorf("read %d frames, want %d", n, tc.frames)
			}
			if tc.bad != !errors.Is(err, io.EOF) {
				t.Errorf("error %v, want bad=%v", err, tc.bad)
			}
			if tc.bad && !errors.Is(err, ErrBlobStream) {
				t.Errorf("error %v does not wrap ErrBlobStream", err)
			}
		})
	}
}

func TestBlobStreamRoundTrip(t *testing.T) {
	r := NewBlobStreamReader(bytes.NewReader(sampleStream()), 64)
	typ, id, data, err := r.Next(nil)
	if err != nil || typ != 1 || id != [32]byte{1} || string(data) != "chunk data" {
		t.Fatalf("first frame: %d %x %q %v", typ, id, data, err)
	}
}

func FuzzBlobStream(f *testing.F) {
	f.Add(sampleStream())
	seeds, _ := filepath.Glob(filepath.Join("testdata", "blobstream", "*"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewBlobStreamReader(bytes.NewReader(in), 1<<16)
		var buf []byte
		for i := 0; i < 1<<16; i++ {
			_, _, data, err := r.Next(buf)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrBlobStream) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if len(data) > 1<<16 {
				t.Fatalf("frame of %d bytes passed the limit", len(data))
			}
			buf = data
		}
	})
}
