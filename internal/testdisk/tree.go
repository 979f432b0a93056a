package testdisk

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// TreeSpec says what a generated tree holds.
type TreeSpec struct {
	Seed  uint64
	Files int   // number of files
	Bytes int64 // about this many bytes in all
}

var words = []string{"the ", "volume ", "group ", "snapshot ", "kernel ", "boot ", "data ", "chunk ", "error\n", "ok\n", "vmrep ", "replica "}

// Tree writes a generated tree of files under dir: a third random, a third
// text, a third mixed, in nested directories. It returns the file paths
// relative to dir.
func Tree(dir string, spec TreeSpec) ([]string, error) {
	rng := rand.New(rand.NewPCG(spec.Seed, 0x7e57))
	per := spec.Bytes / int64(max(spec.Files, 1))
	var names []string
	for i := range spec.Files {
		sub := filepath.Join(fmt.Sprintf("d%02d", i%13), fmt.Sprintf("s%d", i%5))
		name := filepath.Join(sub, fmt.Sprintf("f%05d.%s", i, []string{"bin", "txt", "log"}[i%3]))
		size := per/2 + rng.Int64N(per+1)
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), Content(rng, i%3, size), 0o644); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// Content makes size bytes of kind 0 (random), 1 (text) or 2 (half each).
func Content(rng *rand.Rand, kind int, size int64) []byte {
	b := make([]byte, size)
	switch kind {
	case 0:
		fillRandom(rng, b)
	case 1:
		fillText(rng, b)
	default:
		fillRandom(rng, b[:size/2])
		fillText(rng, b[size/2:])
	}
	return b
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(rng.Uint32())
	}
}

func fillText(rng *rand.Rand, b []byte) {
	for i := 0; i < len(b); {
		i += copy(b[i:], words[rng.IntN(len(words))])
	}
}
