package stackgen

import (
	"bytes"
	"context"
	"errors"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/tofutest"
)

// tofuBin finds the tofu that scripts/install-tofu.sh installs. Without it
// the test skips, except in CI where it must be there.
func tofuBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("tofu"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "tofu")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("tofu not found in PATH or GOPATH/bin; run scripts/install-tofu.sh (make deps)")
	}
	t.Skip("tofu not installed; run scripts/install-tofu.sh (make deps)")
	return ""
}

// tofu runs one tofu command in dir, offline, with a CLI config that
// installs the vmrep provider from a local mirror.
func tofu(t *testing.T, bin, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-chdir=" + dir}, args...)...)
	cfg := tofutest.WriteCLIConfig(t)
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+cfg, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustTofu(t *testing.T, bin, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := tofu(t, bin, dir, env, args...)
	if err != nil {
		t.Fatalf("tofu %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return out
}

// TestTofuValidateLocal runs `tofu init -backend=false && tofu validate` on
// every generated local stack.
func TestTofuValidateLocal(t *testing.T) {
	bin := tofuBin(t)
	for _, tc := range goldenCases {
		if tc.target != TargetLocal {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Write(dir, tc.plan(), tc.target); err != nil {
				t.Fatal(err)
			}
			mustTofu(t, bin, dir, nil, "init", "-backend=false", "-input=false", "-no-color")
			mustTofu(t, bin, dir, nil, "validate", "-no-color")
		})
	}
}

// fakeVMRep is a stand-in vmrep that logs its arguments one per line, a
// blank line after each call, and refuses when the replica holds a file
// named "refuse", printing that file as its error. Otherwise it creates
// the volume's file (its last argument) and copies $FAKE_VMREP_STATE, when
// set, to the replica's state.json, as the real vmrep would leave them.
const fakeVMRep = `#!/bin/sh
for a in "$@"; do printf '%s\n' "$a" >> "$FAKE_VMREP_LOG"; done
printf '\n' >> "$FAKE_VMREP_LOG"
replica=""
prev=""
for a in "$@"; do
	case "$prev" in --dir|--replica) replica="$a" ;; esac
	prev="$a"
done
if [ -n "$replica" ] && [ -f "$replica/refuse" ]; then
	cat "$replica/refuse" >&2
	exit 1
fi
mkdir -p "$replica"
for vol in "$@"; do :; done
: >> "$replica/$vol.img"
if [ -n "$FAKE_VMREP_STATE" ]; then cp "$FAKE_VMREP_STATE" "$replica/state.json"; fi
`

func readCalls(t *testing.T, log string) [][]string {
	t.Helper()
	raw, err := os.ReadFile(log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var calls [][]string
	for _, c := range strings.Split(strings.TrimSuffix(string(raw), "\n\n"), "\n\n") {
		if c != "" {
			calls = append(calls, strings.Split(c, "\n"))
		}
	}
	return calls
}

func wantCalls(t *testing.T, got [][]string, want ...[]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("vmrep calls = %q, want %q", got, want)
	}
	for i := range want {
		if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
			t.Fatalf("vmrep call %d = %q, want %q", i, got[i], want[i])
		}
	}
}
