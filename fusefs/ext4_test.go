package fusefs

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExt4LoopMount builds an ext4 image from a generated tree, ingests
// it, loop-mounts it read-only from the FUSE file and compares every file
// with the source tree; fsck.ext4 -n on the FUSE file must be clean.
func TestExt4LoopMount(t *testing.T) {
	requireFUSE(t)
	requireTool(t, "mkfs.ext4")
	requireTool(t, "fsck.ext4")
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	want := generateTree(t, tree, 300)
	img := filepath.Join(tmp, "fs.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	run(t, "mkfs.ext4", "-q", "-F", "-d", tree, img)

	f := newFixture(t, nil)
	vg := f.createVG(t, "ext", map[string]string{"root": img}, "root")
	f.snapshot(t, vg)
	m := f.mount(t, Options{})
	fuseImg := filepath.Join(m.Dir(), "ext", "latest", "root.img")

	mnt := filepath.Join(tmp, "loop")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", "-o", "loop,ro", fuseImg, mnt)
	// Registered after the FUSE mount's cleanup, so it runs first.
	t.Cleanup(func() { run(t, "umount", mnt) })

	got := 0
	err := filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(mnt, p)
		sum, err := fileSHA(p)
		if err != nil {
			return err
		}
		if w, ok := want[rel]; !ok || w != sum {
			t.Errorf("%s: sha256 %x, source %x (present %v)", rel, sum, w, ok)
		}
		got++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("loop mount holds %d files, source tree %d", got, len(want))
	}
	run(t, "fsck.ext4", "-n", "-f", fuseImg)
}

// generateTree writes n files in nested directories, random and text,
// about 10 MiB in all, and returns their SHA-256 by relative path.
func generateTree(t *testing.T, dir string, n int) map[string][32]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 42))
	sums := make(map[string][32]byte, n)
	for i := range n {
		rel := filepath.Join(fmt.Sprintf("d%d", i%7), fmt.Sprintf("s%d", i%3), fmt.Sprintf("f%03d", i))
		size := rng.IntN(64 << 10)
		if i%50 == 0 {
			size = 1<<20 + rng.IntN(1<<20)
		}
		b := make([]byte, size)
		if i%2 == 0 {
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		} else {
			line := strings.Repeat(fmt.Sprintf("file %d line ", i), 4) + "\n"
			for j := range b {
				b[j] = line[j%len(line)]
			}
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sums[rel] = sha256.Sum256(b)
	}
	return sums
}

func fileSHA(p string) ([32]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
