package tofutest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// FakeOCIVersion is the version the fake oracle/oci provider claims: the
// one whose schema it serves, which the oci stacks require.
const FakeOCIVersion = "8.28.0"

// WriteOCICLIConfig builds the fake oracle/oci provider
// (tools/terraform-provider-vmrep/fakeoci) into a mirror of its own and
// writes a CLI config that installs it and the vmrep provider from their
// mirrors and nothing from the network. The fake serves the schema in
// the file $VMREP_FAKE_OCI_SCHEMA names when tofu starts it.
func WriteOCICLIConfig(t testing.TB) string {
	t.Helper()
	vmrep := Mirror(t)
	src, err := providerSource()
	if err != nil {
		t.Fatal(err)
	}
	mirror := t.TempDir()
	out := filepath.Join(mirror, "registry.opentofu.org", "oracle", "oci", FakeOCIVersion,
		runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-oci_v"+FakeOCIVersion)
	cmd := exec.Command("go", "build", "-o", out, "./fakeoci")
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build the fake oci provider in %s: %v\n%s", src, err, b)
	}
	vm, oci := strconv.Quote(ProviderHost+"/*/*"), strconv.Quote("registry.opentofu.org/oracle/oci")
	cfg := fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %s
    include = [%s]
  }
  filesystem_mirror {
    path    = %s
    include = [%s]
  }
  direct {
    exclude = [%s, %s]
  }
}
`, strconv.Quote(vmrep), vm, strconv.Quote(mirror), oci, vm, oci)
	path := filepath.Join(t.TempDir(), "tofurc")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
