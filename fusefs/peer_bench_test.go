package fusefs

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// desyncPeer serves an image through `desync mount-index` from a local
// store made with `desync make`, the peer the FUSE read path is compared
// with. casync has no FUSE view of a
// blob index (its mount serves directory archives; images go through
// mkdev and NBD), so desync is the one FUSE peer for disk images.
type desyncPeer struct {
	bin, index, store string
}

// newDesyncPeer chunks image into a store once; nil when desync is absent.
func newDesyncPeer(b *testing.B, image string) *desyncPeer {
	bin, err := exec.LookPath("desync")
	if err != nil {
		gp, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(string(trimNL(gp)), "bin", "desync")
		if _, err := os.Stat(bin); err != nil {
			return nil
		}
	}
	dir := b.TempDir()
	p := &desyncPeer{bin: bin, index: filepath.Join(dir, "vol.caibx"), store: filepath.Join(dir, "store")}
	if err := os.Mkdir(p.store, 0o755); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command(bin, "make", "-s", p.store, p.index, image).CombinedOutput(); err != nil {
		b.Fatalf("desync make: %v\n%s", err, out)
	}
	return p
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

type desyncMount struct {
	dir string
	cmd *exec.Cmd
}

func (p *desyncPeer) mount(b *testing.B) (*desyncMount, string) {
	dir := filepath.Join(b.TempDir(), "desync")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(p.bin, "mount-index", "-s", p.store, p.index, dir)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(dir, "vol")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(file); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatalf("desync mount-index did not serve %s", file)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &desyncMount{dir: dir, cmd: cmd}, file
}

func (m *desyncMount) Unmount() error {
	err := exec.Command("umount", m.dir).Run()
	m.cmd.Process.Signal(os.Interrupt)
	m.cmd.Wait()
	return err
}
