package cas

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/testdisk"
)

func listNames(t *testing.T, s *Store, kind blob.RecordKind, prefix string) []string {
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
		if err := s.PutRecord(ctx, blob.RecordSnapshot, n, []byte(`{"n":"`+n+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutRecord(ctx, blob.RecordVG, "vg-a", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	want := []string{"vg-b-0000000000000001", "vg-b-0000000000000002"}
	if got := listNames(t, s, blob.RecordSnapshot, "vg-b-"); !reflect.DeepEqual(got, want) {
		t.Fatalf("list vg-b- = %v, want %v", got, want)
	}
	if got := listNames(t, s, blob.RecordSnapshot, ""); len(got) != 4 {
		t.Fatalf("list all snapshots = %v", got)
	}
	if err := s.DeleteRecord(ctx, blob.RecordSnapshot, "vg-b-0000000000000001"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRecord(ctx, blob.RecordSnapshot, "vg-b-0000000000000001"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("get deleted record = %v, want blob.ErrNotFound", err)
	}
	s.Close()
	s = openTestStore(t, dir)
	if got := listNames(t, s, blob.RecordSnapshot, ""); len(got) != 3 {
		t.Fatalf("after reopen: %v", got)
	}
	if err := s.RebuildIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, s, blob.RecordSnapshot, ""); len(got) != 3 {
		t.Fatalf("after rebuild: %v", got)
	}
	if d, err := s.GetRecord(ctx, blob.RecordVG, "vg-a"); err != nil || string(d) != "{}" {
		t.Fatalf("vg record after rebuild = %q, %v", d, err)
	}
}

func TestRecordNames(t *testing.T) {
	s, _ := newTestStore(t, 1<<20)
	for _, name := range []string{"", "..", "a/b", "a..b", ".hidden", "sp ace", "ünï"} {
		if err := s.PutRecord(context.Background(), blob.RecordVG, name, nil); err == nil {
			t.Errorf("PutRecord accepted name %q", name)
		}
	}
}

// TestCorruptRecordFile flips a byte of a record file's data: verify names
// it, and reopening or rebuilding the index repairs the file from the
// index's copy, whose BLAKE3 is the one the file's header names.
func TestCorruptRecordFile(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	want := []byte(`{"name":"x"}`)
	if err := s.PutRecord(ctx, blob.RecordVG, "vg-x", want); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "records", "vgs", "vg-x")
	testdisk.FlipByte(t, path, recordHeaderSize+2)
	rep, err := s.Verify(ctx, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Record != "vgs/vg-x" || !errors.Is(rep.Problems[0].Err, blob.ErrCorrupt) {
		t.Fatalf("problems = %v, want the corrupt record", rep.Problems)
	}
	for _, how := range []string{"rebuild", "reopen"} {
		if how == "rebuild" {
			if err := s.RebuildIndex(ctx); err != nil {
				t.Fatal(err)
			}
		} else {
			testdisk.FlipByte(t, path, recordHeaderSize+2)
			s.Close()
			s = openTestStore(t, dir)
		}
		if d, err := s.GetRecord(ctx, blob.RecordVG, "vg-x"); err != nil || string(d) != string(want) {
			t.Fatalf("after %s: record = %q, %v; want the intact copy", how, d, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := decodeRecord(b, blob.RecordVG); err != nil || string(d) != string(want) {
			t.Fatalf("after %s: record file not repaired: %q, %v", how, d, err)
		}
		if d := s.DamagedRecords(); len(d) != 0 {
			t.Fatalf("after %s: damaged records %v, want none", how, d)
		}
	}
}

// TestDamagedRecordHeader flips a byte of a record file's hash: the file
// cannot be repaired, so the index's copy is kept, the file is listed as
// damaged and left in place, and writing the record anew clears it.
func TestDamagedRecordHeader(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	want := []byte(`{"name":"x"}`)
	if err := s.PutRecord(ctx, blob.RecordVG, "vg-x", want); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "records", "vgs", "vg-x")
	s.Close()
	testdisk.FlipByte(t, path, 20)
	s = openTestStore(t, dir)
	if d, err := s.GetRecord(ctx, blob.RecordVG, "vg-x"); err != nil || string(d) != string(want) {
		t.Fatalf("index copy of a damaged record = %q, %v; want it kept", d, err)
	}
	if d := s.DamagedRecords(); len(d) != 1 || !strings.HasPrefix(d[0], "records/vgs/vg-x: ") {
		t.Fatalf("damaged records = %v, want records/vgs/vg-x", d)
	}
	if err := s.RebuildIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := s.GetRecord(ctx, blob.RecordVG, "vg-x"); err != nil || string(d) != string(want) {
		t.Fatalf("after rebuild: %q, %v; want the index copy kept", d, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("the damaged record file was removed; it must be left for inspection")
	}
	if err := s.PutRecord(ctx, blob.RecordVG, "vg-x", want); err != nil {
		t.Fatal(err)
	}
	if d := s.DamagedRecords(); len(d) != 0 {
		t.Fatalf("after rewriting the record: damaged %v", d)
	}
}

func TestRecordFileGoneAtOpen(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t, 1<<20)
	if err := s.PutRecord(ctx, blob.RecordVG, "vg-y", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Remove(filepath.Join(dir, "records", "vgs", "vg-y")); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	if _, err := s.GetRecord(ctx, blob.RecordVG, "vg-y"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("record without file still indexed: %v", err)
	}
}
