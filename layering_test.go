package vmrep_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vmrep/vmrep/"

// forbidden lists, per package, the project packages it must never import,
// directly or through others: dependencies point down (doc/design.md). A
// key or entry ending in "/" is a prefix ("engine/" is every engine
// package); any other names one package and its subpackages, so
// "cmd/vmrep" is the CLI and not the daemon's main, cmd/vmrepd.
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
	"cmd/vmrep":      {"daemon", "engine/", "fusefs", "stackgen", "internal/durable", "internal/testdisk", "internal/testminio", "bench/"},
}

// onlyImports lists packages that may import no project package but these:
// the CLI is a client of the API and nothing else (internal/version only
// gives it the build's --version string), and internal/version imports
// nothing of the project.
var onlyImports = map[string][]string{
	"cmd/vmrep":        {"api", "client", "internal/version"},
	"internal/version": {},
}

// within reports whether pkg is the package rule names or, for a rule
// ending in "/" or a package with subpackages, lies under it.
func within(pkg, rule string) bool {
	if strings.HasSuffix(rule, "/") {
		return strings.HasPrefix(pkg, rule)
	}
	return pkg == rule || strings.HasPrefix(pkg, rule+"/")
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
		var deps []string
		for _, dep := range fields[1:] {
			if d, ok := strings.CutPrefix(dep, module); ok && !within(d, pkg) {
				deps = append(deps, d)
			}
		}
		for rule, bad := range forbidden {
			if !within(pkg, rule) {
				continue
			}
			for _, d := range deps {
				for _, b := range bad {
					if within(d, b) {
						t.Errorf("%s imports %s: %s must not depend on %s", pkg, d, rule, b)
					}
				}
			}
		}
		for rule, allowed := range onlyImports {
			if !within(pkg, rule) {
				continue
			}
			for _, d := range deps {
				if !slices.ContainsFunc(allowed, func(a string) bool { return within(d, a) }) {
					t.Errorf("%s imports %s: %s may import only %v", pkg, d, rule, allowed)
				}
			}
		}
	}
}

// TestWithin pins the rule matching the layering test relies on: a rule
// for the CLI must not catch the daemon's main.
func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		pkg, rule string
		want      bool
	}{
		{"cmd/vmrep", "cmd/vmrep", true},
		{"cmd/vmrepd", "cmd/vmrep", false},
		{"cmd/vmrep/sub", "cmd/vmrep", true},
		{"cmd/vmrepd", "cmd/", true},
		{"engine/cas/s3backend", "engine/cas", true},
		{"engine/castest", "engine/cas", false},
		{"engine/cas", "engine/", true},
		{"stackgen", "stackgen", true},
		{"api", "api", true},
	} {
		if got := within(tc.pkg, tc.rule); got != tc.want {
			t.Errorf("within(%q, %q) = %v, want %v", tc.pkg, tc.rule, got, tc.want)
		}
	}
}
