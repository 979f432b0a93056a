package vmrep_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/vmrep/vmrep/"

// forbidden lists, per package prefix, the project packages it must never
// import, directly or through others: dependencies point down (doc/design.md).
var forbidden = map[string][]string{
	"engine/":        {"daemon", "client", "api", "fusefs", "stackgen", "cmd/"},
	"engine/chunker": {"engine/"},
	"engine/source":  {"engine/"},
	"engine/cas":     {"engine/volume", "engine/ingest", "engine/diff", "engine/delta", "engine/restore"},
	"engine/volume":  {"engine/ingest", "engine/diff", "engine/delta", "engine/restore"},
	"api":            {"daemon", "client", "engine/", "fusefs", "stackgen", "cmd/"},
	"client":         {"daemon", "engine/", "fusefs", "stackgen", "cmd/"},
	"stackgen":       {"daemon", "client", "api", "cmd/"},
	"fusefs":         {"daemon", "client", "api", "stackgen", "cmd/"},
	"daemon":         {"client", "cmd/"},
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		for prefix, bad := range forbidden {
			if !strings.HasPrefix(pkg, prefix) {
				continue
			}
			for _, dep := range fields[1:] {
				d, ok := strings.CutPrefix(dep, module)
				if !ok || d == pkg || strings.HasPrefix(d, pkg+"/") {
					continue
				}
				for _, b := range bad {
					if strings.HasPrefix(d, b) {
						t.Errorf("%s imports %s: %s must not depend on %s", pkg, d, prefix, b)
					}
				}
			}
		}
	}
}
