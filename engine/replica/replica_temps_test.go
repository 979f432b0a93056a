package replica

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vmrep/vmrep/internal/vfs"
)

// TestRemoveStaleTemps: the kill suite found a replica create killed
// between writing .state.json.tmp-* and renaming it; the rerun left the
// temporary copy, so the directory differed from a clean one. Create and
// apply now remove such copies first, and nothing else.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".state.json.tmp-2880896169", ".applying.json.tmp-1", StateName, "vol-1.img", ".vol-1.img.vmrep-1-2", ".other"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeStaleTemps(vfs.Default, dir); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	want := []string{".other", ".vol-1.img.vmrep-1-2", StateName, "vol-1.img"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	if err := removeStaleTemps(vfs.Default, filepath.Join(dir, "absent")); err != nil {
		t.Fatalf("a replica directory not made yet: %v", err)
	}
}
