package workload

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/vmrep/vmrep/internal/testdisk"
)

// Copy copies the image src to dst keeping its holes (cp --sparse=always),
// so a mutation starts from the same bytes as the base.
func Copy(ctx context.Context, src, dst string) error {
	out, err := exec.CommandContext(ctx, "cp", "--sparse=always", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copy image %s to %s: %v: %s", src, dst, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Scatter writes random 4 KiB blocks at distinct random 4 KiB-aligned
// offsets of the image until frac of its blocks are written. It returns the
// number of bytes written.
func Scatter(p string, seed uint64, frac float64) (int64, error) {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("scatter writes into %s: %w", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("scatter writes into %s: %w", p, err)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5ca77e))
	blocks := st.Size() / (4 * kib)
	n := int64(float64(blocks) * frac)
	seen := make(map[int64]bool, n)
	for int64(len(seen)) < n {
		b := rng.Int64N(blocks)
		if seen[b] {
			continue
		}
		seen[b] = true
		if _, err := f.WriteAt(testdisk.Content(rng, 0, 4*kib), b*4*kib); err != nil {
			return 0, fmt.Errorf("scatter writes into %s: %w", p, err)
		}
	}
	return n * 4 * kib, f.Sync()
}

// Overwrite writes n random bytes at off, a sequential overwrite such as a
// guest rewriting a large file or a database.
func Overwrite(p string, seed uint64, off, n int64) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("overwrite %s: %w", p, err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(seed, 0x0e5e))
	for done := int64(0); done < n; done += 8 * mib {
		if _, err := f.WriteAt(testdisk.Content(rng, 0, min(8*mib, n-done)), off+done); err != nil {
			return fmt.Errorf("overwrite %s at %d: %w", p, off+done, err)
		}
	}
	return f.Sync()
}

// FileEdits changes files inside the ext4 image with debugfs, as a guest
// would between two snapshots: it deletes about 2% of names, rewrites 2%
// with new content of about the same size, and adds new files of about 1% of
// the tree's bytes in a new directory. Content comes from local files in
// work, removed afterwards.
func FileEdits(ctx context.Context, img, work string, seed uint64, names []string, treeBytes int64) error {
	rng := rand.New(rand.NewPCG(seed, 0xed17))
	dir, err := os.MkdirTemp(work, "edits-")
	if err != nil {
		return fmt.Errorf("file edits in %s: %w", img, err)
	}
	defer os.RemoveAll(dir)
	var cmds []string
	local := 0
	put := func(dest string, size int64) error {
		src := filepath.Join(dir, fmt.Sprintf("n%d", local))
		local++
		if err := os.WriteFile(src, testdisk.Content(rng, local%3, size), 0o644); err != nil {
			return fmt.Errorf("file edits in %s: %w", img, err)
		}
		cmds = append(cmds, fmt.Sprintf("write %s %s", src, dest))
		return nil
	}
	for _, name := range names {
		switch r := rng.IntN(100); {
		case r < 2:
			cmds = append(cmds, "rm /"+name)
		case r < 4:
			cmds = append(cmds, "rm /"+name)
			if err := put("/"+name, 1*kib+rng.Int64N(256*kib)); err != nil {
				return err
			}
		}
	}
	cmds = append(cmds, "mkdir /new")
	for added := int64(0); added < treeBytes/100; {
		size := 4*kib + rng.Int64N(2*mib)
		if err := put(path.Join("/new", fmt.Sprintf("a%05d", local)), size); err != nil {
			return err
		}
		added += size
	}
	return testdisk.Debugfs(ctx, img, cmds...)
}

// Changed counts the 4 KiB blocks that differ between two images, reading
// both whole; a block past the end of the shorter one counts as changed.
// It is the ground truth delta sizes are compared with.
func Changed(a, b string) (int64, error) {
	fa, err := os.Open(a)
	if err != nil {
		return 0, fmt.Errorf("compare images: %w", err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return 0, fmt.Errorf("compare images: %w", err)
	}
	defer fb.Close()
	const step = 4 << 20
	ba, bb := make([]byte, step), make([]byte, step)
	var changed int64
	for off := int64(0); ; off += step {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		n := max(na, nb)
		for i := 0; i < n; i += 4096 {
			ea, eb := min(i+4096, na), min(i+4096, nb)
			if i >= na || i >= nb || ea-i != eb-i || !bytes.Equal(ba[i:ea], bb[i:eb]) {
				changed += int64(min(4096, n-i))
			}
		}
		if (ea != nil) && (eb != nil) {
			return changed, nil
		}
		if ea != nil && ea != io.EOF && ea != io.ErrUnexpectedEOF {
			return 0, fmt.Errorf("read %s: %w", a, ea)
		}
		if eb != nil && eb != io.EOF && eb != io.ErrUnexpectedEOF {
			return 0, fmt.Errorf("read %s: %w", b, eb)
		}
	}
}
