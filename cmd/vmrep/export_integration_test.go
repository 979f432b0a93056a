package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testdisk"
)

func TestExportCommand(t *testing.T) {
	testdisk.Need(t, "qemu-img")
	h := newHistory(t)
	d := h.d
	for _, c := range []struct{ ref, vol string }{{"web@1", "boot"}, {"web@2", "db"}, {"web@3", ""}} {
		name := c.vol
		if name == "" {
			name = "boot" // the default
		}
		seq := int(c.ref[len(c.ref)-1] - '0')
		q := filepath.Join(d.dir, c.ref+"-"+name+".qcow2")
		raw := filepath.Join(d.dir, c.ref+"-"+name+".raw")
		args := []string{"export", c.ref, "--format", "qcow2", "-o", q}
		if c.vol != "" {
			args = append(args, "--volume", c.vol)
		}
		var res api.ExportResult
		d.okJSONResult(&res, args...)
		if res.Format != "qcow2" || res.Volume != name || res.FileBytes <= 0 || res.FileBytes >= res.Size {
			t.Errorf("export %v: %+v (a half-empty volume should give a smaller image)", args, res)
		}
		d.ok("export", c.ref, "--volume", name, "--format", "raw", "-o", raw)
		sameFile(t, raw, h.at[seq][name])
		restored := filepath.Join(d.dir, c.ref+"-"+name+".restored")
		d.ok("restore", c.ref, "--volume", name, "-o", restored)
		qemu(t, "check", "-f", "qcow2", q)
		qemu(t, "compare", "-f", "qcow2", "-F", "raw", q, restored)
		qemu(t, "compare", "-f", "qcow2", "-F", "raw", q, h.at[seq][name])
	}
	for _, bad := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"export", "web@1", "--format", "vmdk", "-o", "x"}, 2, "want qcow2 or raw"},
		{[]string{"export", "web@1", "--volume", "nope", "-o", filepath.Join(d.dir, "x")}, 1, `no volume "nope"`},
		{[]string{"export", "web@1", "-o", filepath.Join(d.store, "x.qcow2")}, 1, "inside the store"},
		{[]string{"export", "web@1"}, 2, "-o PATH"},
	} {
		r := d.vmrep(bad.args...)
		if r.code != bad.code || !strings.Contains(r.stderr, bad.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("vmrep %v: exit %d, stderr %q; want %d and one line with %q", bad.args, r.code, r.stderr, bad.code, bad.msg)
		}
	}
}

func qemu(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
