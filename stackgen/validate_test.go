package stackgen

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateAcceptsFixtures(t *testing.T) {
	for _, p := range []Plan{firstPlan(), deltaPlan()} {
		if err := Validate(p); err != nil {
			t.Fatalf("Validate(%s): %v", p.Ref, err)
		}
	}
}

// TestValidateRefuses feeds names, IDs and digests that HCL, a shell or a
// file system would choke on; each must be refused naming its field.
func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name  string
		field string
		edit  func(p *Plan)
	}{
		{"vg name with quote", "vg_name", func(p *Plan) { p.VGName = `we"b` }},
		{"vg name with interpolation", "vg_name", func(p *Plan) { p.VGName = "${file(\"/etc/passwd\")}" }},
		{"vg name with newline", "vg_name", func(p *Plan) { p.VGName = "web\nresource" }},
		{"vg name with space", "vg_name", func(p *Plan) { p.VGName = "my web" }},
		{"vg name unicode", "vg_name", func(p *Plan) { p.VGName = "wéb" }},
		{"vg name too long", "vg_name", func(p *Plan) { p.VGName = strings.Repeat("a", 65) }},
		{"vg name leading dot", "vg_name", func(p *Plan) { p.VGName = ".web" }},
		{"vg name slash", "vg_name", func(p *Plan) { p.VGName = "../web" }},
		{"vg id", "vg_id", func(p *Plan) { p.VGID = "vg-0123" }},
		{"vg id upper hex", "vg_id", func(p *Plan) { p.VGID = "vg-0123456789ABCDEF" }},
		{"snapshot id", "snapshot.id", func(p *Plan) { p.Snapshot.ID = "snap-\"x\"" }},
		{"volume id with dollar", "snapshot.volumes[0].id", func(p *Plan) { p.Snapshot.Volumes[0].ID = "vol-${x}" }},
		{"volume name with quote", "snapshot.volumes[1].name", func(p *Plan) { p.Snapshot.Volumes[1].Name = `da"ta` }},
		{"volume name with percent brace", "snapshot.volumes[1].name", func(p *Plan) { p.Snapshot.Volumes[1].Name = "%{if}" }},
		{"volume role", "snapshot.volumes[1].role", func(p *Plan) { p.Snapshot.Volumes[1].Role = "swap" }},
		{"volume size", "snapshot.volumes[1].size", func(p *Plan) { p.Snapshot.Volumes[1].Size = 0 }},
		{"manifest short", "snapshot.volumes[0].manifest", func(p *Plan) { p.Snapshot.Volumes[0].Manifest = "abc" }},
		{"manifest with newline", "snapshot.volumes[0].manifest", func(p *Plan) { p.Snapshot.Volumes[0].Manifest = digest('a')[:63] + "\n" }},
		{"duplicate volume", "snapshot.volumes[1].id", func(p *Plan) { p.Snapshot.Volumes[1].ID = p.Snapshot.Volumes[0].ID }},
		{"two boot volumes", "snapshot.volumes", func(p *Plan) { p.Snapshot.Volumes[1].Role = RoleBoot }},
		{"no volumes", "snapshot.volumes", func(p *Plan) { p.Snapshot.Volumes = nil }},
		{"ref with space", "ref", func(p *Plan) { p.Ref = "web @1" }},
		{"delta digest", "delta.digest", func(p *Plan) { p.Delta.Digest = strings.Repeat("g", 64) }},
		{"delta file newline", "delta.file", func(p *Plan) { p.Delta.File = "d\n.vmdelta" }},
		{"delta file empty", "delta.file", func(p *Plan) { p.Delta.File = "" }},
		{"delta base mismatch", "delta.base_snapshot_id", func(p *Plan) { p.Delta.BaseSnapshotID = "snap-3333333333333333" }},
		{"delta target mismatch", "delta.target_snapshot_id", func(p *Plan) { p.Delta.TargetSnapshotID = "snap-3333333333333333" }},
		{"delta volume unknown", "delta.volumes[0].volume_id", func(p *Plan) { p.Delta.Volumes[0].VolumeID = "vol-ffffffffffffffff" }},
		{"delta added wrong", "delta.volumes[1].added", func(p *Plan) { p.Delta.Volumes[1].Added = false }},
		{"delta file sha256", "delta.files[0].sha256", func(p *Plan) { p.Delta.Files[0].SHA256 = digest('A') }},
		{"delta part escapes", "delta.files[1].name", func(p *Plan) {
			p.Delta.Files = append(p.Delta.Files, DeltaFile{Name: "../state.json", SHA256: digest('f')})
		}},
		{"delta part with interpolation", "delta.files[1].name", func(p *Plan) {
			p.Delta.Files = append(p.Delta.Files, DeltaFile{Name: "${x}.vmdp", SHA256: digest('f')})
		}},
		{"delta without base", "delta", func(p *Plan) { p.Base = nil }},
		{"base after target", "base.seq", func(p *Plan) { p.Base.Seq = 2 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := deltaPlan()
			tc.edit(&p)
			err := Validate(p)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FieldError", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field = %q, want %q (error %v)", fe.Field, tc.field, err)
			}
			if !errors.Is(err, ErrInvalidPlan) {
				t.Errorf("error %v does not wrap ErrInvalidPlan", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error message spans lines: %q", err.Error())
			}
			for _, target := range []string{TargetLocal, TargetOCI} {
				if _, gerr := Generate(p, target); gerr == nil {
					t.Errorf("Generate(%s) accepted the plan Validate refused", target)
				}
			}
		})
	}
}

// TestDeltaPathEscaped shows that the one free-form string, the delta path,
// reaches the HCL escaped and parses back to the same value.
func TestDeltaPathEscaped(t *testing.T) {
	p := deltaPlan()
	p.Delta.File = `dir with "quotes"/${x} %{y} ünï.vmdelta`
	files, err := Generate(p, TargetLocal)
	if err != nil {
		t.Fatal(err)
	}
	src := files[FileVariables].Bytes()
	parseBack(t, FileVariables, src)
	if !strings.Contains(string(src), `"dir with \"quotes\"/$${x} %%{y} ünï.vmdelta"`) {
		t.Fatalf("delta path not escaped as expected:\n%s", src)
	}
}

func TestOCISizes(t *testing.T) {
	tests := []struct {
		size int64
		gb   int64
		ok   bool
	}{
		{1, 50, true},
		{50 << 30, 50, true},
		{50<<30 + 1, 51, true},
		{32768 << 30, 32768, true},
		{32768<<30 + 1, 0, false},
	}
	for _, tc := range tests {
		gb, err := ociGB("size", tc.size)
		if (err == nil) != tc.ok || gb != tc.gb {
			t.Errorf("ociGB(%d) = %d, %v; want %d, ok=%t", tc.size, gb, err, tc.gb, tc.ok)
		}
	}
	p := firstPlan()
	p.Snapshot.Volumes = p.Snapshot.Volumes[1:]
	if _, err := Generate(p, TargetOCI); err == nil {
		t.Error("oci target accepted a plan without a boot volume")
	}
	if _, err := Generate(firstPlan(), "aws"); err == nil {
		t.Error("Generate accepted an unknown target")
	}
}
