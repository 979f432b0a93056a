package testdisk

import (
	"os"
	"testing"
)

// Need skips the test when a tool or privilege is missing, except in CI
// (CI=true), where `make deps` installed everything and a skip would hide a
// test that never ran.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if Have(tool) {
			continue
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; run make deps", tool)
		}
		t.Skipf("%s is not installed; run make deps", tool)
	}
}

// NeedRoot skips (or fails in CI) when not running as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test needs root")
	}
	t.Skip("this test needs root")
}
