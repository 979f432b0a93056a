package launch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Firmware names.
const (
	FirmwareBIOS = "bios" // SeaBIOS, QEMU's default
	FirmwareUEFI = "uefi" // OVMF
)

const sector = 512

// espGUID is the EFI system partition type C12A7328-F81F-11D2-BA4B-00A0C93EC93B
// as GPT stores it: the first three fields little-endian.
var espGUID = []byte{0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b}

// Bounds on what a partition table may make us read.
const (
	maxGPTEntries   = 1024
	maxGPTEntrySize = 4096
)

// HasESP reports whether the disk image at path has an EFI system
// partition: an MBR entry of type 0xEF, or, behind a protective MBR entry
// (0xEE), a GPT entry of the ESP type. A disk with neither, or without a
// partition table, has none.
func HasESP(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("read partition table of %s: %w", path, err)
	}
	defer f.Close()
	ok, err := hasESP(f)
	if err != nil {
		return false, fmt.Errorf("read partition table of %s: %w", path, err)
	}
	return ok, nil
}

func hasESP(r io.ReaderAt) (bool, error) {
	mbr := make([]byte, sector)
	if _, err := r.ReadAt(mbr, 0); errors.Is(err, io.EOF) {
		return false, nil // too small to hold a table
	} else if err != nil {
		return false, err
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return false, nil
	}
	protective := false
	for i := 0; i < 4; i++ {
		switch mbr[446+16*i+4] {
		case 0xef:
			return true, nil
		case 0xee:
			protective = true
		}
	}
	if !protective {
		return false, nil
	}
	return gptHasESP(r)
}

func gptHasESP(r io.ReaderAt) (bool, error) {
	hdr := make([]byte, 92)
	if _, err := r.ReadAt(hdr, sector); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	if !bytes.Equal(hdr[:8], []byte("EFI PART")) {
		return false, nil
	}
	lba := binary.LittleEndian.Uint64(hdr[72:])
	n := binary.LittleEndian.Uint32(hdr[80:])
	size := binary.LittleEndian.Uint32(hdr[84:])
	if n > maxGPTEntries || size < 128 || size > maxGPTEntrySize || lba > 1<<40 {
		return false, fmt.Errorf("GPT header: implausible entries (%d of %d bytes at LBA %d)", n, size, lba)
	}
	entries := make([]byte, int(n)*int(size))
	if _, err := r.ReadAt(entries, int64(lba)*sector); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	for i := 0; i < int(n); i++ {
		if bytes.Equal(entries[i*int(size):i*int(size)+16], espGUID) {
			return true, nil
		}
	}
	return false, nil
}

// ovmfPairs are the OVMF code and variable-store images Debian's ovmf
// package installs, best first; each code image needs the variables of
// its own size.
var ovmfPairs = [][2]string{
	{"OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"},
	{"OVMF_CODE.fd", "OVMF_VARS.fd"},
}

// findOVMF returns the first OVMF code and variables images found in dir.
func findOVMF(dir string) (code, vars string, ok bool) {
	for _, p := range ovmfPairs {
		c, v := filepath.Join(dir, p[0]), filepath.Join(dir, p[1])
		if fileExists(c) && fileExists(v) {
			return c, v, true
		}
	}
	return "", "", false
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// copyFile copies src to dst (a private OVMF variable store per VM).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
