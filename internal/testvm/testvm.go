// Package testvm makes tiny bootable disk images for the tests of the
// launch code: a guest that boots in well under a second, even under
// QEMU's TCG, so a test can exercise readiness, teardown and cancellation
// without a real operating system (scripts/sample-vm.sh builds that).
package testvm

import "os"

// ReadyLine is what a ReadyDisk guest prints on its serial console.
const ReadyLine = "vmrep-test: ready"

// ReadyDisk writes a 1 MiB raw disk image whose boot sector prints
// ReadyLine on COM1 and then loops forever, silent.
func ReadyDisk(path string) error {
	code := []byte{
		0xfc,       // cld
		0x31, 0xc0, // xor ax, ax
		0x8e, 0xd8, // mov ds, ax
		0xba, 0xf8, 0x03, // mov dx, 0x3f8 (COM1)
		0xbe, 0x15, 0x7c, // mov si, 0x7c15 (the text, after this code)
		0xac,       // next: lodsb
		0x84, 0xc0, // test al, al
		0x74, 0x03, // jz done
		0xee,       // out dx, al
		0xeb, 0xf8, // jmp next
		0xeb, 0xfe, // done: jmp done
	}
	b := make([]byte, 1<<20)
	copy(b, code)
	copy(b[len(code):], ReadyLine+"\r\n\x00")
	b[510], b[511] = 0x55, 0xaa
	return os.WriteFile(path, b, 0o600)
}
