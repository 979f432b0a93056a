package testdisk

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Ext4 makes an ext4 image of sizeMiB at img holding the tree at dir. The
// file system's UUID and hash seed are fixed so that the same tree gives the
// same image.
func Ext4(ctx context.Context, img, dir string, sizeMiB int) error {
	if err := os.Remove(img); err != nil && !os.IsNotExist(err) {
		return err
	}
	cmd := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-d", dir,
		"-U", "6f1c1a52-6d1e-4c1e-9a0e-0d0e0f101112", "-E", "hash_seed=6f1c1a52-6d1e-4c1e-9a0e-0d0e0f101113",
		"-L", "vmrep", img, fmt.Sprintf("%dM", sizeMiB))
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %v: %s", img, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Debugfs runs debugfs -w commands against an ext4 image, to change files
// inside it the way a running VM would, without mounting it.
func Debugfs(ctx context.Context, img string, commands ...string) error {
	cmd := exec.CommandContext(ctx, "debugfs", "-w", "-f", "-", img)
	cmd.Stdin = strings.NewReader(strings.Join(commands, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("debugfs %s: %v: %s", img, err, out)
	}
	return nil
}

// Fsck runs fsck.ext4 -n (read-only) and returns its output on failure.
func Fsck(ctx context.Context, img string) error {
	out, err := exec.CommandContext(ctx, "fsck.ext4", "-n", "-f", img).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fsck.ext4 -n %s: %v: %s", img, err, out)
	}
	return nil
}

// Have reports whether tool is on PATH.
func Have(tool string) bool {
	_, err := exec.LookPath(tool)
	return err == nil
}
