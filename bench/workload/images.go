package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/internal/testdisk"
)

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
)

// OSTree writes a tree that looks like an installed system under dir: many
// small files (a quarter of the bytes), mid-sized ones (a quarter) and a few
// large ones (half), cycling through random (incompressible), text
// (compressible) and mixed content. It returns the paths relative to dir.
func OSTree(dir string, seed uint64, bytes int64) ([]string, error) {
	rng := rand.New(rand.NewPCG(seed, 0x05d15c))
	classes := []struct {
		share    int64 // quarters of bytes
		min, max int64
	}{
		{1, 1 * kib, 64 * kib},
		{1, 256 * kib, 4 * mib},
		{2, 8 * mib, 128 * mib},
	}
	var names []string
	n := 0
	for _, c := range classes {
		budget := bytes * c.share / 4
		for budget > 0 {
			size := min(c.min+rng.Int64N(c.max-c.min+1), budget)
			sub := fmt.Sprintf("usr/d%02d/s%d", n%17, n%7)
			name := filepath.Join(sub, fmt.Sprintf("f%06d", n))
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
				return nil, fmt.Errorf("make os tree dir %s: %w", sub, err)
			}
			data := testdisk.Content(rng, n%3, size)
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				return nil, fmt.Errorf("write os tree file %s: %w", name, err)
			}
			names = append(names, name)
			budget -= size
			n++
		}
	}
	return names, nil
}

// OSImage makes an ext4 image of size bytes at img from a generated tree
// filling about 55% of it, built in a directory under work that is removed
// afterwards. It returns the tree's file names (paths inside the image).
func OSImage(ctx context.Context, img, work string, seed uint64, size int64) ([]string, error) {
	dir, err := os.MkdirTemp(work, "ostree-")
	if err != nil {
		return nil, fmt.Errorf("os image %s: %w", img, err)
	}
	defer os.RemoveAll(dir)
	names, err := OSTree(dir, seed, size*55/100)
	if err != nil {
		return nil, err
	}
	if err := testdisk.Ext4(ctx, img, dir, int(size/mib)); err != nil {
		return nil, err
	}
	return names, nil
}

// Sparse makes a sparse image of size bytes with about frac of it written in
// extents of 1-8 MiB at random 1 MiB-aligned places, the rest holes.
func Sparse(path string, seed uint64, size int64, frac float64) error {
	rng := rand.New(rand.NewPCG(seed, 0x5ba25e))
	f, err := create(path, size)
	if err != nil {
		return err
	}
	defer f.Close()
	blocks := size / mib
	used := make([]bool, blocks)
	want := int64(float64(blocks) * frac)
	for done, kind := int64(0), 0; done < want; kind++ {
		n := min(1+rng.Int64N(8), want-done)
		at := rng.Int64N(max(blocks-n, 1))
		fresh := int64(0)
		for b := at; b < at+n; b++ {
			if !used[b] {
				used[b] = true
				fresh++
			}
		}
		if _, err := f.WriteAt(testdisk.Content(rng, kind%3, n*mib), at*mib); err != nil {
			return fmt.Errorf("write sparse image %s: %w", path, err)
		}
		done += fresh
	}
	return f.Sync()
}

// Mixed makes the size-sweep image: 1 MiB blocks, half random, a quarter
// text, a quarter left as holes, in a seeded order.
func Mixed(path string, seed uint64, size int64) error {
	rng := rand.New(rand.NewPCG(seed, 0x313ed))
	f, err := create(path, size)
	if err != nil {
		return err
	}
	defer f.Close()
	for off := int64(0); off < size; off += mib {
		n := min(mib, size-off)
		var kind int
		switch r := rng.IntN(4); r {
		case 0:
			continue // hole
		case 1:
			kind = 1
		}
		if _, err := f.WriteAt(testdisk.Content(rng, kind, n), off); err != nil {
			return fmt.Errorf("write mixed image %s: %w", path, err)
		}
	}
	return f.Sync()
}

func create(path string, size int64) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create image %s: %w", path, err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("size image %s: %w", path, err)
	}
	return f, nil
}
