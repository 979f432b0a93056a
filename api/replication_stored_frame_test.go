package api

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func storedStream(frames ...BlobFrame) []byte {
	b := AppendStoredStreamPrefix(nil)
	for _, f := range frames {
		b = AppendStoredFrame(b, f)
	}
	return AppendBlobStreamEnd(b)
}

func TestStoredBlobStream(t *testing.T) {
	good := []BlobFrame{
		{Type: 1, Codec: CodecZstd, ID: [32]byte{1}, Raw: 60, Data: []byte("zstd bytes")},
		{Type: 2, Codec: CodecNone, ID: [32]byte{2}, Raw: 4, Data: []byte("page")},
		{Type: 1, Codec: CodecS2, ID: [32]byte{3}, Raw: 64, Data: []byte("s2")},
	}
	r := NewBlobStreamReader(bytes.NewReader(storedStream(good...)), 64)
	for i, want := range good {
		f, err := r.NextFrame(nil)
		if err != nil || f.Type != want.Type || f.Codec != want.Codec || f.ID != want.ID || f.Raw != want.Raw || !bytes.Equal(f.Data, want.Data) {
			t.Fatalf("frame %d: %+v %v, want %+v", i, f, err, want)
		}
	}
	if _, err := r.NextFrame(nil); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v", err)
	}
	// Version 1 streams still read, as codec-0 frames.
	r = NewBlobStreamReader(bytes.NewReader(sampleStream()), 64)
	if f, err := r.NextFrame(nil); err != nil || f.Codec != CodecNone || f.Raw != 10 || string(f.Data) != "chunk data" {
		t.Fatalf("version 1 frame: %+v %v", f, err)
	}
	bad := map[string][]byte{
		"unknown codec":           storedStream(BlobFrame{Type: 1, Codec: 3, Raw: 4, Data: []byte("abcd")}),
		"uncompressed, short":     storedStream(BlobFrame{Type: 1, Codec: CodecNone, Raw: 5, Data: []byte("abcd")}),
		"compressed, longer":      storedStream(BlobFrame{Type: 1, Codec: CodecZstd, Raw: 3, Data: []byte("abcd")}),
		"raw over limit":          storedStream(BlobFrame{Type: 1, Codec: CodecZstd, Raw: 65, Data: []byte("abcd")}),
		"cut in header":           storedStream(good[0])[:8+20],
		"compressed through Next": nil,
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			var err error
			if in == nil {
				_, _, _, err = NewBlobStreamReader(bytes.NewReader(storedStream(good[0])), 64).Next(nil)
			} else {
				_, err = NewBlobStreamReader(bytes.NewReader(in), 64).NextFrame(nil)
			}
			if !errors.Is(err, ErrBlobStream) {
				t.Fatalf("error %v, want ErrBlobStream", err)
			}
		})
	}
}

func FuzzStoredBlobStream(f *testing.F) {
	f.Add(storedStream(BlobFrame{Type: 1, Codec: CodecZstd, ID: [32]byte{1}, Raw: 60, Data: []byte("zstd bytes")}))
	f.Add(sampleStream())
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewBlobStreamReader(bytes.NewReader(in), 1<<16)
		var buf []byte
		for i := 0; i < 1<<16; i++ {
			fr, err := r.NextFrame(buf)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrBlobStream) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if fr.Raw > 1<<16 || len(fr.Data) > int(fr.Raw) || (fr.Codec == CodecNone && len(fr.Data) != int(fr.Raw)) {
				t.Fatalf("frame raw %d, %d bytes, codec %d passed the checks", fr.Raw, len(fr.Data), fr.Codec)
			}
			buf = fr.Data
		}
	})
}
