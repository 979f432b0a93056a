package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRestoreCommand(t *testing.T) {
	d := newDaemon(t)
	boot, data := d.makeVG("web", 6<<20+12345, 3)
	d.ok("snapshot", "create", "web")
	// Change the boot image; snapshot 1 must still restore the old bytes.
	orig := filepath.Join(d.dir, "boot-orig.img")
	b, _ := os.ReadFile(boot)
	os.WriteFile(orig, b, 0o644)
	f, _ := os.OpenFile(boot, os.O_WRONLY, 0)
	f.WriteAt([]byte("changed after snapshot 1"), 1<<20)
	f.Close()
	d.ok("snapshot", "create", "web")

	out := filepath.Join(d.dir, "out")
	os.Mkdir(out, 0o755)
	cases := []struct{ ref, vol, want string }{
		{"web@1", "boot", orig},
		{"web@2", "boot", boot},
		{"web@latest", "db", data},
		{"web@1", "", orig}, // the boot volume by default
	}
	for i, c := range cases {
		dst := filepath.Join(out, "r"+string(rune('0'+i))+".img")
		args := []string{"restore", c.ref, "-o", dst}
		if c.vol != "" {
			args = append(args, "--volume", c.vol)
		}
		if txt := d.ok(args...); !strings.Contains(txt, "restored") {
			t.Errorf("restore text: %s", txt)
		}
		sameFile(t, dst, c.want)
	}
	// Restoring over an existing file replaces it.
	dst := filepath.Join(out, "r0.img")
	d.ok("restore", "web@2", "--volume", "boot", "-o", dst)
	sameFile(t, dst, boot)

	for _, bad := range []struct {
		args []string
		msg  string
	}{
		{[]string{"restore", "web@9", "-o", dst}, "snapshot web@9 does not exist"},
		{[]string{"restore", "web@1", "--volume", "nope", "-o", dst}, `no volume "nope"`},
		{[]string{"restore", "web@1", "-o", filepath.Join(d.store, "x.img")}, "inside the store"},
		{[]string{"restore", "web@1", "-o", filepath.Join(out, "missing", "x.img")}, "parent"},
		{[]string{"restore", "web@1", "-o", out}, "not a regular file"},
	} {
		r := d.vmrep(bad.args...)
		if r.code != 1 || !strings.Contains(r.stderr, bad.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("vmrep %v: exit %d, stderr %q; want one line with %q", bad.args, r.code, r.stderr, bad.msg)
		}
	}
	if r := d.vmrep("restore", "web@1"); r.code != 2 {
		t.Errorf("restore without -o: exit %d, want 2", r.code)
	}
}
