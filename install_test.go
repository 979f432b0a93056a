package vmrep_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstall runs `make install` into a staging DESTDIR twice: the
// binaries, the systemd unit (pointed at the installed vmrepd) and the
// sample Prometheus configuration land where they belong, and the second
// run leaves the same tree. systemd-analyze, when present, must accept the
// installed unit without a word.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dest := t.TempDir()
	install := func() map[string]string {
		t.Helper()
		cmd := exec.Command("make", "--no-print-directory", "install", "DESTDIR="+dest, "PREFIX=/usr")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make install: %v\n%s", err, out)
		}
		tree := map[string]string{}
		err := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dest, p)
			tree[rel] = fmt.Sprintf("%v %x", fi.Mode(), sha256.Sum256(b))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return tree
	}
	first := install()
	want := map[string]string{
		"usr/bin/vmrep":                      "-rwxr-xr-x",
		"usr/bin/vmrepd":                     "-rwxr-xr-x",
		"etc/systemd/system/vmrepd.service":  "-rw-r--r--",
		"usr/share/doc/vmrep/prometheus.yml": "-rw-r--r--",
	}
	if len(first) != len(want) {
		t.Errorf("installed %v, want exactly %v", keys(first), keys(want))
	}
	for f, mode := range want {
		if got, ok := first[f]; !ok || !strings.HasPrefix(got, mode+" ") {
			t.Errorf("%s: %q, want mode %s", f, got, mode)
		}
	}
	second := install()
	for f, h := range first {
		if second[f] != h {
			t.Errorf("a second make install changed %s", f)
		}
	}
	if len(second) != len(first) {
		t.Errorf("a second make install left %v, the first %v", keys(second), keys(first))
	}

	vmrepd := filepath.Join(dest, "usr/bin/vmrepd")
	if out, err := exec.Command(vmrepd, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "vmrepd ") {
		t.Errorf("installed vmrepd --version: %v, %q", err, out)
	}
	unit, err := os.ReadFile(filepath.Join(dest, "etc/systemd/system/vmrepd.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("\nExecStart=/usr/bin/vmrepd --store /var/lib/vmrep --http 127.0.0.1:9470 $VMREPD_OPTS\n")) {
		t.Errorf("the installed unit does not start the installed vmrepd:\n%s", unit)
	}
	prom, err := os.ReadFile(filepath.Join(dest, "usr/share/doc/vmrep/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"job_name: vmrepd", `targets: ["127.0.0.1:9470"]`, "metrics_path: /metrics"} {
		if !bytes.Contains(prom, []byte(s)) {
			t.Errorf("prometheus.yml lacks %q", s)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "config", "--syntax-only", filepath.Join(dest, "usr/share/doc/vmrep/prometheus.yml")).CombinedOutput(); err != nil {
			t.Errorf("promtool check config: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool is not installed: prometheus.yml checked by content only")
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit is not verified")
		return
	}
	// verify wants ExecStart's program to exist: point it at the staged one.
	staged := filepath.Join(t.TempDir(), "vmrepd.service")
	if err := os.WriteFile(staged, bytes.ReplaceAll(unit, []byte("ExecStart=/usr/bin/vmrepd"), []byte("ExecStart="+vmrepd)), 0o644); err != nil {
		t.Fatal(err)
	}
	// It warns (unknown keys, bad values) but exits 0: any output fails.
	out, err := exec.Command(analyze, "verify", staged).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
