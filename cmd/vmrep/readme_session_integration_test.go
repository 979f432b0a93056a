package main

import (
	"bytes"
	"context"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/testdisk"
	"github.com/vmrep/vmrep/internal/tofutest"
)

// readmeSession returns the lines of the ```sh block under "## A session"
// in the repository's README.md.
func readmeSession(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n## A session\n")
	if !ok {
		t.Fatal(`README.md has no "## A session" section`)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatal("README.md: no ```sh block under A session")
	}
	block, _, ok := strings.Cut(rest, "\n```")
	if !ok {
		t.Fatal("README.md: the A session block does not end")
	}
	return strings.Split(block, "\n")
}

// TestREADMESession runs the README's "A session" block as printed, line by
// line in one bash, on sample disks it makes: vmrepd on a temporary store
// and socket (VMREP_SOCKET), the OpenTofu stacks applied with stdin not a
// terminal and no -var. Only paths are substituted, and three lines are
// adapted: vmrepd also gets --socket "$VMREP_SOCKET" (vmrepd takes the
// socket from its flag only) and the test waits for it; the comment "the VM
// runs, its disks change" becomes a write into two disks; the FUSE and loop
// mounts run only as root with /dev/fuse, and are undone at the end.
func TestREADMESession(t *testing.T) {
	gobin := filepath.Join(build.Default.GOPATH, "bin")
	t.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH")+string(os.PathListSeparator)+gobin)
	testdisk.Need(t, "tofu", "qemu-img", "mkfs.ext4", "bash")
	lines := readmeSession(t)

	work := t.TempDir()
	os.Chmod(work, 0o755)
	ctx := context.Background()
	tree := filepath.Join(work, "tree")
	if _, err := testdisk.Tree(tree, testdisk.TreeSpec{Seed: 12, Files: 40, Bytes: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := testdisk.Ext4(ctx, filepath.Join(work, "disk0.raw"), tree, 32); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("qemu-img", "convert", "-O", "qcow2", filepath.Join(work, "disk0.raw"),
		filepath.Join(work, "disk0.qcow2")).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v\n%s", err, out)
	}
	writeImage(t, filepath.Join(work, "disk1.img"), 6<<20+4096, 21)
	writeImage(t, filepath.Join(work, "disk2.img"), 3<<20, 22)

	mounts := os.Geteuid() == 0
	if _, err := os.Stat("/dev/fuse"); err != nil {
		mounts = false
	}
	if !testdisk.Have("mount") || !testdisk.Have("umount") {
		mounts = false
	}
	paths := strings.NewReplacer(
		"/var/lib/vmrep", filepath.Join(work, "store"),
		"/mnt/vmrep", filepath.Join(work, "mnt"),
		"/mnt/boot", filepath.Join(work, "boot"))

	var script strings.Builder
	fmt.Fprintf(&script, "set -euo pipefail\ncd %q\nmkdir -p mnt boot\n", work)
	// Undo the mounts and stop vmrepd however the script ends.
	script.WriteString(`VMREPD=
cleanup() {
	mountpoint -q boot && umount boot
	mountpoint -q mnt && vmrep umount mnt
	if [ -n "$VMREPD" ]; then kill -TERM "$VMREPD"; wait "$VMREPD" || true; fi
}
trap cleanup EXIT
`)
	var adapted int
	for _, line := range lines {
		cmdText, _, _ := strings.Cut(line, "  #")
		cmdText = strings.TrimSpace(cmdText)
		switch {
		case strings.HasPrefix(cmdText, "vmrepd ") && strings.HasSuffix(cmdText, "&"):
			line = strings.TrimSuffix(cmdText, "&") + `--socket "$VMREP_SOCKET" &`
			line += "\nVMREPD=$!\nfor _ in $(seq 1 300); do vmrep vg list >/dev/null 2>&1 && break; sleep 0.1; done"
			adapted++
		case strings.Contains(line, "its disks change"):
			line = "printf 'the VM wrote this' | dd of=disk1.img bs=1 seek=8192 conv=notrunc status=none\n" +
				"printf 'and this' | dd of=disk2.img bs=1 seek=1000000 conv=notrunc status=none"
			adapted++
		case strings.HasPrefix(cmdText, "vmrep mount ") || strings.HasPrefix(cmdText, "mount "):
			adapted++
			if !mounts {
				t.Logf("not root with /dev/fuse: skipping %q", cmdText)
				continue
			}
		}
		fmt.Fprintf(&script, "echo %s\n%s\n", shellQuote("$ "+line), paths.Replace(line))
	}
	if adapted != 4 {
		t.Fatalf("adapted %d README lines, want 4 (vmrepd, the disk change, two mounts): the block changed", adapted)
	}
	// The environment make deps gives: the vmrep provider in a local mirror.
	cfg := tofutest.WriteCLIConfig(t)

	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	// Stdin is /dev/null: tofu apply gets no terminal.
	cmd.Env = append(os.Environ(), "VMREP_SOCKET="+filepath.Join(work, "run", "vmrepd.sock"),
		"TF_CLI_CONFIG_FILE="+cfg, "CHECKPOINT_DISABLE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("README session: %v\n%s", err, out.String())
	}

	t.Log(out.String())
	// The stacks built the replica next to them and moved it to web@2,
	// where the replica the session made by hand is too.
	for _, dir := range []string{"replica", "replica-web"} {
		st, err := os.ReadFile(filepath.Join(work, dir, "state.json"))
		if err != nil {
			t.Fatalf("%s: %v\n%s", dir, err, out.String())
		}
		if !strings.Contains(string(st), `"seq": 2`) {
			t.Errorf("%s/state.json is not at web@2:\n%s", dir, st)
		}
	}
	if mounts && !strings.Contains(out.String(), "$ mount -o loop,ro") {
		t.Errorf("the mount lines did not run:\n%s", out.String())
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
