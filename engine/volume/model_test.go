package volume

import (
	"strings"
	"testing"
)

func testVG() VG {
	return VG{
		ID:   "vg-0123456789abcdef",
		Name: "web",
		Volumes: []Volume{
			{ID: "vol-0000000000000001", Name: "boot", Role: RoleBoot, Size: 1 << 30},
			{ID: "vol-0000000000000002", Name: "data", Role: RoleData, Size: 0},
		},
		NextSeq: 1,
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"web", true}, {"a", true}, {"0db.prod_2-x", true}, {strings.Repeat("a", 64), true},
		{"", false}, {strings.Repeat("a", 65), false}, {"-web", false}, {".web", false}, {"_web", false},
		{"x/y", false}, {"web server", false}, {"wéb", false}, {"web@1", false}, {"..", false},
		{"vg-0123456789abcdef", false}, {"vol-0123456789abcdef", false}, {"snap-0123456789abcdef", false},
		{"vg-0123456789ABCDEF", true}, // not an identifier: those are lowercase
	}
	for _, tt := range tests {
		err := ValidateName("volume group", tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	err := ValidateName("volume group", "x/y")
	if err == nil || !strings.HasPrefix(err.Error(), `invalid volume group name "x/y": `) {
		t.Errorf("error text: %v", err)
	}
}

func TestVGValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*VG)
		errHas string // empty: valid
	}{
		{"valid", func(*VG) {}, ""},
		{"bad id", func(vg *VG) { vg.ID = "vg-123" }, "invalid volume group id"},
		{"upper-case id", func(vg *VG) { vg.ID = "vg-0123456789ABCDEF" }, "invalid volume group id"},
		{"bad name", func(vg *VG) { vg.Name = "x/y" }, "invalid volume group name"},
		{"no volumes", func(vg *VG) { vg.Volumes = nil }, "no volumes"},
		{"no boot", func(vg *VG) { vg.Volumes[0].Role = RoleData }, "0 boot volumes"},
		{"two boots", func(vg *VG) { vg.Volumes[1].Role = RoleBoot }, "2 boot volumes"},
		{"bad role", func(vg *VG) { vg.Volumes[1].Role = "swap" }, "invalid role"},
		{"same name", func(vg *VG) { vg.Volumes[1].Name = "boot" }, "two volumes named"},
		{"same id", func(vg *VG) { vg.Volumes[1].ID = vg.Volumes[0].ID }, "two volumes with id"},
		{"bad volume id", func(vg *VG) { vg.Volumes[1].ID = "vg-0000000000000002" }, "invalid volume id"},
		{"bad volume name", func(vg *VG) { vg.Volumes[1].Name = "a b" }, "invalid volume name"},
		{"negative size", func(vg *VG) { vg.Volumes[1].Size = -1 }, "negative size"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			vg := testVG()
			tt.change(&vg)
			err := vg.Validate()
			if tt.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Validate() = %v, want error with %q", err, tt.errHas)
			}
		})
	}
}

func TestVGLookups(t *testing.T) {
	vg := testVG()
	if b := vg.Boot(); b.Name != "boot" {
		t.Errorf("Boot() = %+v", b)
	}
	for _, key := range []string{"data", "vol-0000000000000002"} {
		if v, ok := vg.Volume(key); !ok || v.Name != "data" {
			t.Errorf("Volume(%q) = %+v, %v", key, v, ok)
		}
	}
	if _, ok := vg.Volume("nope"); ok {
		t.Error("Volume(nope) found")
	}
}

func TestNewIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		for _, c := range []struct {
			prefix string
			id     string
		}{{vgPrefix, NewVGID()}, {volumePrefix, NewVolumeID()}, {snapshotPrefix, NewSnapshotID()}} {
			if !isID(c.prefix, c.id) || seen[c.id] {
				t.Fatalf("bad or repeated id %q", c.id)
			}
			seen[c.id] = true
		}
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		ok   bool
		out  string
	}{
		{"web@3", Ref{VG: "web", Seq: 3}, true, "web@3"},
		{"web@latest", Ref{VG: "web", Latest: true}, true, "web@latest"},
		{"web", Ref{}, false, ""},
		{"vg-0123456789abcdef@18446744073709551615", Ref{VG: "vg-0123456789abcdef", Seq: 1<<64 - 1}, true, "vg-0123456789abcdef@18446744073709551615"},
		{"web@0", Ref{}, false, ""},
		{"web@03", Ref{}, false, ""},
		{"web@+3", Ref{}, false, ""},
		{"web@-1", Ref{}, false, ""},
		{"web@", Ref{}, false, ""},
		{"web@LATEST", Ref{}, false, ""},
		{"web@1@2", Ref{}, false, ""},
		{"web@18446744073709551616", Ref{}, false, ""},
		{"@3", Ref{}, false, ""},
		{"", Ref{}, false, ""},
		{"a/b@1", Ref{}, false, ""},
	}
	for _, tt := range tests {
		got, err := ParseRef(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v ok=%v", tt.in, got, err, tt.want, tt.ok)
			continue
		}
		if tt.ok && got.String() != tt.out {
			t.Errorf("ParseRef(%q).String() = %q, want %q", tt.in, got.String(), tt.out)
		}
	}
}
