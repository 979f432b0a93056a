package s3backend

import (
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/cas"
)

func TestLockFileRoundTrip(t *testing.T) {
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	li := cas.LockInfo{Mode: cas.LockExclusive, ID: "0123456789abcdef", Host: "h", PID: 7, Store: "/s", Why: "gc",
		Created: now, Expires: now.Add(time.Minute)}
	got, err := decodeLock(encodeLock(li))
	if err != nil || got != li {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, li)
	}
	for _, bad := range []string{
		``, `{}`, `[]`, `{"version":2}`,
		`{"version":1,"mode":"exclusive","id":"0123456789abcdef","created":"2026-12-03T18:00:00Z","expires":"2026-12-03T17:00:00Z"}`,
		`{"version":1,"mode":"both","id":"0123456789abcdef","created":"2026-12-03T18:00:00Z","expires":"2026-12-03T19:00:00Z"}`,
		`{"version":1,"mode":"shared","id":"../x","created":"2026-12-03T18:00:00Z","expires":"2026-12-03T19:00:00Z"}`,
		`{"version":1,"mode":"shared","id":"0123456789abcdef","created":"2026-12-03T18:00:00Z","expires":"2026-12-03T19:00:00Z","extra":1}`,
		`{"version":1,"mode":"shared","id":"0123456789abcdef","created":"2026-12-03T18:00:00Z","expires":"2026-12-03T19:00:00Z"} {}`,
	} {
		if _, err := decodeLock([]byte(bad)); err == nil {
			t.Errorf("decodeLock(%q) accepted it", bad)
		}
	}
}

// FuzzDecodeLock: the decoder never panics, and what it accepts encodes
// back to an object that decodes the same.
func FuzzDecodeLock(f *testing.F) {
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	f.Add(encodeLock(cas.LockInfo{Mode: cas.LockShared, ID: "0123456789abcdef", Host: "h", PID: 1, Store: "/s", Why: "snapshot",
		Created: now, Expires: now.Add(time.Minute)}))
	f.Add([]byte(`{"version":1,"mode":"exclusive","id":"ffffffffffffffff","created":"2026-12-03T18:00:00Z","expires":"2026-12-03T19:00:00Z"}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		li, err := decodeLock(b)
		if err != nil {
			return
		}
		again, err := decodeLock(encodeLock(li))
		if err != nil {
			t.Fatalf("re-encoded lock does not decode: %v", err)
		}
		if again.ID != li.ID || again.Mode != li.Mode || !again.Expires.Equal(li.Expires) || !again.Created.Equal(li.Created) ||
			again.Host != li.Host || again.PID != li.PID || again.Why != li.Why || again.Store != li.Store {
			t.Fatalf("round trip changed it: %+v to %+v", li, again)
		}
	})
}
