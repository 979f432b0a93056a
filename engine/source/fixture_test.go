package source

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// requireTool fails in CI and skips elsewhere when an image tool is missing,
// so CI never passes by skipping.
func requireTool(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI (apt-get install -y qemu-utils e2fsprogs): %v", name, err)
			}
			t.Skipf("%s not installed: %v", name, err)
		}
	}
}

func run(t testing.TB, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// fixture is a set of images of one raw disk, built once per test binary.
type fixture struct {
	dir    string
	images map[string]string // name -> path
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  string
	fixDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixDir != "" {
		os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

// images returns the shared fixture: a 64 MiB raw disk with an ext4 file
// system, random data, written zeros and holes, and its conversions.
func images(t testing.TB) *fixture {
	t.Helper()
	requireTool(t, "qemu-img", "qemu-io", "mkfs.ext4")
	fixOnce.Do(func() {
		dir, err := os.MkdirTemp("", "source-fixture-")
		if err != nil {
			fixErr = err.Error()
			return
		}
		fixDir = dir
		fix, fixErr = buildFixture(dir)
	})
	if fix == nil {
		t.Fatalf("build fixture: %s", fixErr)
	}
	return fix
}

func buildFixture(dir string) (f *fixture, msg string) {
	defer func() {
		if r := recover(); r != nil {
			f, msg = nil, fmt.Sprint(r)
		}
	}()
	ft := &fixTB{}
	f = &fixture{dir: dir, images: map[string]string{}}
	writeRawDisk(ft, dir, filepath.Join(dir, "disk.raw"), 64<<20)
	f.images["raw"] = filepath.Join(dir, "disk.raw")
	convs := []struct {
		name string
		args []string
	}{
		{"qcow2", []string{"-O", "qcow2"}},
		{"qcow2-compressed", []string{"-O", "qcow2", "-c"}},
		{"vmdk-sparse", []string{"-O", "vmdk", "-o", "subformat=monolithicSparse"}},
		{"vmdk-stream", []string{"-O", "vmdk", "-o", "subformat=streamOptimized"}},
		{"vmdk-flat", []string{"-O", "vmdk", "-o", "subformat=monolithicFlat"}},
		{"vhdx-dynamic", []string{"-O", "vhdx", "-o", "subformat=dynamic"}},
		{"vhdx-fixed", []string{"-O", "vhdx", "-o", "subformat=fixed"}},
	}
	for _, c := range convs {
		name := c.name + ".img"
		args := append([]string{"convert", "-f", "raw"}, c.args...)
		run(ft, dir, "qemu-img", append(args, "disk.raw", name)...)
		f.images[c.name] = filepath.Join(dir, name)
	}
	// An overlay whose changes include a zero cluster over base data.
	run(ft, dir, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "disk.raw", "base.qcow2")
	run(ft, dir, "qemu-img", "create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2")
	run(ft, dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1M 64k", "-c", "write -z 40M 128k",
		"-c", "write -P 0x5c 60M 4k", "top.qcow2")
	f.images["qcow2-backing"] = filepath.Join(dir, "top.qcow2")
	return f, ""
}

// fixTB lets the fixture builder use helpers that take a testing.TB.
type fixTB struct{ testing.TB }

func (fixTB) Helper()                   {}
func (fixTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// writeRawDisk lays out a disk: an ext4 file system made from a generated
// tree, random data regions, explicitly written zeros, and holes.
func writeRawDisk(t testing.TB, dir, path string, size int64) {
	t.Helper()
	tree := filepath.Join(dir, "tree")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		sub := filepath.Join(tree, fmt.Sprintf("d%d", i%5))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatalf("mkdir: %v", err)
		}
		data := make([]byte, rng.IntN(200<<10))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		if i%3 == 0 {
			data = bytes.Repeat([]byte("vmrep "), len(data)/6)
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d", i)), data, 0o644); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	fsImg := filepath.Join(dir, "fs.img")
	run(t, dir, "mkfs.ext4", "-q", "-F", "-d", tree, fsImg, "24M")
	fsData, err := os.ReadFile(fsImg)
	if err != nil {
		t.Fatalf("read fs: %v", err)
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	defer out.Close()
	if err := out.Truncate(size); err != nil {
		t.Fatalf("truncate: %v", err)
	}
	writeAt := func(p []byte, off int64) {
		if _, err := out.WriteAt(p, off); err != nil {
			t.Fatalf("write disk: %v", err)
		}
	}
	writeAt(fsData, 0)
	for _, r := range []struct{ off, n int64 }{{32 << 20, 1 << 20}, {40 << 20, 3 << 20}, {50<<20 + 4096, 12345}, {size - 8192, 8192}} {
		p := make([]byte, r.n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		writeAt(p, r.off)
	}
	writeAt(make([]byte, 1<<20), 45<<20) // zeros that occupy blocks
}
