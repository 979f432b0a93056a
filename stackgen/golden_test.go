package stackgen

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

var goldenCases = []struct {
	name   string
	plan   func() Plan
	target string
}{
	{"local-first", firstPlan, TargetLocal},
	{"local-delta", deltaPlan, TargetLocal},
	{"oci-first", firstPlan, TargetOCI},
	{"oci-delta", deltaPlan, TargetOCI},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Generate(tc.plan(), tc.target)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if len(files) != 4 {
				t.Fatalf("Generate made %d files, want 4", len(files))
			}
			dir := filepath.Join("testdata", "golden", tc.name)
			for name, f := range files {
				got := f.Bytes()
				parseBack(t, name, got)
				checkGolden(t, dir, name, got)
			}
		})
	}
}

// parseBack fails the test unless src parses as HCL without diagnostics.
func parseBack(t *testing.T, name string, src []byte) {
	t.Helper()
	_, diags := hclparse.NewParser().ParseHCL(src, name)
	if diags.HasErrors() || len(diags) > 0 {
		t.Fatalf("%s does not parse back: %v\n%s", name, diags, src)
	}
}

// TestGenerateDeterministic guards the golden files against map order.
func TestGenerateDeterministic(t *testing.T) {
	for _, tc := range goldenCases {
		a, err := Generate(tc.plan(), tc.target)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			b, err := Generate(tc.plan(), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			for name := range a {
				if string(a[name].Bytes()) != string(b[name].Bytes()) {
					t.Fatalf("%s/%s differs between runs", tc.name, name)
				}
			}
		}
	}
}

// checkGolden compares got with the golden file dir/name, or with -update
// writes it there.
func checkGolden(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from %s (run with -update if intended)\ngot:\n%s", name, path, got)
	}
}
