package stackgen

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vmrep/vmrep/stackgen/tfschema"
)

// ociSchemaVersion is the version of the real oracle/oci provider whose
// schema is in ociSchemaFile (see the README.md beside it for where it
// comes from).
const ociSchemaVersion = "8.28.0"

var ociSchemaFile = filepath.Join("testdata", "oci-provider-"+ociSchemaVersion, "schema.json.gz")

const ociSource = "registry.opentofu.org/oracle/oci"

// loadOCISchema decodes the schema once per test binary: it is large.
var loadOCISchema = sync.OnceValues(func() (map[string]*tfschema.Provider, error) {
	return tfschema.LoadFile(ociSchemaFile)
})

func ociChecker(t *testing.T) *tfschema.Checker {
	t.Helper()
	ps, err := loadOCISchema()
	if err != nil {
		t.Fatal(err)
	}
	p := ps[ociSource]
	if p == nil {
		t.Fatalf("%s holds no schema of %s", ociSchemaFile, ociSource)
	}
	return &tfschema.Checker{Providers: map[string]*tfschema.Provider{"oci": p}}
}

// ociStacks returns every stack the oci target writes in these tests, by
// name: the first stack, a delta stack, a stack of a boot volume alone
// and the replication server's stack.
func ociStacks(t *testing.T) map[string]map[string][]byte {
	t.Helper()
	bootOnly := func() Plan {
		p := firstPlan()
		p.Snapshot.Volumes = p.Snapshot.Volumes[:1]
		return p
	}
	out := map[string]map[string][]byte{}
	for name, plan := range map[string]func() Plan{"oci-first": firstPlan, "oci-delta": deltaPlan, "oci-boot-only": bootOnly} {
		files, err := Generate(plan(), TargetOCI)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = map[string][]byte{}
		for fn, f := range files {
			out[name][fn] = f.Bytes()
		}
	}
	server, err := GenerateServer(ServerStack{Name: "vmrep-repl", Port: 7443}, TargetOCI)
	if err != nil {
		t.Fatal(err)
	}
	out["oci-server"] = server
	return out
}

func problemLines(ps []tfschema.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// TestOCIStacksFitProviderSchema checks every generated oci stack against
// the real provider's schema.
func TestOCIStacksFitProviderSchema(t *testing.T) {
	c := ociChecker(t)
	for name, files := range ociStacks(t) {
		ps, err := c.Check(files)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ps) > 0 {
			t.Errorf("%s does not fit the oracle/oci 8.28.0 schema:%s", name, problemLines(ps))
		}
	}
}

// TestOCIProviderPinnedToCheckedSchema keeps the stacks' version
// constraint on the provider version whose schema they are checked
// against, so tofu never installs an older one the check did not see.
func TestOCIProviderPinnedToCheckedSchema(t *testing.T) {
	want := fmt.Sprintf(`version = ">= %s, < 9.0.0"`, ociSchemaVersion)
	for name, files := range ociStacks(t) {
		if !strings.Contains(string(files[FileVersions]), want) {
			t.Errorf("%s/%s does not hold %s:\n%s", name, FileVersions, want, files[FileVersions])
		}
	}
}
