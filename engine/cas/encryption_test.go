package cas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/seal"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// newEncryptedStore inits and opens an encrypted store under kek.
func newEncryptedStore(t *testing.T, kek []byte) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.PackSize = 1 << 20
	cfg, err := cfg.WithEncryption(kek)
	if err != nil {
		t.Fatal(err)
	}
	if err := Init(context.Background(), dir, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dir, Options{KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// markerData is a chunk that repeats a unique marker string.
func markerData(marker string, n int) []byte {
	return bytes.Repeat([]byte(marker), n/len(marker)+1)[:n]
}

// scanDir reports the files under dir that contain any of markers.
func scanDir(t *testing.T, dir string, markers []string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				found = append(found, fmt.Sprintf("%s in %s", m, p))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestEncryptedStoreMarkerScan stores chunks and records holding unique
// markers, with compression off so that a plain store shows them, and
// scans every file of the store directory but the index (the server's
// local index, see doc/design.md): the encrypted store shows none, the
// plain one shows them all, so the scan is real.
func TestEncryptedStoreMarkerScan(t *testing.T) {
	ctx := context.Background()
	markers := []string{"MARKER-enc-7f3a91c2", "MARKER-enc-0be44d17", "MARKER-enc-c9a0f5e3"}
	recName := "vg-MARKERrec5d2e"
	for _, encrypted := range []bool{true, false} {
		t.Run(fmt.Sprint("encrypted=", encrypted), func(t *testing.T) {
			dir := t.TempDir()
			cfg := DefaultConfig()
			cfg.PackSize = 1 << 20
			cfg.Compression = "none"
			var kek []byte
			if encrypted {
				kek = seal.NewDataKey()
				var err error
				if cfg, err = cfg.WithEncryption(kek); err != nil {
					t.Fatal(err)
				}
			}
			if err := Init(ctx, dir, cfg); err != nil {
				t.Fatal(err)
			}
			s, err := Open(ctx, dir, Options{KEK: kek})
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range markers {
				mustPut(t, s, markerData(m, 40000+i))
			}
			if err := s.PutRecord(ctx, blob.RecordVG, recName, []byte(`{"name":"`+markers[0]+`"}`)); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
				t.Fatal(err)
			}
			found := scanDir(t, dir, append(markers, recName))
			if encrypted && len(found) > 0 {
				t.Fatalf("encrypted store shows markers: %v", found)
			}
			if !encrypted && len(found) < len(markers)+1 {
				t.Fatalf("plain store shows only %v: the scan finds nothing", found)
			}
		})
	}
}

// TestEncryptedStoreKeys checks who opens an encrypted store: not without
// a key, not with another, a plain store not with one; after RotateKey
// the new key opens it and the old one no longer does, with the data
// unchanged.
func TestEncryptedStoreKeys(t *testing.T) {
	ctx := context.Background()
	kek, other := seal.NewDataKey(), seal.NewDataKey()
	s, dir := newEncryptedStore(t, kek)
	data := markerData("rotate", 70000)
	id := mustPut(t, s, data)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()

	if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrKeyRequired) {
		t.Fatalf("open without a key: %v, want ErrKeyRequired", err)
	}
	if _, err := Open(ctx, dir, Options{KEK: other}); !errors.Is(err, seal.ErrWrongKey) {
		t.Fatalf("open with another key: %v, want seal.ErrWrongKey", err)
	}
	plain, _ := newTestStore(t, 1<<20)
	plainDir := plain.Dir()
	plain.Close()
	if _, err := Open(ctx, plainDir, Options{KEK: kek}); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("open a plain store with a key: %v, want ErrNotEncrypted", err)
	}
	if err := RotateKey(ctx, plainDir, nil, kek, other); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("rotate a plain store: %v", err)
	}

	if err := RotateKey(ctx, dir, nil, other, kek); !errors.Is(err, seal.ErrWrongKey) {
		t.Fatalf("rotate with a wrong old key: %v", err)
	}
	before := packFiles(t, dir)
	if err := RotateKey(ctx, dir, nil, kek, other); err != nil {
		t.Fatal(err)
	}
	if after := packFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("rotation rewrote packs: %v -> %v", before, after)
	}
	if _, err := Open(ctx, dir, Options{KEK: kek}); !errors.Is(err, seal.ErrWrongKey) {
		t.Fatalf("open with the old key after rotation: %v, want seal.ErrWrongKey", err)
	}
	s2, err := Open(ctx, dir, Options{KEK: other})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	mustGet(t, s2, id, data)
	if err := RotateKey(ctx, dir, nil, other, kek); err == nil {
		t.Fatal("rotated the key of an open store")
	}
}

// packFiles lists the pack files under dir with their sizes.
func packFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, "packs"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprint(filepath.Base(p), info.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sealedPath returns the local file an encrypted store keeps h in.
func sealedPath(t *testing.T, s *Store, h Handle) string {
	t.Helper()
	sb := s.be.(*sealedBackend)
	sh, err := sb.sealedHandle(h)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sb.inner.(*localBackend).path(sh)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEncryptedStoreFlippedBit flips one bit in a sealed pack and in a
// sealed record: verify --read-data names both, and a read of the damaged
// blob fails with an error naming its pack, never wrong bytes.
func TestEncryptedStoreFlippedBit(t *testing.T) {
	ctx := context.Background()
	kek := seal.NewDataKey()
	s, _ := newEncryptedStore(t, kek)
	r := rand.New(rand.NewPCG(5, 6))
	good := randomBlob(r, 3000)
	goodID := mustPut(t, s, good)
	badData := randomBlob(r, 150000) // spans segments; far from the first one
	badID := mustPut(t, s, badData)
	if err := s.PutRecord(ctx, blob.RecordVG, "vg-flip", []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, err := s.Lookup(ctx, badID)
	if err != nil {
		t.Fatal(err)
	}
	packFile := sealedPath(t, s, Handle{Kind: FilePack, Name: loc.Pack})
	recFile := sealedPath(t, s, Handle{Kind: FileRecord, Name: "vgs/vg-flip"})
	// The middle of the blob lies in a later segment than the good blob.
	off := seal.HeaderSize + (loc.Offset+int64(loc.Stored)/2)/seal.SegmentSize*(seal.SegmentSize+seal.Overhead) + seal.Overhead + 100
	testdisk.FlipByte(t, packFile, off)
	testdisk.FlipByte(t, recFile, seal.HeaderSize+20)

	_, err = s.Get(ctx, badID, nil)
	if err == nil || !errors.Is(err, seal.ErrAuth) || !strings.Contains(err.Error(), loc.Pack) {
		t.Fatalf("Get of the damaged blob = %v, want an authentication failure naming pack %s", err, loc.Pack)
	}
	mustGet(t, s, goodID, good)

	rep, err := s.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	var sawPack, sawRecord bool
	for _, p := range rep.Problems {
		sawPack = sawPack || (p.Pack == loc.Pack && errors.Is(p.Err, seal.ErrAuth))
		sawRecord = sawRecord || (p.Record == "vgs/vg-flip" && errors.Is(p.Err, seal.ErrAuth))
	}
	if !sawPack || !sawRecord {
		t.Fatalf("verify --read-data problems %v: want the pack %s and the record vgs/vg-flip", rep.Problems, loc.Pack)
	}
}

// TestEncryptedStoreSweep sweeps an encrypted store (a pack deleted, one
// rewritten through the sealing backend): live blobs read back, dead ones
// are gone, and a reopened store verifies clean with every blob read.
func TestEncryptedStoreSweep(t *testing.T) {
	ctx := context.Background()
	kek := seal.NewDataKey()
	s, dir := newEncryptedStore(t, kek)
	r := rand.New(rand.NewPCG(8, 9))
	put := func(n int) map[blob.ID][]byte {
		m := make(map[blob.ID][]byte)
		for range n {
			b := randomBlob(r, 10000)
			m[mustPut(t, s, b)] = b
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return m
	}
	dead := put(4)
	mixed := put(5)
	live := map[blob.ID][]byte{}
	for id, b := range mixed {
		live[id] = b
		break
	}
	st, err := s.Sweep(ctx, func(id blob.ID) bool { _, ok := live[id]; return ok }, SweepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksDeleted != 2 || st.PacksRewritten != 1 {
		t.Fatalf("sweep stats %+v: want the dead pack and the rewritten one deleted", st)
	}
	s.Close()
	s2, err := Open(ctx, dir, Options{KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for id, b := range live {
		mustGet(t, s2, id, b)
	}
	for id := range dead {
		if _, err := s2.Get(ctx, id, nil); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("swept blob %s: %v, want ErrNotFound", id.Short(), err)
		}
	}
	rep, err := s2.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil || len(rep.Problems) != 0 || rep.Blobs != 1 {
		t.Fatalf("verify after sweep: %+v, %v", rep, err)
	}
}
