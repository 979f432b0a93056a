package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
)

// TestNewRemovesStateTemps: a daemon SIGKILLed between writing a state
// file's temporary copy and renaming it leaves the copy in the store; the
// next start removes it and nothing else. (The kill suite found a
// .replicas.json.tmp-* left after kills during replicate.)
func TestNewRemovesStateTemps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := cas.Init(ctx, dir, cas.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	st, err := cas.Open(ctx, dir, cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	left := []string{".replicas.json.tmp-2087574212", ".mounts.json.tmp-1", ".lvm-snapshots.json.tmp-7", ".jobs.json.tmp-3"}
	kept := []string{".notes.tmp-1", "replicas.json.tmp-1"}
	for _, n := range append(left, kept...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("[{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	for _, n := range left {
		if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Errorf("%s is still in the store after a start: %v", n, err)
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s, no state file's temporary copy, was removed: %v", n, err)
		}
	}
}
