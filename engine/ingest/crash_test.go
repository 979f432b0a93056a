package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testdisk"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

const childEnv = "VMREP_INGEST_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := crashChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild snapshots the images named in spec ("store|vg|img1|img2...")
// one after another, forever, until it is killed.
func crashChild(spec string) error {
	parts := strings.Split(spec, "|")
	ctx := context.Background()
	s, err := cas.Open(ctx, parts[0], cas.Options{})
	if err != nil {
		return err
	}
	r := &repo{store: s, cat: volume.NewCatalog(s)}
	p := s.Config().Chunker
	if r.cut, err = ingest.NewCutter(p); err != nil {
		return err
	}
	vg, err := r.cat.GetVG(ctx, parts[1])
	if err != nil {
		return err
	}
	imgs := parts[2:]
	for i := 0; ; i++ {
		img := imgs[i%len(imgs)]
		open := func(ctx context.Context, v volume.Volume) (source.Reader, error) { return source.Open(ctx, img) }
		if _, _, err := ingest.Snapshot(ctx, r.store, r.cat, vg, open, ingest.SnapshotOptions{Options: ingest.Options{Cutter: r.cut}}); err != nil {
			return err
		}
	}
}

// A child ingesting snapshots is killed with SIGKILL at 50 random moments.
// After each, the store opens, verifies clean, and every snapshot it lists
// is whole: its manifest is one of the images' and every chunk is there.
func TestCrashDuringIngest(t *testing.T) {
	work := t.TempDir()
	var imgs []string
	for i := range 3 {
		img := filepath.Join(work, fmt.Sprintf("v%d.img", i))
		rng := newRand(uint64(10 + i))
		data := append(testdisk.Content(rng, 0, 12<<20), testdisk.Content(rng, 1, 6<<20)...)
		if err := os.WriteFile(img, data, 0o644); err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	dir := filepath.Join(work, "store")
	r := newRepo(t, dir)
	vg := r.createVG(t, "crash", volume.Volume{Name: "boot", Role: volume.RoleBoot, Source: imgs[0]})

	// The manifests a complete snapshot may name, from a store of their own.
	known := map[blob.ID]bool{}
	ref := newRepo(t, filepath.Join(work, "ref"))
	for _, img := range imgs {
		src, err := source.Open(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		st, err := ingest.Volume(context.Background(), ref.store, src, ingest.Options{Cutter: ref.cut})
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		known[st.ID] = true
	}
	r.store.Close()

	rng := newRand(99)
	var complete int
	kills := 50
	if testing.Short() {
		kills = 10
	}
	spec := strings.Join(append([]string{dir, vg.ID}, imgs...), "|")
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+spec)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wait := time.Duration(rng.IntN(600)) * time.Millisecond
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			t.Fatalf("kill %d: child exited by itself: %v: %s", i, err, stderr.String())
		case <-time.After(wait):
		}
		cmd.Process.Kill()
		<-exited

		r := openRepo(t, dir)
		verifyClean(t, r, i%10 == 9)
		snaps, err := r.cat.ListSnapshots(context.Background(), vg.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snaps {
			if len(s.Volumes) != 1 || !known[s.Volumes[0].Manifest] {
				t.Fatalf("kill %d after %v: snapshot %d is not a complete snapshot of an image", i, wait, s.Seq)
			}
		}
		if t.Failed() {
			t.Fatalf("kill %d after %v: store not clean", i, wait)
		}
		complete = len(snaps)
		r.store.Close()
	}
	t.Logf("%d kills, %d complete snapshots survived them", kills, complete)
}

// fingerprint lists every file of a store with its size and modification
// time, so a test can tell that a failed command changed nothing. The index
// is a cache of the rest and tmp/ is scratch space emptied at open.
func fingerprint(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasPrefix(p, filepath.Join(dir, "index")) || strings.HasPrefix(p, filepath.Join(dir, "tmp")) || filepath.Base(p) == "lock" {
			return nil
		}
		lines = append(lines, fmt.Sprintf("%s %d %d", strings.TrimPrefix(p, dir), fi.Size(), fi.ModTime().UnixNano()))
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Bad input gets an error naming the file and leaves the store as it was.
func TestBadSourceChangesNothing(t *testing.T) {
	testdisk.Need(t, "qemu-img")
	work := t.TempDir()
	good := filepath.Join(work, "good.img")
	if err := os.WriteFile(good, testdisk.Content(newRand(3), 2, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(work, "truncated.qcow2")
	if out, err := exec.Command("qemu-img", "convert", "-O", "qcow2", good, truncated).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	fi, _ := os.Stat(truncated)
	os.Truncate(truncated, fi.Size()/2)

	big := filepath.Join(work, "big.img")
	if err := os.WriteFile(big, testdisk.Content(newRand(4), 0, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(work, "store")
	r := newRepo(t, dir)
	vg := r.createVG(t, "vm", volume.Volume{Name: "boot", Role: volume.RoleBoot, Source: good})
	if _, err := r.snapshot(context.Background(), vg); err != nil {
		t.Fatal(err)
	}
	before := fingerprint(t, dir)

	for name, path := range map[string]string{
		"missing":   filepath.Join(work, "nope.img"),
		"directory": work,
		"truncated": truncated,
	} {
		bad := vg
		bad.Volumes = []volume.Volume{{ID: vg.Volumes[0].ID, Name: "boot", Role: volume.RoleBoot, Source: path}}
		_, err := r.snapshot(context.Background(), bad)
		if err == nil {
			t.Errorf("%s source: snapshot succeeded", name)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, filepath.Base(path)) {
			t.Errorf("%s source: error %q is not one line naming the file", name, msg)
		}
	}
	snaps, _ := r.cat.ListSnapshots(context.Background(), vg.ID)
	if len(snaps) != 1 {
		t.Errorf("%d snapshots after failed ones, want 1", len(snaps))
	}
	// A source that fails half way, after chunks were stored.
	failing := func(ctx context.Context, v volume.Volume) (source.Reader, error) {
		src, err := source.Open(ctx, big)
		return &failAfter{Reader: src, at: 3 << 20}, err
	}
	if _, err := r.snapshotFrom(context.Background(), vg, failing); err == nil || !strings.Contains(err.Error(), "media error") {
		t.Errorf("failing source: err = %v", err)
	}
	if err := r.store.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	snaps, _ = r.cat.ListSnapshots(context.Background(), vg.ID)
	if len(snaps) != 1 {
		t.Errorf("%d snapshots after failed ones, want 1", len(snaps))
	}
	if after := fingerprint(t, dir); after != before {
		t.Errorf("failed snapshots changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// failAfter is a source whose reads fail past an offset, as a dying disk's.
type failAfter struct {
	source.Reader
	at int64
}

func (f *failAfter) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.at {
		return 0, errors.New("media error")
	}
	return f.Reader.ReadAt(p, off)
}
