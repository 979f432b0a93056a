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
	"engine/cas":     {"engine/chunker", "engine/volume", "engine/ingest", "engine/diff", "engine/delta", "engine/replica", "engine/restore"},
	"engine/volume":  {"engine/cas", "engine/ingest", "engine/diff", "engine/delta", "engine/replica", "engine/restore"},
	"engine/diff":    {"engine/cas"},
	// engine/delta is the format and, under it, engine/delta/build the
	// export; neither knows replicas, and a replica does not export.
	"engine/delta":   {"engine/cas", "engine/replica"},
	"engine/replica": {"engine/cas", "engine/delta/build"},
	"api":            {"daemon", "client", "engine/", "fusefs", "stackgen", "cmd/"},
	"client":         {"daemon", "engine/", "fusefs", "stackgen", "cmd/"},
	"stackgen":       {"daemon", "client", "api", "cmd/"},
	"fusefs":         {"daemon", "client", "api", "stackgen", "cmd/", "engine/cas"},
	"daemon":         {"cmd/"},
	// The CLI reaches the engine only for the target side of a delta
	// (onlyImports): never the store or the export.
	"cmd/vmrep": {"daemon", "engine/cas", "engine/delta/build", "engine/diff", "fusefs", "stackgen",
		"internal/testdisk", "internal/testminio", "bench/"},
}

// onlyImports lists packages that may import no project package but these:
// the CLI is a client of the API and nothing else (internal/version only
// gives it the build's --version string, internal/bandwidth parses the
// rates users type, so a bad one is a usage error before any request),
// but for two exceptions. The target side of a delta: delta show, delta
// apply (a file or a stream on stdin) run in-process on a host without
// vmrepd, so the CLI imports engine/delta and engine/replica and what they
// stand on, the chunker and ingest included, which replica verify runs to
// chunk a volume again (doc/design.md, "Daemonless target side"), with
// the nbd and qmp leaves engine/source stands on, and internal/apiconv,
// which turns those engines' results into the API types exactly as the
// daemon does. And
// internal/tokens and internal/provision let `vmrep server provision` and
// `vmrep server tokens` write a server's PKI and token store locally: they
// need no daemon and import nothing of the project but each other;
// internal/secretfile reads `replicate --key-file` with the mode check the
// daemon's key files get. The leaf
// packages listed with no entries import nothing of the project.
var onlyImports = map[string][]string{
	"cmd/vmrep": {"api", "client", "internal/version", "internal/bandwidth", "internal/clock",
		"internal/tokens", "internal/provision",
		"engine/delta", "engine/replica", "engine/blob", "engine/volume", "engine/restore",
		"engine/ingest", "engine/source", "engine/chunker",
		"internal/vfs", "internal/durable", "internal/pipeline", "internal/zero", "internal/nbd", "internal/qmp",
		"internal/apiconv", "internal/secretfile"},
	"internal/tokens":     {},
	"internal/secretfile": {},
	"internal/provision":  {"internal/tokens"},
	"internal/version":    {},
	"internal/pipeline":   {},
	"internal/zero":       {},
	"internal/testpki":    {},
	"internal/cutproxy":   {},
	"engine/blob":         {},
	"engine/seal":         {},
	"engine/retention":    {},
	"internal/clock":      {},
	"internal/bandwidth":  {"internal/clock"},
	"stackgen/tfschema":   {},
	// launch boots image files in QEMU; the daemon hands it the files.
	"launch":          {},
	"internal/testvm": {},
	// The NBD and QMP clients engine/source reads QEMU disks with.
	"internal/nbd": {},
	"internal/qmp": {},
}

// within reports whether pkg is the package rule names or, for a rule
// ending in "/" or a package with subpackages, lies under it.
func within(pkg, rule string) bool {
	if strings.HasSuffix(rule, "/") {
		return strings.HasPrefix(pkg, rule)
	}
	return pkg == rule || strings.HasPrefix(pkg, rule+"/")
}

// testsMayImport lists, per package, what its tests may import although the
// package itself must not. The CLI's integration tests make disks, start a
// MinIO and open the store a stopped daemon left, to check it byte for
// byte; the CLI binary stays a client of the API (onlyImports).
var testsMayImport = map[string][]string{
	"cmd/vmrep":     {"engine/", "internal/"},
	"engine/volume": {"engine/cas"},
	"engine/diff":   {"engine/cas"},
	"engine/delta":  {"engine/cas"},
	// The replica's tests export the deltas they apply.
	"engine/replica": {"engine/cas", "engine/delta/build"},
	"fusefs":         {"engine/cas"},
}

// light lists the packages that read and write content-addressed data only
// through engine/blob's names: they must build without the Pebble-backed
// store, so nothing of Pebble may reach them (their tests may open a real
// store).
var light = []string{"engine/blob", "engine/volume", "engine/diff", "engine/delta", "engine/delta/build", "engine/replica", "fusefs"}

func TestDomainLayerLight(t *testing.T) {
	for _, pkg := range light {
		out, err := exec.Command("go", "list", "-deps", "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, d := range strings.Fields(string(out)) {
			if strings.Contains(d, "cockroachdb/pebble") || d == module+"engine/cas" {
				t.Errorf("%s depends on %s: it must stand on engine/blob only", pkg, d)
			}
		}
	}
}

// projectDeps lists, per project package, the project packages it needs
// (build) and those only its tests add: their imports and their imports'
// dependencies (test), since a test that reaches up breaks the layers too.
func projectDeps(t *testing.T) (build, test map[string][]string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f",
		`{{.ImportPath}}|{{join .Deps " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	own := map[string][]string{}   // package -> its non-test dependencies
	tests := map[string][]string{} // package -> its tests' direct imports
	var pkgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			t.Fatalf("go list: unexpected line %q", line)
		}
		own[f[0]] = strings.Fields(f[1])
		tests[f[0]] = strings.Fields(f[2])
		if strings.HasPrefix(f[0], module) {
			pkgs = append(pkgs, f[0])
		}
	}
	build, test = map[string][]string{}, map[string][]string{}
	add := func(m map[string][]string, pkg, dep string) {
		if d, ok := strings.CutPrefix(dep, module); ok && !within(d, pkg) && !slices.Contains(m[pkg], d) {
			m[pkg] = append(m[pkg], d)
		}
	}
	for _, p := range pkgs {
		pkg := strings.TrimPrefix(p, module)
		for _, d := range own[p] {
			add(build, pkg, d)
		}
		for _, ti := range tests[p] {
			for _, d := range append([]string{ti}, own[ti]...) {
				if !slices.Contains(build[pkg], strings.TrimPrefix(d, module)) {
					add(test, pkg, d)
				}
			}
		}
	}
	return build, test
}

// checkForbidden reports every dependency of pkg that a rule forbids; a
// test dependency that testsMayImport allows is not reported.
func checkForbidden(t *testing.T, pkg string, deps []string, inTests bool) {
	for rule, bad := range forbidden {
		if !within(pkg, rule) {
			continue
		}
		for _, d := range deps {
			if inTests && slices.ContainsFunc(testsMayImport[rule], func(a string) bool { return within(d, a) }) {
				continue
			}
			for _, b := range bad {
				if within(d, b) {
					how := "imports"
					if inTests {
						how = "has tests that import"
					}
					t.Errorf("%s %s %s: %s must not depend on %s", pkg, how, d, rule, b)
				}
			}
		}
	}
}

func TestLayering(t *testing.T) {
	build, test := projectDeps(t)
	for pkg, deps := range build {
		checkForbidden(t, pkg, deps, false)
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
	for pkg, deps := range test {
		checkForbidden(t, pkg, deps, true)
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
