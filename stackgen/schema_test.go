package stackgen

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
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

// ociStacks returns the files of every stack the oci target writes in
// these tests, by name, as Write and WriteServer (what the daemon runs for
// `vmrep stack generate` and `vmrep server stack`) leave them on disk: the
// first stack, the delta stack written over it, a stack of a boot volume
// alone and the replication server's stack.
func ociStacks(t *testing.T) map[string]map[string][]byte {
	t.Helper()
	read := func(dir string) map[string][]byte {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, e := range entries {
			if e.Type().IsRegular() {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				files[e.Name()] = b
			}
		}
		return files
	}
	write := func(dir string, p Plan) map[string][]byte {
		if err := Write(dir, p, TargetOCI); err != nil {
			t.Fatalf("Write %s: %v", p.Ref, err)
		}
		return read(dir)
	}
	bootOnly := firstPlan()
	bootOnly.Snapshot.Volumes = bootOnly.Snapshot.Volumes[:1]
	vgDir, bootDir, serverDir := t.TempDir(), t.TempDir(), t.TempDir()
	out := map[string]map[string][]byte{
		"oci-first":     write(vgDir, firstPlan()),
		"oci-delta":     write(vgDir, deltaPlan()),
		"oci-boot-only": write(bootDir, bootOnly),
	}
	if _, err := WriteServer(serverDir, ServerStack{Name: "vmrep-repl", Port: 7443}, TargetOCI); err != nil {
		t.Fatal(err)
	}
	out["oci-server"] = read(serverDir)
	tokensDir := t.TempDir()
	if _, err := WriteServer(tokensDir, ServerStack{Name: "vmrep-repl", Port: 7443, TokenStore: true}, TargetOCI); err != nil {
		t.Fatal(err)
	}
	out["oci-server-tokens"] = read(tokensDir)
	for name, files := range out {
		if len(files[FileMain]) == 0 || len(files[FileVersions]) == 0 {
			t.Fatalf("%s: no %s or %s written", name, FileMain, FileVersions)
		}
	}
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
	stacks := ociStacks(t)
	for name, files := range stacks {
		ps, err := c.Check(files)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ps) > 0 {
			t.Errorf("%s does not fit the oracle/oci 8.28.0 schema:%s", name, problemLines(ps))
		}
	}
	// The check above saw every resource type the VG stacks are made of.
	for _, name := range []string{"oci-first", "oci-delta"} {
		main := string(stacks[name][FileMain])
		for _, typ := range []string{"oci_core_boot_volume", "oci_core_instance",
			"oci_core_volume", "oci_core_volume_attachment", "oci_core_volume_group"} {
			if !strings.Contains(main, fmt.Sprintf("resource %q", typ)) {
				t.Errorf("%s: main.tf has no %s", name, typ)
			}
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

// TestServerTemplateVariables checks that the templatefile call of the
// server stack passes every variable its cloud-init template reads (tofu
// fails the plan otherwise) and nothing it does not read.
func TestServerTemplateVariables(t *testing.T) {
	files := ociStacks(t)["oci-server"]
	f, diags := hclsyntax.ParseConfig(files[FileMain], FileMain, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var passed []string
	calls := 0
	hclsyntax.VisitAll(f.Body.(*hclsyntax.Body), func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "templatefile" || len(call.Args) != 2 {
			return nil
		}
		calls++
		obj, ok := call.Args[1].(*hclsyntax.ObjectConsExpr)
		if !ok {
			t.Fatalf("templatefile's variables are not an object constructor")
		}
		for _, it := range obj.Items {
			k, diags := it.KeyExpr.Value(nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			passed = append(passed, k.AsString())
		}
		return nil
	})
	if calls != 1 {
		t.Fatalf("main.tf calls templatefile %d times, want 1", calls)
	}
	tmpl, diags := hclsyntax.ParseTemplate(files[FileCloudInit], FileCloudInit, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var read []string
	for _, v := range tmpl.Variables() {
		if !slices.Contains(read, v.RootName()) {
			read = append(read, v.RootName())
		}
	}
	slices.Sort(read)
	slices.Sort(passed)
	if !slices.Equal(read, passed) {
		t.Fatalf("cloud-init reads %q, templatefile passes %q", read, passed)
	}
}
