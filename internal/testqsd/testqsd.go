// Package testqsd runs a qemu-storage-daemon for tests: one qcow2 image as
// an NBD export on a Unix socket, and QMP on another.
package testqsd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/nbd"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// Daemon is a running qemu-storage-daemon.
type Daemon struct {
	Image   string // the qcow2 file
	Export  string // the NBD export name
	NBDSock string
	QMPSock string
	dir     string
	cmd     *exec.Cmd
	t       testing.TB
}

// Start serves image (a qcow2 file) as export name over NBD, from a socket
// directory of its own. The daemon is stopped at the test's end.
func Start(t testing.TB, image, name string) *Daemon {
	t.Helper()
	testdisk.Need(t, "qemu-storage-daemon", "qemu-img")
	// Socket paths must stay short (108 bytes), so not under t.TempDir.
	dir, err := os.MkdirTemp("", "qsd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &Daemon{Image: image, Export: name, NBDSock: filepath.Join(dir, "nbd.sock"),
		QMPSock: filepath.Join(dir, "qmp.sock"), dir: dir, t: t}
	d.start()
	t.Cleanup(d.Stop)
	return d
}

// URI is the export's NBD URI.
func (d *Daemon) URI() string {
	return nbd.Target{Network: "unix", Addr: d.NBDSock, Export: d.Export}.URI()
}

func (d *Daemon) start() {
	d.t.Helper()
	os.Remove(d.NBDSock)
	os.Remove(d.QMPSock)
	d.cmd = exec.Command("qemu-storage-daemon",
		"--blockdev", "driver=file,node-name=file0,filename="+d.Image,
		"--blockdev", "driver=qcow2,node-name=disk0,file=file0",
		"--nbd-server", "addr.type=unix,addr.path="+d.NBDSock,
		"--export", "type=nbd,id="+d.Export+",node-name=disk0,name="+d.Export+",writable=on",
		"--chardev", "socket,path="+d.QMPSock+",server=on,wait=off,id=qmp0",
		"--monitor", "chardev=qmp0")
	log, err := os.Create(filepath.Join(d.dir, "qsd.log"))
	if err != nil {
		d.t.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	log.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, e1 := os.Stat(d.NBDSock)
		_, e2 := os.Stat(d.QMPSock)
		if e1 == nil && e2 == nil {
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(d.dir, "qsd.log"))
			d.t.Fatalf("qemu-storage-daemon did not start: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the daemon cleanly (SIGTERM): persistent bitmaps are saved.
func (d *Daemon) Stop() {
	d.signal(syscall.SIGTERM)
}

// Kill ends the daemon with SIGKILL: persistent bitmaps are left in use,
// so the next start finds them inconsistent.
func (d *Daemon) Kill() {
	d.signal(syscall.SIGKILL)
}

func (d *Daemon) signal(sig syscall.Signal) {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(sig)
	d.cmd.Wait()
	d.cmd = nil
}

// Restart starts the daemon again on the same image and sockets.
func (d *Daemon) Restart() {
	d.t.Helper()
	d.Stop()
	d.start()
}

// Start starts a stopped daemon again.
func (d *Daemon) Start() {
	d.t.Helper()
	d.start()
}

// Dial connects to the export, for writes and reads.
func (d *Daemon) Dial(ctx context.Context) *nbd.Conn {
	d.t.Helper()
	c, err := nbd.Dial(ctx, nbd.Target{Network: "unix", Addr: d.NBDSock, Export: d.Export}, nbd.Options{})
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

// Image creates a qcow2 image of size bytes at path.
func Image(t testing.TB, path string, size int64) {
	t.Helper()
	testdisk.Need(t, "qemu-img")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", path, fmt.Sprint(size)).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
}
