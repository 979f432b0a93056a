package gc

import (
	"context"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
)

func TestPendingRoundTrip(t *testing.T) {
	p := pending{blob.Sum([]byte("a")): 1, blob.Sum([]byte("b")): time.Now().UnixNano()}
	got, err := decodePending(p.encode())
	if err != nil || len(got) != len(p) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	for id, at := range p {
		if got[id] != at {
			t.Fatalf("blob %s: %d, want %d", id, got[id], at)
		}
	}
	enc := p.encode()
	enc[len(pendingMagic)+6] ^= 1
	if _, err := decodePending(enc); err == nil {
		t.Fatal("flipped bit not detected")
	}
}

// TestTwoPhase: a dead blob is held (and listed) the first time, deleted
// only once the grace has passed, and held again if it came back to life
// in between.
func TestTwoPhase(t *testing.T) {
	dead, back := blob.Sum([]byte("dead")), blob.Sum([]byte("back"))
	t0 := time.Unix(1000, 0)
	marked := map[blob.ID]bool{}
	run := func(old pending, now time.Time) (*twoPhase, func(blob.ID) bool) {
		tp := &twoPhase{old: old, next: pending{}, now: now, grace: time.Minute}
		return tp, tp.live(func(id blob.ID) bool { return marked[id] })
	}
	tp, live := run(pending{}, t0)
	if !live(dead) || !live(back) || len(tp.next) != 2 {
		t.Fatal("first run: dead blobs must be held and listed")
	}
	tp2, live := run(tp.next, t0.Add(30*time.Second))
	if !live(dead) || tp2.next[dead] != t0.UnixNano() {
		t.Fatal("within the grace: held, with the time it was first found dead")
	}
	marked[back] = true // a writer named it again
	tp3, live := run(tp2.next, t0.Add(2*time.Minute))
	if live(dead) {
		t.Fatal("past the grace, still dead: must be deleted")
	}
	if !live(back) {
		t.Fatal("a blob named again must live")
	}
	if len(tp3.next) != 0 {
		t.Fatalf("pending after: %v, want empty", tp3.next)
	}
	marked[back] = false
	tp4, live := run(tp3.next, t0.Add(3*time.Minute))
	if !live(back) || tp4.next[back] != t0.Add(3*time.Minute).UnixNano() {
		t.Fatal("dead again: held anew, from now")
	}
}

type memControl map[string][]byte

func (m memControl) ReadControl(_ context.Context, name string) ([]byte, error) {
	b, ok := m[name]
	if !ok {
		return nil, blob.ErrNotFound
	}
	return b, nil
}

func (m memControl) WriteControl(_ context.Context, name string, data []byte) error {
	m[name] = data
	return nil
}

func TestLoadPendingStartsOverOnDamage(t *testing.T) {
	ctx := context.Background()
	m := memControl{}
	if p, err := loadPending(ctx, m); err != nil || len(p) != 0 {
		t.Fatalf("missing list: %v %v", p, err)
	}
	m[PendingObject] = []byte("junk")
	if p, err := loadPending(ctx, m); err != nil || len(p) != 0 {
		t.Fatalf("damaged list: %v %v", p, err)
	}
}

// FuzzDecodePending: the decoder never panics; what it accepts encodes
// back to the same bytes (entries are sorted, so encoding is canonical
// once decoded).
func FuzzDecodePending(f *testing.F) {
	f.Add(pending{}.encode())
	f.Add(pending{blob.Sum([]byte("a")): 42}.encode())
	f.Add([]byte(pendingMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePending(b)
		if err != nil {
			return
		}
		again, err := decodePending(p.encode())
		if err != nil || len(again) != len(p) {
			t.Fatalf("re-encoded list: %v, %d entries, want %d", err, len(again), len(p))
		}
		for id, at := range p {
			if again[id] != at {
				t.Fatalf("blob %s changed", id)
			}
		}
	})
}
