package replica

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
	"github.com/vmrep/vmrep/engine/volume"
)

// streamEnv is a replica at base and the delta stream to target.
type streamEnv struct {
	rep    string
	stream []byte
	before map[string]blob.ID
	next   []image
	seed   int64
}

func newStreamEnv(t *testing.T) *streamEnv {
	seed := rand.Int63()
	rng := rand.New(rand.NewSource(seed))
	ctx := context.Background()
	e := newTestEnv(t)
	imgs := []image{{id: volume.NewVolumeID(), name: "boot", role: volume.RoleBoot, data: randomImage(rng)}}
	base := e.snapshot(imgs)
	next := mutate(rng, imgs)
	for range 3 {
		next = mutate(rng, next)
	}
	target := e.snapshot(next)
	rep := filepath.Join(e.dir, "replica")
	if _, err := CreateReplica(ctx, e.store, base, rep, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := build.Export(ctx, e.store, base, target, delta.WriterSink(&buf), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	// The stream is the file: what FileSink writes, byte for byte.
	file := filepath.Join(e.dir, "d.vmdelta")
	if _, err := build.Export(ctx, e.store, base, target, delta.FileSink(file), build.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, buf.Bytes()) {
		t.Fatalf("seed %d: the stream differs from the delta file (%d and %d bytes)", seed, buf.Len(), len(b))
	}
	return &streamEnv{rep: rep, stream: buf.Bytes(), before: hashVolumes(t, rep), next: next, seed: seed}
}

// hashVolumes hashes state.json and every volume file: what a damaged
// stream must leave alone.
func hashVolumes(t *testing.T, dir string) map[string]blob.ID {
	t.Helper()
	out := map[string]blob.ID{}
	for name, h := range hashDir(t, dir) {
		if name != IncomingName {
			out[name] = h
		}
	}
	return out
}

func (s *streamEnv) unchanged(t *testing.T, what string) {
	t.Helper()
	after := hashVolumes(t, s.rep)
	if len(after) != len(s.before) {
		t.Fatalf("seed %d: %s: replica files changed", s.seed, what)
	}
	for k, v := range s.before {
		if after[k] != v {
			t.Fatalf("seed %d: %s: %s changed", s.seed, what, k)
		}
	}
}

// TestReceiveCutAndResume cuts the stream at random points: each cut
// leaves the replica as it was and returns a token; the resumed rest
// (preamble and the bytes from the token's offset) completes the apply.
func TestReceiveCutAndResume(t *testing.T) {
	s := newStreamEnv(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(s.seed))
	points := 20
	if testing.Short() {
		points = 8
	}
	have := int64(0)
	var lastToken delta.ResumeToken
	for i := 0; i < points; i++ {
		// Cuts grow, so each resumes the last: random points past the last.
		cut := have + 1 + rng.Int63n(int64(len(s.stream))-have-1)
		var in []byte
		if have == 0 {
			in = s.stream[:cut]
		} else {
			in = append(delta.AppendResumePreamble(nil, lastToken), s.stream[have:cut]...)
		}
		_, err := Receive(ctx, bytes.NewReader(in), s.rep, ReceiveOptions{})
		var ie *InterruptedError
		if !errors.As(err, &ie) {
			// A cut inside the header keeps nothing: start over.
			if have == 0 && errors.Is(err, delta.ErrTruncated) {
				s.unchanged(t, "cut in the header")
				continue
			}
			t.Fatalf("seed %d: cut at %d: %v, want an interruption", s.seed, cut, err)
		}
		if ie.Token.Offset != cut {
			t.Fatalf("seed %d: cut at %d: token names %d", s.seed, cut, ie.Token.Offset)
		}
		tok, err := delta.ParseResumeToken(ie.Token.String())
		if err != nil || tok != ie.Token {
			t.Fatalf("token does not survive its string: %v", err)
		}
		s.unchanged(t, "cut stream")
		have, lastToken = cut, tok
		if have >= int64(len(s.stream))-1 {
			break
		}
	}
	in := s.stream
	if have > 0 {
		in = append(delta.AppendResumePreamble(nil, lastToken), s.stream[have:]...)
	}
	if _, err := Receive(ctx, bytes.NewReader(in), s.rep, ReceiveOptions{}); err != nil {
		t.Fatalf("seed %d: resume from %d: %v", s.seed, have, err)
	}
	checkReplica(t, s.rep, s.next, s.seed)
	if _, err := os.Stat(filepath.Join(s.rep, IncomingName)); !os.IsNotExist(err) {
		t.Fatalf("the spool is still there after the apply: %v", err)
	}
}

// TestReceiveDamaged flips one byte at random places: each damaged stream
// is refused with the replica unchanged, and the stream sent again whole
// applies.
func TestReceiveDamaged(t *testing.T) {
	s := newStreamEnv(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(s.seed))
	n := 20
	if testing.Short() {
		n = 6
	}
	for range n {
		bad := append([]byte(nil), s.stream...)
		at := rng.Intn(len(bad))
		bad[at] ^= 1 << rng.Intn(8)
		_, err := Receive(ctx, bytes.NewReader(bad), s.rep, ReceiveOptions{})
		if err == nil {
			t.Fatalf("seed %d: a flipped byte at %d was applied", s.seed, at)
		}
		s.unchanged(t, "flipped byte")
	}
	// A stream with a byte too many is refused too.
	if _, err := Receive(ctx, bytes.NewReader(append(append([]byte(nil), s.stream...), 0)), s.rep, ReceiveOptions{}); !errors.Is(err, delta.ErrFormat) {
		t.Fatalf("a byte past the trailer: %v", err)
	}
	s.unchanged(t, "byte past the trailer")
	if _, err := Receive(ctx, bytes.NewReader(s.stream), s.rep, ReceiveOptions{}); err != nil {
		t.Fatalf("seed %d: the good stream after damaged ones: %v", s.seed, err)
	}
	checkReplica(t, s.rep, s.next, s.seed)
}

// TestReceiveWrongResume refuses a resumed stream whose token does not
// name what the spool holds, and a resume with nothing spooled.
func TestReceiveWrongResume(t *testing.T) {
	s := newStreamEnv(t)
	ctx := context.Background()
	cut := int64(len(s.stream) / 2)
	var ie *InterruptedError
	if _, err := Receive(ctx, bytes.NewReader(s.stream[:cut]), s.rep, ReceiveOptions{}); !errors.As(err, &ie) {
		t.Fatalf("cut: %v", err)
	}
	for _, tok := range []delta.ResumeToken{
		{VGID: ie.Token.VGID, Base: ie.Token.Base, Target: ie.Token.Target, Offset: cut - 1, Prefix: ie.Token.Prefix},
		{VGID: ie.Token.VGID, Base: ie.Token.Base, Target: ie.Token.Target, Offset: cut},
		{VGID: ie.Token.VGID, Base: ie.Token.Target, Target: ie.Token.Base, Offset: cut, Prefix: ie.Token.Prefix},
	} {
		in := append(delta.AppendResumePreamble(nil, tok), s.stream[tok.Offset:]...)
		if _, err := Receive(ctx, bytes.NewReader(in), s.rep, ReceiveOptions{}); err == nil {
			t.Fatalf("a resume with a wrong token %+v was applied", tok)
		}
		s.unchanged(t, "wrong token")
	}
	in := append(delta.AppendResumePreamble(nil, ie.Token), s.stream[cut:]...)
	if _, err := Receive(ctx, bytes.NewReader(in), s.rep, ReceiveOptions{}); err != nil {
		t.Fatalf("the right resume after wrong ones: %v", err)
	}
	checkReplica(t, s.rep, s.next, s.seed)
}

// TestLockExcludes: while one holder has the replica's lock, an apply
// refuses with ErrBusy and changes nothing.
func TestLockExcludes(t *testing.T) {
	s := newStreamEnv(t)
	unlock, err := lockDir(s.rep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Receive(context.Background(), bytes.NewReader(s.stream), s.rep, ReceiveOptions{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("receive under another's lock: %v", err)
	}
	s.unchanged(t, "busy")
	unlock()
	if _, err := Receive(context.Background(), bytes.NewReader(s.stream), s.rep, ReceiveOptions{}); err != nil {
		t.Fatal(err)
	}
}
