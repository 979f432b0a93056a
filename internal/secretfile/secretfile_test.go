package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read("--key-file", p); err != nil || string(b) != "secret" {
		t.Fatalf("read: %q %v", b, err)
	}
	os.Chmod(p, 0o640)
	if _, err := Read("--key-file", p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a group-readable key file: %v", err)
	}
	if _, err := Read("--key-file", p+".missing"); err == nil || !strings.HasPrefix(err.Error(), "--key-file: ") {
		t.Fatalf("a missing key file: %v", err)
	}
}
