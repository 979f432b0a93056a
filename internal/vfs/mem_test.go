package vfs

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func put(t *testing.T, m *MemFS, name, data string, sync bool) {
	t.Helper()
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
}

func content(m *MemFS, name string) string {
	b, err := m.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "<none>"
	}
	return string(b)
}

// TestMemCrashModel checks what a crash keeps: synced data under synced
// names, and nothing else.
func TestMemCrashModel(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	put(t, m, "/d/unsynced-name", "a", true)
	m.SyncDir("/") // /d's name
	if got := content(m.Durable(), "/d/unsynced-name"); got != "<none>" {
		t.Errorf("a name whose directory was not synced survived: %q", got)
	}
	put(t, m, "/d/unsynced-data", "b", false)
	m.SyncDir("/d")
	d := m.Durable()
	if got := content(d, "/d/unsynced-data"); got != "" {
		t.Errorf("unsynced data survived: %q", got)
	}
	if got := content(d, "/d/unsynced-name"); got != "a" {
		t.Errorf("synced file under a synced name: %q", got)
	}
	if err := m.Rename("/d/unsynced-name", "/d/renamed"); err != nil {
		t.Fatal(err)
	}
	d = m.Durable()
	if content(d, "/d/renamed") != "<none>" || content(d, "/d/unsynced-name") != "a" {
		t.Error("a rename survived without its directory's sync")
	}
	m.SyncDir("/d")
	if got := content(m.Durable(), "/d/renamed"); got != "a" {
		t.Errorf("synced rename: %q", got)
	}
}

// TestMemFaults checks Fail and Crash at the k-th counted operation.
func TestMemFaults(t *testing.T) {
	m := NewMem()
	m.Fail(2)
	if err := m.MkdirAll("/a", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("/"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("second op: %v, want EIO", err)
	}
	if err := m.SyncDir("/"); err != nil {
		t.Fatalf("third op after a one-off EIO: %v", err)
	}
	if m.Hit() != "syncdir /" {
		t.Errorf("Hit = %q", m.Hit())
	}
	crashed := false
	m.Crash(1, func() { crashed = true })
	put2 := func() error {
		_, err := m.OpenFile("/a/x", os.O_RDWR|os.O_CREATE, 0o644)
		return err
	}
	if err := put2(); !errors.Is(err, ErrCrashed) || !crashed || !m.Crashed() {
		t.Fatalf("crash: %v, hook ran %v", err, crashed)
	}
	if _, err := m.Stat("/a"); !errors.Is(err, ErrCrashed) {
		t.Errorf("a read after the crash: %v", err)
	}
	if _, err := m.Durable().Stat("/a"); err != nil {
		t.Errorf("/a was synced before the crash: %v", err)
	}
}
