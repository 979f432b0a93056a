package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/volume"
)

// rotFlip is one bit flipped in one file of a store copy.
type rotFlip struct {
	kind string
	file string // relative to the store
	off  int64
	bit  uint
	dead bool // in a file nothing reads
}

func (f rotFlip) String() string {
	return fmt.Sprintf("%s: %s offset %d bit %d", f.kind, f.file, f.off, f.bit)
}

// rotOutcome is what one flip did to a store copy.
type rotOutcome struct {
	openErr     error
	rebuilt     bool // the index was moved aside and rebuilt
	reindexed   bool // index entries lost to the flip were taken again from the packs
	repaired    bool // the flipped record file was rewritten whole
	consumed    bool // the flipped file was never read, or dropped at open
	problems    []string
	damaged     []string
	verifyErr   error
	fails       []string // restores and FUSE reads that failed (not wrong)
	wrong       []string // restores and FUSE reads that returned wrong bytes
	fuseEIO     int
	fuseChecked bool
}

// class sorts an outcome into one of the suite's table columns.
func (o *rotOutcome) class() string {
	switch {
	case o.openErr != nil:
		return "store fails to open"
	case len(o.wrong) > 0:
		return "wrong bytes"
	case len(o.problems) > 0 || len(o.damaged) > 0:
		return "detected by verify"
	case o.rebuilt || o.reindexed || o.repaired:
		return "index rebuilt or repaired at open"
	case o.verifyErr != nil:
		return "detected by verify"
	case len(o.fails) > 0:
		return "failed, not reported"
	case o.consumed:
		return "harmless"
	}
	return "undetected, restores exact"
}

// judgeFlip copies the store, flips one bit, opens and verifies the copy
// and restores (and, with fuse, reads through a mount) every volume of
// every snapshot, comparing with the source bytes.
func judgeFlip(t *testing.T, rs *rotStore, work string, fl rotFlip, fuse bool) *rotOutcome {
	t.Helper()
	ctx := context.Background()
	o := &rotOutcome{}
	dir := filepath.Join(work, "store")
	if err := os.RemoveAll(work); err != nil {
		t.Fatal(err)
	}
	if err := copyTree(rs.dir, dir); err != nil {
		t.Fatalf("copy store: %v", err)
	}
	path := filepath.Join(dir, fl.file)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(orig)
	flipped[fl.off] ^= 1 << fl.bit
	if err := os.WriteFile(path, flipped, 0o600); err != nil {
		t.Fatal(err)
	}
	if fl.kind == kindNoIndex {
		// The index is lost too: the flipped pack meets the rebuild.
		if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	st, err := openRot(ctx, dir, &log)
	if err != nil {
		o.openErr = err
		return o
	}
	defer func() { st.Close() }()
	rep, verr := st.Verify(ctx, cas.VerifyOptions{ReadData: true})
	if verr != nil {
		// A damaged index may show only once read; the next open rebuilds it.
		o.verifyErr = verr
		st.Close()
		if st, err = openRot(ctx, dir, &log); err != nil {
			o.openErr = err
			return o
		}
		rep, err = st.Verify(ctx, cas.VerifyOptions{ReadData: true})
		if err != nil {
			o.fails = append(o.fails, "verify after reopening: "+err.Error())
		}
	}
	for _, p := range rep.Problems {
		o.problems = append(o.problems, p.String())
	}
	o.damaged = st.DamagedRecords()
	aside, _ := filepath.Glob(filepath.Join(dir, "index.damaged-*"))
	o.rebuilt = len(aside) > 0
	now, err := os.ReadFile(path)
	o.consumed = fl.dead || errors.Is(err, fs.ErrNotExist) || (err == nil && !bytes.Equal(now, flipped))
	o.reindexed = strings.Contains(log.String(), "indexed packs missing from the index")
	o.repaired = fl.kind == kindRecord && bytes.Equal(now, orig)
	cat := volume.NewCatalog(st)
	restoreAll(ctx, t, rs, cat, st, work, o)
	if fuse {
		o.fuseChecked = true
		readAllFUSE(t, rs, cat, st, work, o)
	}
	return o
}

// openRot opens a store copy, its log going to w.
func openRot(ctx context.Context, dir string, w io.Writer) (*cas.Store, error) {
	return cas.Open(ctx, dir, cas.Options{Logger: slog.New(slog.NewTextHandler(w, nil))})
}

// restoreAll restores every volume of every source snapshot.
func restoreAll(ctx context.Context, t *testing.T, rs *rotStore, cat *volume.Catalog, st *cas.Store, work string, o *rotOutcome) {
	out := filepath.Join(work, "restored.img")
	for seq, vols := range rs.src {
		_, snap, err := cat.Resolve(ctx, fmt.Sprintf("%s@%d", rs.vg, seq))
		if err != nil {
			o.fails = append(o.fails, fmt.Sprintf("snapshot %d: %v", seq, err))
			continue
		}
		for _, v := range snap.Volumes {
			want, ok := vols[v.Name]
			if !ok {
				o.wrong = append(o.wrong, fmt.Sprintf("snapshot %d lists unknown volume %q", seq, v.Name))
				continue
			}
			m, err := volume.LoadManifest(ctx, st, v.Manifest)
			if err == nil {
				_, err = restore.ToPath(ctx, st, m, out, restore.Options{Workers: 2})
			}
			if err != nil {
				o.fails = append(o.fails, fmt.Sprintf("restore %d/%s: %v", seq, v.Name, err))
				continue
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				o.wrong = append(o.wrong, fmt.Sprintf("restore %d/%s: %s", seq, v.Name, firstDiff(got, want)))
			}
		}
		if len(snap.Volumes) != len(vols) {
			o.fails = append(o.fails, fmt.Sprintf("snapshot %d lists %d volumes, not %d", seq, len(snap.Volumes), len(vols)))
		}
	}
}

// readAllFUSE reads every volume of every snapshot through a mount of the
// damaged store: each read returns the exact bytes or fails with EIO.
func readAllFUSE(t *testing.T, rs *rotStore, cat *volume.Catalog, st *cas.Store, work string, o *rotOutcome) {
	mnt := filepath.Join(work, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := Mount(context.Background(), mnt, cat, st, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		o.fails = append(o.fails, "mount: "+err.Error())
		return
	}
	defer func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	}()
	for seq, vols := range rs.src {
		for name, want := range vols {
			got, err := os.ReadFile(filepath.Join(mnt, rs.vg, fmt.Sprint(seq), name+".img"))
			switch {
			case errors.Is(err, syscall.EIO):
				o.fuseEIO++
				o.fails = append(o.fails, fmt.Sprintf("fuse %d/%s: %v", seq, name, err))
			case err != nil && strings.Contains(err.Error(), "no such file"):
				o.fails = append(o.fails, fmt.Sprintf("fuse %d/%s: %v", seq, name, err))
			case err != nil:
				o.wrong = append(o.wrong, fmt.Sprintf("fuse %d/%s: not EIO: %v", seq, name, err))
			case !bytes.Equal(got, want):
				o.wrong = append(o.wrong, fmt.Sprintf("fuse %d/%s: %s", seq, name, firstDiff(got, want)))
			}
		}
	}
}

// firstDiff describes where got first differs from want.
func firstDiff(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("byte %d is %#x, want %#x", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("%d bytes, want %d", len(got), len(want))
}
