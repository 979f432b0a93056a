// Package qmp is a small client of the QEMU Machine Protocol: JSON over a
// Unix socket to a QEMU process or a qemu-storage-daemon. It negotiates
// capabilities, runs commands one at a time and drops asynchronous events.
// It knows nothing of vmrep's use of it (dirty bitmaps, exports).
package qmp
