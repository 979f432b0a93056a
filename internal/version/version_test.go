package version

import "testing"

func TestOverride(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "v9.9.9"
	if got := String(); got != "v9.9.9" {
		t.Fatalf("String() = %q with an -X override, want v9.9.9", got)
	}
	version = ""
	if got := String(); got == "" {
		t.Fatal("String() is empty without an override")
	}
}
