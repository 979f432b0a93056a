package cas

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vmrep/vmrep/internal/testdisk"
)

func listNames(t *testing.T, s *Store, kind RecordKind, prefix string) []string {
	t.Helper()
	var names []string
	err := s.ListRecords(context.Background(), kind, prefix, func(name string, _ []byte) error {
		names = append(names, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestRecords(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	for _, n := range []string{"vg-b-0000000000000002", "vg-a-0000000000000001", "vg-b-0000000000000001", "vg-a-0000000000000002"} {
		if err := s.PutRecord(ctx, RecordSnapshot, n, []byte(`{"n":"`+n+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutRecord(ctx, RecordVG, "vg-a", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	want := []string{"vg-b-0000000000000001", "vg-b-0000000000000002"}
	if got := listNames(t, s, RecordSnapshot, "vg-b-"); !reflect.DeepEqual(got, want) {
		t.Fatalf("list vg-b- = %v, want %v", got, want)
	}
	if got := listNames(t, s, RecordSnapshot, ""); len(got) != 4 {
		t.Fatalf("list all snapshots = %v", got)
	}
	if err := s.DeleteRecord(ctx, RecordSnapshot, "vg-b-0000000000000001"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRecord(ctx, RecordSnapshot, "vg-b-0000000000000001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted record = %v, want ErrNotFound", err)
	}
	s.Close()
	s = openTestStore(t, dir)
	if got := listNames(t, s, RecordSnapshot, ""); len(got) != 3 {
		t.Fatalf("after reopen: %v", got)
	}
	if err := s.RebuildIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, s, RecordSnapshot, ""); len(got) != 3 {
		t.Fatalf("after rebuild: %v", got)
	}
	if d, err := s.GetRecord(ctx, RecordVG, "vg-a"); err != nil || string(d) != "{}" {
		t.Fatalf("vg record after rebuild = %q, %v", d, err)
	}
}

func TestRecordNames(t *testing.T) {
	s, _ := newTestStore(t, 1<<20)
	for _, name := range []string{"", "..", "a/b", "a..b", ".hidden", "sp ace", "ünï"} {
		if err := s.PutRecord(context.Background(), RecordVG, name, nil); err == nil {
			t.Errorf("PutRecord accepted name %q", name)
		}
	}
}

func TestCorruptRecordFile(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	if err := s.PutRecord(ctx, RecordVG, "vg-x", []byte(`{"name":"x"}`)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "records", "vgs", "vg-x")
	testdisk.FlipByte(t, path, recordHeaderSize+2)
	rep, err := s.Verify(ctx, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Record != "vgs/vg-x" || !errors.Is(rep.Problems[0].Err, ErrCorrupt) {
		t.Fatalf("problems = %v, want the corrupt record", rep.Problems)
	}
	// Rebuilding must not load the damaged data.
	if err := s.RebuildIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRecord(ctx, RecordVG, "vg-x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("corrupt record served after rebuild: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("rebuild removed the damaged record file; it must be left for inspection")
	}
}

func TestRecordFileGoneAtOpen(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	if err := s.PutRecord(ctx, RecordVG, "vg-y", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Remove(filepath.Join(dir, "records", "vgs", "vg-y")); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	if _, err := s.GetRecord(ctx, RecordVG, "vg-y"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record without file still indexed: %v", err)
	}
}
