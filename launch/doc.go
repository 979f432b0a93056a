// Package launch boots a replica's volumes in QEMU and watches the guest
// until it is ready or has failed: the test launch that proves a replica
// boots, and the real launch of a cutover.
//
// It knows disk image files, QEMU, its firmware and the guest's serial
// console, QMP and guest agent; it knows nothing of stores, snapshots or
// replicas' state files (the daemon hands it the volume files in order,
// boot volume first), and imports no other package of the project.
//
// A test launch puts a qcow2 overlay over every volume, so the images are
// opened read-only and never written; a real launch opens them writable
// and leaves the VM running until Instance.Stop. QEMU always runs with
// Pdeathsig set, so a daemon that dies takes its VMs with it.
package launch
