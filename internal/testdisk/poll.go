package testdisk

import (
	"testing"
	"time"
)

// Eventually polls cond every 50 ms until it returns nil, and fails the test
// with cond's last error once within has passed. Catalog changes reach a
// FUSE mount's kernel side within its entry timeout (about a second); the
// deadline only bounds a broken test.
func Eventually(t testing.TB, what string, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
