package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/nbd"
	"github.com/vmrep/vmrep/internal/reliability"
	"github.com/vmrep/vmrep/internal/testdisk"
	"github.com/vmrep/vmrep/internal/testqsd"
)

// qsdRepo is a store and a VG whose boot volume a qemu-storage-daemon
// serves over NBD, with QMP.
type qsdRepo struct {
	*repo
	qsd *testqsd.Daemon
	vg  volume.VG
	dir string
	// failFlush makes snap's store refuse to flush.
	failFlush bool
}

func newQSDRepo(t *testing.T, size int64) *qsdRepo {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.qcow2")
	testqsd.Image(t, img, size)
	q := testqsd.Start(t, img, "boot")
	r := newRepo(t, filepath.Join(dir, "repo"))
	vg := r.createVG(t, "web", volume.Volume{Name: "boot", Role: volume.RoleBoot, Source: q.URI(), QMP: q.QMPSock})
	return &qsdRepo{repo: r, qsd: q, vg: vg, dir: dir}
}

// snap takes a snapshot as the daemon does (through an Ingester, so the
// volume's QMP socket is used) and returns it with the log lines.
func (q *qsdRepo) snap(t *testing.T, full bool) (volume.Snapshot, []string) {
	t.Helper()
	in, err := ingest.New(q.store.Config().Chunker, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	w := q.store.NewWriter()
	defer w.Close()
	var store ingest.Store = w
	if q.failFlush {
		store = failFlush{w}
	}
	var paths []string
	for _, v := range q.vg.Volumes {
		paths = append(paths, v.Source)
	}
	sn, _, err := in.Snapshot(context.Background(), store, q.cat, q.vg, paths, ingest.SnapshotOptions{
		Pages: q.store, Full: full, Log: func(m string) { log = append(log, m) }})
	if q.failFlush {
		if err == nil {
			t.Fatal("snapshot with a failing store succeeded")
		}
		return sn, log
	}
	if err != nil {
		t.Fatal(err)
	}
	return sn, log
}

// failFlush is a store whose Flush fails, so the snapshot fails after it
// read everything.
type failFlush struct{ ingest.Store }

func (failFlush) Flush(context.Context) error { return errors.New("flush refused by the test") }

// image reads the whole export as it is now.
func (q *qsdRepo) image(t *testing.T) string {
	t.Helper()
	c := q.qsd.Dial(context.Background())
	defer c.Close()
	out := filepath.Join(q.dir, "want.raw")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, io.NewSectionReader(c, 0, c.Size())); err != nil {
		t.Fatal(err)
	}
	return out
}

// check restores sn and compares it with the export's bytes now.
func (q *qsdRepo) check(t *testing.T, sn volume.Snapshot) {
	t.Helper()
	want := q.image(t)
	got := filepath.Join(q.dir, "got.raw")
	os.Remove(got)
	if err := q.restore(t, sn, "boot", got); err != nil {
		t.Fatal(err)
	}
	cmpFiles(t, got, want)
}

// write puts n random blocks of blk bytes at random block-aligned offsets
// and returns how many bytes it wrote.
func write(t *testing.T, c *nbd.Conn, rng *rand.Rand, n int, blk int64) int64 {
	t.Helper()
	buf := make([]byte, blk)
	for range n {
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		off := rng.Int64N(c.Size()/blk) * blk
		if _, err := c.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	return int64(n) * blk
}

// fill writes data over half the disk in 1 MiB extents, so it has holes
// as a used disk does.
func fill(t *testing.T, c *nbd.Conn, rng *rand.Rand) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < c.Size(); off += 2 << 20 {
		copy(buf, testdisk.Content(rng, int(off>>21)%3, int64(len(buf))))
		if _, err := c.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

func noted(t *testing.T, sn volume.Snapshot, want string) {
	t.Helper()
	if n := sn.Volumes[0].ReadNote; !strings.Contains(n, want) {
		t.Errorf("snapshot %d: read note %q, want it to say %q", sn.Seq, n, want)
	}
}

// The dirty bitmap chain over a real qemu-storage-daemon: the first
// snapshot reads the allocated data, each next one only about what was
// written since, and every snapshot restores to the export's bytes.
func TestReliabilityQEMUDirtyBitmap(t *testing.T) {
	res := reliability.Start(t, "qemu dirty bitmaps", "rewrites 1% of a qcow2's 64 KiB blocks through NBD between snapshots; each snapshot reads what its dirty bitmap marks and restores byte-identical")
	size := int64(reliability.Size(256, 4096)) << 20
	q := newQSDRepo(t, size)
	rng := rand.New(rand.NewPCG(20, 1))
	c := q.qsd.Dial(context.Background())
	defer c.Close()
	fill(t, c, rng)

	t0 := time.Now()
	s1, _ := q.snap(t, false)
	fullTime := time.Since(t0)
	noted(t, s1, "first snapshot: full read")
	full := s1.Volumes[0].ReadBytes
	q.check(t, s1)
	if s1.Volumes[0].DirtyBitmap == "" {
		t.Fatal("first snapshot recorded no dirty bitmap")
	}
	// 64 KiB writes (a qcow2 cluster, the bitmap's granularity) cost the
	// most: chunking needs a change's bytes from the chunk boundary before
	// it to the first boundary after it that a full read shares, about a
	// chunk on each side. The bitmap vouches that the bytes around the
	// change are the last snapshot's, so they come from its chunks in the
	// store, and only the dirty extents are read from the source.
	bad := 0
	for round, blk := range []int64{1 << 20, 1 << 20, 64 << 10} {
		written := write(t, c, rng, int(size/blk/100), blk)
		t0 = time.Now()
		sn, _ := q.snap(t, false)
		took := time.Since(t0)
		noted(t, sn, "dirty bitmap "+s1.Volumes[0].DirtyBitmap+": ")
		q.check(t, sn)
		read, fromBase := sn.Volumes[0].ReadBytes, sn.Volumes[0].BaseBytes
		t.Logf("round %d: wrote %d bytes in %d KiB blocks, read %d from the source (%.2fx) and %d from the store in %v; the full read of %d bytes took %v",
			round, written, blk>>10, read, float64(read)/float64(written), fromBase, took.Round(time.Millisecond), full, fullTime.Round(time.Millisecond))
		if read > 2*written {
			bad++
			t.Errorf("round %d: read %d bytes for %d written in %d KiB blocks (want at most 2x)", round, read, written, blk>>10)
		}
		res.Figures[fmt.Sprintf("round %d: %d KiB writes, read/written", round, blk>>10)] = fmt.Sprintf("%d/%d (%.2fx), %d from the store, in %v", read, written, float64(read)/float64(written), fromBase, took.Round(time.Millisecond))
		s1 = sn
	}
	res.Size = fmt.Sprintf("%d MiB qcow2, half allocated, 3 rounds of 1%% rewritten", size>>20)
	res.Bad["reads over 2x the writes"] = bad
	res.Figures["full read"] = fmt.Sprintf("%d bytes in %v", full, fullTime.Round(time.Millisecond))
}
