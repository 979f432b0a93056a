package tofutest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// Provider address and version, as the stacks require them.
const (
	ProviderHost      = "vmrep.local"
	ProviderNamespace = "vmrep"
	ProviderType      = "vmrep"
	ProviderVersion   = "0.1.0"
)

var (
	once     sync.Once
	mirror   string
	errBuild error
)

// Mirror builds the provider into a filesystem mirror the first time it is
// called in a test binary and returns the mirror's directory. Cleanup
// removes it when the test binary exits.
func Mirror(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		var dir string
		if dir, errBuild = os.MkdirTemp("", "vmrep-tofu-mirror-"); errBuild != nil {
			return
		}
		errBuild = Build(dir)
		mirror = dir
	})
	if errBuild != nil {
		t.Fatalf("build the vmrep provider: %v", errBuild)
	}
	return mirror
}

// Cleanup removes the mirror Mirror built, if any; call it from TestMain.
func Cleanup() {
	if mirror != "" {
		os.RemoveAll(mirror)
	}
}

// Build compiles tools/terraform-provider-vmrep into dir laid out as an
// unpacked filesystem mirror.
func Build(dir string) error {
	src, err := providerSource()
	if err != nil {
		return err
	}
	out := filepath.Join(dir, ProviderHost, ProviderNamespace, ProviderType, ProviderVersion,
		runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-"+ProviderType+"_v"+ProviderVersion)
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %v\n%s", src, err, b)
	}
	return nil
}

// CLIConfig is an OpenTofu CLI config that installs the vmrep provider from
// mirror and every other provider directly (none of the stacks needs one).
func CLIConfig(mirror string) string {
	include := strconv.Quote(ProviderHost + "/*/*")
	return fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %s
    include = [%s]
  }
  direct {
    exclude = [%s]
  }
}
`, strconv.Quote(mirror), include, include)
}

// WriteCLIConfig writes CLIConfig(Mirror(t)) into a file under t.TempDir
// and returns its path, for TF_CLI_CONFIG_FILE.
func WriteCLIConfig(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tofurc")
	if err := os.WriteFile(path, []byte(CLIConfig(Mirror(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// providerSource finds tools/terraform-provider-vmrep above the working
// directory (a test runs in its package directory).
func providerSource() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "tools", "terraform-provider-vmrep")
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("tools/terraform-provider-vmrep not found above the working directory")
		}
		dir = parent
	}
}
