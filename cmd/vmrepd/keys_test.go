package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/seal"
)

func writeKey(t *testing.T, mode os.FileMode) (string, []byte) {
	t.Helper()
	key := seal.NewDataKey()
	p := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(p, []byte(hex.EncodeToString(key)+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	return p, key
}

func runVmrepd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(args, &out, &errb)
	return code, out.String() + errb.String()
}

// TestKeyFlags checks how vmrepd refuses what cannot work, each with one
// line and before touching the store: --encrypt without a key, a key file
// others may read, two key sources, an encrypted store without its key or
// with another, a plain store with --encrypt; and that rotate-key makes
// the new key the only one that opens the store.
func TestKeyFlags(t *testing.T) {
	ctx := context.Background()
	oldFile, oldKey := writeKey(t, 0o600)
	newFile, _ := writeKey(t, 0o600)
	loose, _ := writeKey(t, 0o644)
	otherFile, _ := writeKey(t, 0o600)
	encDir, plainDir := t.TempDir(), t.TempDir()
	cfg, err := cas.DefaultConfig().WithEncryption(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := cas.Init(ctx, encDir, cfg); err != nil {
		t.Fatal(err)
	}
	if err := cas.Init(ctx, plainDir, cas.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	// Too long for a Unix socket: a store that opens when it must not
	// fails at the listen instead of serving forever.
	sock := filepath.Join(t.TempDir(), strings.Repeat("s", 120))
	t.Setenv(kekEnv, "")
	tests := []struct {
		name string
		args []string
		env  string
		code int
		want string
	}{
		{"encrypt without key", []string{"--store", t.TempDir(), "--encrypt"}, "", 2, "--encrypt needs the key-encryption key"},
		{"loose key file", []string{"--store", encDir, "--key-file", loose}, "", 1, "chmod 600"},
		{"two sources", []string{"--store", encDir, "--key-file", oldFile}, hex.EncodeToString(oldKey), 2, "give one key source"},
		{"no key", []string{"--store", encDir}, "", 1, "is encrypted: give its key"},
		{"wrong key", []string{"--store", encDir, "--key-file", newFile}, "", 1, "does not open it"},
		{"bad env key", []string{"--store", encDir}, "zz", 1, kekEnv},
		{"plain with encrypt", []string{"--store", plainDir, "--encrypt", "--key-file", oldFile}, "", 1, "is not encrypted"},
		{"key command fails", []string{"--store", encDir, "--key-command", "echo no >&2; exit 3"}, "", 1, "--key-command"},
		{"key command wrong", []string{"--store", encDir, "--key-command", "cat " + newFile}, "", 1, "does not open it"},
		{"rotate without new", []string{"rotate-key", "--store", encDir, "--old-key-file", oldFile}, "", 2, "give the current key"},
		{"rotate wrong old", []string{"rotate-key", "--store", encDir, "--old-key-file", otherFile, "--new-key-file", newFile}, "", 1, "does not open it"},
		{"rotate", []string{"rotate-key", "--store", encDir, "--old-key-command", "cat " + oldFile, "--new-key-file", newFile}, "", 0, "re-wrapped"},
		{"rotate again", []string{"rotate-key", "--store", encDir, "--old-key-file", oldFile, "--new-key-file", newFile}, "", 0, "already under the new key"},
		{"old key after rotate", []string{"--store", encDir, "--key-file", oldFile}, "", 1, "does not open it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(kekEnv, tc.env)
			args := tc.args
			if args[0] != "rotate-key" {
				args = append(args, "--socket", sock)
			}
			code, out := runVmrepd(t, args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("vmrepd %v: exit %d, %q; want exit %d and %q", tc.args, code, out, tc.code, tc.want)
			}
			if tc.code != 0 && strings.Count(strings.TrimSpace(out), "\n") > 0 {
				t.Fatalf("vmrepd %v: more than one line: %q", tc.args, out)
			}
		})
	}
	s, err := cas.Open(ctx, encDir, cas.Options{KEK: mustReadKey(t, newFile)})
	if err != nil {
		t.Fatalf("the new key does not open the rotated store: %v", err)
	}
	s.Close()
}

func mustReadKey(t *testing.T, p string) []byte {
	t.Helper()
	k, err := readKeyFile("--key-file", p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
