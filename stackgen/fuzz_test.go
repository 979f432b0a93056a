package stackgen

import (
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
)

// FuzzGenerate: whatever names and paths Validate lets through must come
// out as HCL that parses back without diagnostics, for both targets, and
// an oci stack that fits the provider's schema.
func FuzzGenerate(f *testing.F) {
	f.Add("web", "data", "deltas/web-1-2.vmdelta")
	f.Add(`we"b`, "${x}", "a\nb")
	f.Add("a.b_c-d", "ünï", `dir with "quotes"/${x} %{y}`)
	f.Fuzz(func(t *testing.T, vgName, volName, deltaFile string) {
		checker := ociChecker(t)
		p := deltaPlan()
		p.VGName = vgName
		p.Snapshot.Volumes[1].Name = volName
		p.Base.Volumes[1].Name = volName
		p.Delta.File = deltaFile
		if Validate(p) != nil {
			return
		}
		for _, target := range []string{TargetLocal, TargetOCI} {
			files, err := Generate(p, target)
			if err != nil {
				t.Fatalf("Generate(%s) of a valid plan: %v", target, err)
			}
			srcs := map[string][]byte{}
			for name, file := range files {
				if _, diags := hclparse.NewParser().ParseHCL(file.Bytes(), name); len(diags) > 0 {
					t.Fatalf("%s/%s does not parse back: %v", target, name, diags)
				}
				srcs[name] = file.Bytes()
			}
			if target != TargetOCI {
				continue
			}
			if ps, err := checker.Check(srcs); err != nil || len(ps) > 0 {
				t.Fatalf("oci stack does not fit the provider schema: %v%s", err, problemLines(ps))
			}
		}
	})
}
