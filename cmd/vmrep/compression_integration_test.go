package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A store created with --compression s2 keeps that codec in its config and
// restores bit for bit; an unknown codec is refused before anything is made.
func TestStoreCompressionS2(t *testing.T) {
	d := newDaemon(t, "--compression", "s2")
	boot, _ := d.makeVG("web", 8<<20, 21)
	d.ok("snapshot", "create", "web")
	out := filepath.Join(d.dir, "boot.img")
	d.ok("restore", "web@1", "--volume", "boot", "-o", out)
	sameFile(t, boot, out)
	if v := d.ok("verify", "--read-data"); !strings.Contains(v, "no problems") {
		t.Fatalf("verify:\n%s", v)
	}
	raw, err := os.ReadFile(filepath.Join(d.store, "config"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ Compression string }
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg.Compression != "s2" {
		t.Fatalf("store config says compression %q (%v)", cfg.Compression, err)
	}
}
