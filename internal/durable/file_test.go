package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/internal/vfs"
)

func TestFileCommitReplacesTarget(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vol.img")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(nil, p, Options{Pattern: ".vol.img.vmrep-7-*", Writeback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !strings.HasPrefix(filepath.Base(f.Name()), ".vol.img.vmrep-7-") || filepath.Dir(f.Name()) != dir {
		t.Errorf("temporary file %s: want it beside the target, named by the pattern", f.Name())
	}
	if f.OS() == nil || f.Path() != p {
		t.Errorf("OS() %v, Path() %q", f.OS(), f.Path())
	}
	if _, err := f.Write([]byte("new ")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("data"), 4); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("before Commit the target reads %q, want the old content", b)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "new data" {
		t.Errorf("after Commit the target reads %q, %v", b, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (os.CreateTemp's)", fi.Mode().Perm())
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close after Commit: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %v, want only the target", ents)
	}
}

func TestFileCloseBeforeCommitLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	f, err := Create(nil, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(f.Name()), ".state.json.tmp-") {
		t.Errorf("default temporary name %s", f.Name())
	}
	if _, err := f.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close() // twice is harmless
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("an aborted write left %v", ents)
	}
	if _, err := Create(nil, filepath.Join(dir, "missing", "f"), Options{}); err == nil {
		t.Error("creating in a missing directory succeeded")
	}
}

func TestFileKeepOpenReadsBack(t *testing.T) {
	m := vfs.NewMem()
	if err := m.MkdirAll("/r", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := Create(m, "/r/stage", Options{Pattern: ".staging-*", KeepOpen: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("abc"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "abc" {
		t.Errorf("read back %q, %v after Commit", buf, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := m.ReadFile("/r/stage"); err != nil || string(b) != "abc" {
		t.Errorf("target reads %q, %v", b, err)
	}
}

// TestFileCrash crashes a Commit at each of its operations in turn (the
// write, the file's fsync, the rename, the directory's fsync) and checks
// what a reboot finds: the old content until the directory fsync has
// happened, the new one after, never anything else, and no temporary file
// under the target's name.
func TestFileCrash(t *testing.T) {
	for k := 1; ; k++ {
		m := vfs.NewMem()
		if err := m.MkdirAll("/d", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := m.SyncDir("/"); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileFS(m, "/d/f", []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		m.Crash(k, nil)
		err := func() error {
			f, err := Create(m, "/d/f", Options{})
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := f.Write([]byte("new")); err != nil {
				return err
			}
			return f.Commit()
		}()
		got, rerr := m.Durable().ReadFile("/d/f")
		if rerr != nil || (string(got) != "old" && string(got) != "new") {
			t.Fatalf("crash at op %d (%s): reboot finds %q, %v", k, m.Hit(), got, rerr)
		}
		if !m.Crashed() {
			if err != nil || string(got) != "new" {
				t.Fatalf("no crash: Commit %v, reboot finds %q", err, got)
			}
			if k < 6 {
				t.Errorf("only %d operations; want create, write, fsync, rename, directory fsync", k-1)
			}
			return
		}
		if !errors.Is(err, vfs.ErrCrashed) {
			t.Errorf("crash at op %d (%s): error %v", k, m.Hit(), err)
		}
		if string(got) == "new" {
			t.Errorf("crash at op %d (%s), before the directory fsync, yet the new content survived", k, m.Hit())
		}
	}
}

func TestFileFailedCommitRemovesTemp(t *testing.T) {
	m := vfs.NewMem()
	if err := m.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := Create(m, "/d/f", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	m.Fail(2) // the rename (after the fsync)
	if err := f.Commit(); err == nil || !strings.HasPrefix(m.Hit(), "rename") {
		t.Fatalf("Commit %v, failed op %q: want the rename to fail", err, m.Hit())
	}
	ents, _ := m.ReadDir("/d")
	if len(ents) != 0 {
		t.Errorf("a failed Commit left %v", ents)
	}
	if _, err := m.Stat("/d/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("target: %v", err)
	}
}
