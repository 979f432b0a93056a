package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata seed images with qemu-img")

// seedImages are tiny 1 MiB disks, stored gzipped, that seed the fuzzers.
var seedImages = []struct {
	file string
	args []string
}{
	{"tiny.qcow2", []string{"-O", "qcow2", "-o", "cluster_size=4096"}},
	{"tiny-sparse.vmdk", []string{"-O", "vmdk", "-o", "subformat=monolithicSparse"}},
	{"tiny-stream.vmdk", []string{"-O", "vmdk", "-o", "subformat=streamOptimized"}},
	{"tiny.vhdx", []string{"-O", "vhdx", "-o", "subformat=dynamic,block_size=1M,log_size=1M"}},
}

func TestUpdateSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata")
	}
	requireTool(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	run(t, dir, "qemu-img", "create", "-q", "-f", "raw", "d.raw", "1M")
	run(t, dir, "qemu-io", "-f", "raw", "-c", "write -P 0x11 0 64k", "-c", "write -P 0x22 512k 4k", "d.raw")
	for _, s := range seedImages {
		run(t, dir, "qemu-img", append(append([]string{"convert", "-f", "raw"}, s.args...), "d.raw", s.file)...)
		data, err := os.ReadFile(filepath.Join(dir, s.file))
		if err != nil {
			t.Fatal(err)
		}
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		w.Write(data)
		w.Close()
		if err := os.WriteFile(filepath.Join("testdata", s.file+".gz"), gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func loadSeed(t testing.TB, file string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSeedImages proves the seeds decode to what they were made from.
func TestSeedImages(t *testing.T) {
	want := make([]byte, 1<<20)
	copy(want, bytes.Repeat([]byte{0x11}, 64<<10))
	copy(want[512<<10:], bytes.Repeat([]byte{0x22}, 4<<10))
	for _, s := range seedImages {
		t.Run(s.file, func(t *testing.T) {
			r := openBytes(t, s.file, loadSeed(t, s.file))
			if r == nil {
				t.Fatal("seed does not open")
			}
			defer r.Close()
			if i := firstDiff(readAll(t, r, 1<<20), want); i >= 0 {
				t.Fatalf("differs at %d", i)
			}
			checkAllocated(t, r, want)
		})
	}
}

// openBytes writes data to a file and opens it; nil when Open fails.
func openBytes(t testing.TB, name string, data []byte) Reader {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), p)
	if err != nil {
		return nil
	}
	return r
}

// exercise reads everything a decoder claims to hold; errors are fine,
// panics and runaway allocations are not.
func exercise(r Reader) {
	defer r.Close()
	if r.Size() > 64<<20 {
		return
	}
	buf := make([]byte, 256<<10)
	for off := int64(0); off < r.Size(); off += int64(len(buf)) {
		if _, err := r.ReadAt(buf, off); err != nil && err != io.EOF {
			break
		}
	}
	n := 0
	r.Allocated(context.Background(), func(Range) error {
		if n++; n > 1<<16 {
			return io.EOF
		}
		return nil
	})
}

func FuzzDetect(f *testing.F) {
	for _, s := range seedImages {
		b := loadSeed(f, s.file)
		f.Add(b[:min(len(b), 4096)])
	}
	f.Add([]byte("# Disk DescriptorFile\n"))
	f.Fuzz(func(t *testing.T, header []byte) {
		if Detect(header) == "" {
			t.Fatal("empty format name")
		}
	})
}

// fuzzPatched fuzzes a decoder by overwriting bytes of real seed images,
// which reaches deep into the format far faster than random files.
func fuzzPatched(f *testing.F, files ...string) {
	var bases [][]byte
	for _, file := range files {
		bases = append(bases, loadSeed(f, file))
	}
	for i, b := range bases {
		for _, at := range []uint32{0, 8, 12, 20, 28, 44, 56, 512, 64 << 10, 128 << 10, 192 << 10, 1 << 20, 2 << 20} {
			if int(at) < len(b) {
				f.Add(uint8(i), at, b[at:min(len(b), int(at)+16)])
			}
		}
		f.Add(uint8(i), uint32(len(b)-1024), []byte{0xff, 0xff, 0xff, 0xff})
	}
	f.Fuzz(func(t *testing.T, which uint8, at uint32, patch []byte) {
		base := bases[int(which)%len(bases)]
		data := append([]byte{}, base...)
		if int(at) < len(data) {
			copy(data[at:], patch)
		} else {
			data = append(data[:len(data)/2], patch...)
		}
		if r := openBytes(t, "fuzz.img", data); r != nil {
			exercise(r)
		}
	})
}

func FuzzVMDK(f *testing.F)  { fuzzPatched(f, "tiny-sparse.vmdk", "tiny-stream.vmdk") }
func FuzzVHDX(f *testing.F)  { fuzzPatched(f, "tiny.vhdx") }
func FuzzQcow2(f *testing.F) { fuzzPatched(f, "tiny.qcow2") }

// FuzzVMDKDescriptor feeds arbitrary descriptor text.
func FuzzVMDKDescriptor(f *testing.F) {
	f.Add([]byte("# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"x-flat.vmdk\" 0\nRW 10 ZERO\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		parseVMDKDescriptor(text)
	})
}
