package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	vdi := make([]byte, 0x48)
	copy(vdi, "<<< Oracle VM VirtualBox Disk Image >>>\n")
	copy(vdi[0x40:], vdiMagic)
	tests := []struct {
		name   string
		header []byte
		want   string
	}{
		{"empty", nil, "raw"},
		{"zeros", make([]byte, 4096), "raw"},
		{"mbr", append(make([]byte, 510), 0x55, 0xaa), "raw"},
		{"qcow2", []byte("QFI\xfb\x00\x00\x00\x03"), "qcow2"},
		{"qcow2 truncated magic", []byte("QFI"), "raw"},
		{"vmdk sparse", []byte("KDMV\x01\x00\x00\x00"), "vmdk"},
		{"vmdk cowd", []byte("COWD"), "vmdk"},
		{"vmdk descriptor", []byte("# Disk DescriptorFile\nversion=1\n"), "vmdk"},
		{"vhdx", []byte("vhdxfile\x00\x00"), "vhdx"},
		{"vpc", []byte("conectix\x00\x00\x00\x02"), "vpc"},
		{"vdi", vdi, "vdi"},
		{"vdi without magic", vdi[:0x40], "raw"},
		{"qed", []byte("QED\x00"), "qed"},
		{"parallels", []byte("WithoutFreeSpace"), "parallels"},
		{"luks", []byte("LUKS\xba\xbe\x00\x01"), "luks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect(tt.header); got != tt.want {
				t.Errorf("Detect = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vhdxHdr := make([]byte, 400<<10)
	copy(vhdxHdr, "vhdxfile")
	tests := []struct {
		name    string
		path    string
		want    string // substring of the error
		wantErr error
	}{
		{"missing", filepath.Join(dir, "nope.img"), "no such file", os.ErrNotExist},
		{"directory", dir, "is a directory", nil},
		{"char device", "/dev/null", "not a regular file or block device", nil},
		{"vpc", write("x.vpc", []byte("conectix\x00\x00\x00\x02")), "unsupported format vpc", ErrUnsupported},
		{"qcow2 truncated", write("t.qcow2", []byte("QFI\xfb\x00\x00\x00\x03")), "qcow2 header", nil},
		{"qcow2 huge L1", write("l1.qcow2", qcow2Header(16, 1<<40, 1<<30)), "L1 table", ErrCorrupt},
		{"vmdk truncated", write("t.vmdk", []byte("KDMV\x01\x00\x00\x00")), "vmdk sparse header", nil},
		{"vmdk descriptor no extents", write("d.vmdk", []byte("# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n")), "names no extents", ErrCorrupt},
		{"vmdk descriptor missing extent", write("m.vmdk", []byte("# Disk DescriptorFile\nRW 2048 FLAT \"gone-flat.vmdk\" 0\n")), "gone-flat.vmdk", os.ErrNotExist},
		{"vmdk with parent", write("p.vmdk", []byte("# Disk DescriptorFile\nparentCID=12345678\nRW 2048 FLAT \"x\" 0\n")), "parent", ErrUnsupported},
		{"vhdx short", write("s.vhdx", []byte("vhdxfile")), "shorter than its headers", ErrCorrupt},
		{"vhdx no header", write("h.vhdx", vhdxHdr), "no valid header", ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Open(context.Background(), tt.path)
			if err == nil {
				r.Close()
				t.Fatalf("Open(%q) succeeded", tt.path)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, tt.path) || strings.Contains(msg, "\n") {
				t.Errorf("error %q should be one line naming %q and saying %q", msg, tt.path, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
		})
	}
}

func TestOpenUnsupportedMessage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.vpc"), []byte("conectix"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	_, err := Open(context.Background(), "x.vpc")
	if want := `source "x.vpc": unsupported format vpc`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

// qcow2Header builds a v3 header with the given cluster bits, virtual size
// and L1 entry count, for bounds tests.
func qcow2Header(clusterBits uint32, size uint64, l1 uint32) []byte {
	h := make([]byte, 4096)
	copy(h, "QFI\xfb")
	put32 := func(off int, v uint32) {
		h[off], h[off+1], h[off+2], h[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	put64 := func(off int, v uint64) { put32(off, uint32(v>>32)); put32(off+4, uint32(v)) }
	put32(4, 3)
	put32(20, clusterBits)
	put64(24, size)
	put32(36, l1)
	put64(40, 1<<16)
	put32(100, 104)
	return h
}
