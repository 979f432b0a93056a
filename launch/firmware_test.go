package launch

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// disk builds a small image: an MBR with the given partition types and,
// when gptTypes is set, a GPT header at LBA 1 with entries at LBA 2.
func disk(t *testing.T, mbrTypes []byte, gptTypes [][]byte, sig bool) string {
	t.Helper()
	img := make([]byte, 64*sector)
	for i, typ := range mbrTypes {
		e := img[446+16*i:]
		e[4] = typ
		binary.LittleEndian.PutUint32(e[8:], 2048)
		binary.LittleEndian.PutUint32(e[12:], 1000)
	}
	if sig {
		img[510], img[511] = 0x55, 0xaa
	}
	if gptTypes != nil {
		h := img[sector:]
		copy(h, "EFI PART")
		binary.LittleEndian.PutUint64(h[72:], 2)
		binary.LittleEndian.PutUint32(h[80:], 128)
		binary.LittleEndian.PutUint32(h[84:], 128)
		for i, g := range gptTypes {
			copy(img[2*sector+128*i:], g)
		}
	}
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, img, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHasESP(t *testing.T) {
	linuxGUID := []byte{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4}
	tests := []struct {
		name string
		path string
		want bool
	}{
		{"MBR with one Linux partition", disk(t, []byte{0x83}, nil, true), false},
		{"MBR with an ESP (0xEF) second", disk(t, []byte{0x83, 0xef}, nil, true), true},
		{"MBR without the 55AA signature", disk(t, []byte{0xef}, nil, false), false},
		{"no partition table", disk(t, nil, nil, false), false},
		{"GPT with an ESP", disk(t, []byte{0xee}, [][]byte{linuxGUID, espGUID}, true), true},
		{"GPT without an ESP", disk(t, []byte{0xee}, [][]byte{linuxGUID}, true), false},
		{"protective MBR, no GPT header", disk(t, []byte{0xee}, nil, true), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := HasESP(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("HasESP = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHasESPShortAndBadFiles(t *testing.T) {
	short := filepath.Join(t.TempDir(), "short.img")
	if err := os.WriteFile(short, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := HasESP(short); err != nil || got {
		t.Errorf("100-byte file: HasESP = %v, %v; want false, nil", got, err)
	}
	if _, err := HasESP(filepath.Join(t.TempDir(), "missing.img")); err == nil {
		t.Error("missing file: no error")
	}
	// A GPT header claiming a huge entry table is refused, not allocated.
	p := disk(t, []byte{0xee}, [][]byte{}, true)
	b, _ := os.ReadFile(p)
	binary.LittleEndian.PutUint32(b[sector+80:], 1<<30)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := HasESP(p); err == nil {
		t.Error("GPT with 2^30 entries: no error")
	}
}

func TestFindOVMF(t *testing.T) {
	dir := t.TempDir()
	if _, _, ok := findOVMF(dir); ok {
		t.Fatal("empty dir: found OVMF")
	}
	for _, n := range []string{"OVMF_CODE.fd", "OVMF_VARS.fd"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, vars, ok := findOVMF(dir)
	if !ok || filepath.Base(code) != "OVMF_CODE.fd" || filepath.Base(vars) != "OVMF_VARS.fd" {
		t.Errorf("findOVMF = %q, %q, %v", code, vars, ok)
	}
}
