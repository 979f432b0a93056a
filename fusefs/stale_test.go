package fusefs

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
)

// childEnv makes the test binary, re-executed, mount and wait to be killed.
const childEnv = "VMREP_FUSEFS_STALE_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(mountAndHang(spec))
	}
	os.Exit(m.Run())
}

// mountAndHang is the child: a store of its own in dir/store, mounted at
// dir/mnt, "mounted" on stdout, then nothing until SIGKILL.
func mountAndHang(dir string) int {
	ctx := context.Background()
	storeDir := filepath.Join(dir, "store")
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return 2
	}
	if err := cas.Init(ctx, storeDir, cas.DefaultConfig()); err != nil {
		return 2
	}
	st, err := cas.Open(ctx, storeDir, cas.Options{})
	if err != nil {
		return 2
	}
	if _, err := Mount(ctx, filepath.Join(dir, "mnt"), volume.NewCatalog(st), st, Options{}); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 2
	}
	os.Stdout.WriteString("mounted\n")
	select {}
}

// TestCleanStale: a mounting process is SIGKILLed; the mount point then
// gives ENOTCONN until CleanStale detaches it, and a new mount works.
func TestCleanStale(t *testing.T) {
	requireFUSE(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CleanStale(mnt); err != nil {
		t.Fatalf("CleanStale on a plain directory: %v", err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) }) // only if the test failed half way
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "mounted\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not mount: %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	if _, err := os.Stat(mnt); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("stat of the dead mount: %v, want ENOTCONN", err)
	}
	if err := CleanStale(mnt); err != nil {
		t.Fatalf("CleanStale: %v", err)
	}
	if _, err := os.Stat(mnt); err != nil {
		t.Fatalf("stat after CleanStale: %v", err)
	}

	f := newFixture(t, nil)
	m, err := Mount(context.Background(), mnt, f.cat, f.store, Options{})
	if err != nil {
		t.Fatalf("mount after CleanStale: %v", err)
	}
	if _, err := os.ReadDir(mnt); err != nil {
		t.Errorf("read the new mount: %v", err)
	}
	// A live vmrep mount left behind is detached as well.
	if err := CleanStale(mnt); err != nil {
		t.Fatalf("CleanStale on a live vmrep mount: %v", err)
	}
	if found, err := isVmrepMount(mnt); err != nil || found {
		t.Errorf("still a vmrep mount after CleanStale: %v, %v", found, err)
	}
	m.Wait() // the detach ended the server
}
