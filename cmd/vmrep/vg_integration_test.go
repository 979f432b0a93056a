package main

import (
	"os"
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
