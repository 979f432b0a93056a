package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

func TestVGCommands(t *testing.T) {
	d := newDaemon(t)
	boot, data := d.makeVG("web", 4<<20, 1)

	var vg api.VG
	d.okJSON(&vg, "vg", "show", "web")
	if vg.Name != "web" || len(vg.Volumes) != 2 {
		t.Fatalf("vg show: %+v", vg)
	}
	want := []api.Volume{{Name: "boot", Role: "boot", Size: 4 << 20, Source: boot, Format: "raw"},
		{Name: "db", Role: "data", Size: 4 << 20, Source: data, Format: "raw"}}
	for i, w := range want {
		got := vg.Volumes[i]
		got.ID = ""
		if got != w {
			t.Errorf("volume %d = %+v, want %+v", i, got, w)
		}
	}
	if out := d.ok("vg", "show", "web"); !strings.Contains(out, "db") || !strings.Contains(out, "4.0 MiB") {
		t.Errorf("vg show text:\n%s", out)
	}

	// A relative path is made absolute by the CLI.
	rel := d.vmrep("vg", "create", "web", "--boot", "x.img")
	if rel.code != 1 || !strings.Contains(rel.stderr, "x.img does not exist") {
		t.Errorf("create with missing relative path: %+v", rel)
	}
	if r := d.vmrep("vg", "create", "web", "--boot", boot); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("duplicate create: %+v", r)
	}
	if r := d.vmrep("vg", "create"); r.code != 2 {
		t.Errorf("create without a name: exit %d, want 2", r.code)
	}

	var vgs []api.VG
	d.okJSON(&vgs, "vg", "list")
	if len(vgs) != 1 || vgs[0].ID != vg.ID {
		t.Fatalf("vg list: %+v", vgs)
	}

	d.ok("snapshot", "create", "web")
	if r := d.vmrep("vg", "delete", "web"); r.code != 1 || !strings.Contains(r.stderr, "has snapshots") {
		t.Fatalf("delete with snapshots: %+v", r)
	}
	d.ok("vg", "delete", "web", "--force")
	d.okJSON(&vgs, "vg", "list")
	if len(vgs) != 0 {
		t.Fatalf("vg list after delete: %+v", vgs)
	}
	if r := d.vmrep("vg", "show", "web"); r.code != 1 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("show after delete: %+v", r)
	}
	if _, err := os.Stat(boot); err != nil {
		t.Errorf("source image touched by delete: %v", err)
	}
}

// TestVGCreateRefusals: names with ".." (which would break VG@A..VG@B
// ranges) and empty volumes are refused with one line and nothing is
// created; a file whose extension names another format than its content
// is accepted as what it is, with a warning on stderr. (Before, all three
// were accepted silently.)
func TestVGCreateRefusals(t *testing.T) {
	d := newDaemon(t)
	boot := filepath.Join(d.dir, "boot.img")
	writeImage(t, boot, 4<<20, 41)
	empty := filepath.Join(d.dir, "empty.qcow2")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		argv []string
		msg  string
	}{
		{[]string{"vg", "create", "web..old", "--boot", boot}, `invalid volume group name "web..old": ".." is not allowed`},
		{[]string{"vg", "create", "..", "--boot", boot}, `invalid volume group name ".."`},
		{[]string{"vg", "create", "web1", "--boot", "a..b=" + boot}, `invalid volume name "a..b": ".." is not allowed`},
		{[]string{"vg", "create", "web2", "--boot", empty}, "empty.qcow2 is empty (0 bytes)"},
		{[]string{"vg", "create", "web3", "--boot", boot, "--data", "db=" + empty}, "empty.qcow2 is empty (0 bytes)"},
	} {
		r := d.vmrep(c.argv...)
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("vmrep %s: exit %d, stderr %q; want exit 1 and one line with %q", strings.Join(c.argv, " "), r.code, r.stderr, c.msg)
		}
	}
	var vgs []api.VG
	d.okJSON(&vgs, "vg", "list")
	if len(vgs) != 0 {
		t.Fatalf("refused creates created %+v", vgs)
	}

	// Random bytes named .qcow2 are a raw image: accepted as raw, with a warning.
	fake := filepath.Join(d.dir, "disk0.qcow2")
	writeImage(t, fake, 4<<20, 42)
	r := d.vmrep("vg", "create", "web", "--boot", fake)
	want := "vmrep: warning: disk0.qcow2 is not a qcow2 image (detected raw); reading it as raw\n"
	if r.code != 0 || r.stderr != want {
		t.Fatalf("create from a fake .qcow2: exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}
	var vg api.VG
	d.okJSON(&vg, "vg", "show", "web")
	if vg.Volumes[0].Format != "raw" {
		t.Errorf("vg show: %+v", vg)
	}
	// A raw file named .img says nothing.
	if r := d.vmrep("vg", "create", "web2", "--boot", boot); r.code != 0 || r.stderr != "" {
		t.Errorf("create from a raw .img: %+v", r)
	}
	// A volume emptied since: the snapshot is refused too.
	if err := os.Truncate(fake, 0); err != nil {
		t.Fatal(err)
	}
	if r := d.vmrep("snapshot", "create", "web"); r.code != 1 || !strings.Contains(r.stderr, "disk0.qcow2 is empty (0 bytes)") {
		t.Errorf("snapshot of an emptied volume: %+v", r)
	}
}

func TestVGShowsLatestSize(t *testing.T) {
	d := newDaemon(t)
	boot, _ := d.makeVG("web", 4<<20, 1)
	var vg api.VG
	d.okJSON(&vg, "vg", "show", "web")
	if vg.Volumes[0].Size != 4<<20 {
		t.Fatalf("boot size before any snapshot: %d", vg.Volumes[0].Size)
	}
	d.ok("snapshot", "create", "web")
	if err := os.Truncate(boot, 6<<20); err != nil {
		t.Fatal(err)
	}
	d.ok("snapshot", "create", "web")
	d.okJSON(&vg, "vg", "show", "web")
	if vg.Volumes[0].Name != "boot" || vg.Volumes[0].Size != 6<<20 || vg.Volumes[1].Size != 4<<20 {
		t.Errorf("vg show after the boot volume grew: %+v", vg.Volumes)
	}
	var vgs []api.VG
	d.okJSON(&vgs, "vg", "list")
	if len(vgs) != 1 || vgs[0].Volumes[0].Size != 6<<20 {
		t.Errorf("vg list after the boot volume grew: %+v", vgs)
	}
	if out := d.ok("vg", "show", "web"); !strings.Contains(out, "6.0 MiB") {
		t.Errorf("vg show text after growth:\n%s", out)
	}
}
