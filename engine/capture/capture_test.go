package capture_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/capture"
	"github.com/vmrep/vmrep/engine/volume"
)

func TestRunHookOrder(t *testing.T) {
	tests := []struct {
		name      string
		pre, post string
		readErr   error
		wantRead  bool
		wantErr   error  // errors.Is target, nil: none
		wantTrail string // what the hooks and read wrote to the trail, in order
	}{
		{"both succeed", "echo pre >>$TRAIL", "echo post >>$TRAIL", nil, true, nil, "pre read post"},
		{"pre fails: no read, post runs", "echo pre >>$TRAIL; exit 3", "echo post >>$TRAIL", nil, false, capture.ErrPreHook, "pre post"},
		{"read fails: post runs", "echo pre >>$TRAIL", "echo post >>$TRAIL", errReadFailed, true, errReadFailed, "pre read post"},
		{"only post", "", "echo post >>$TRAIL", nil, true, nil, "read post"},
		{"env", `echo "$VMREP_VG $VMREP_VG_ID $VMREP_SNAPSHOT_PHASE $VMREP_VOLUMES" >>$TRAIL`, `echo "$VMREP_SNAPSHOT_PHASE" >>$TRAIL`, nil, true, nil, "web vg-1 pre /a /b read post"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trail := filepath.Join(t.TempDir(), "trail")
			t.Setenv("TRAIL", trail)
			var lines []string
			p := capture.Plan{VG: "web", VGID: "vg-1", Sources: []string{"/a", "/b"},
				Hooks: &volume.Hooks{Pre: tt.pre, Post: tt.post, Timeout: volume.Duration(10 * time.Second)},
				Log:   func(l string) { lines = append(lines, l) }}
			read := false
			err := capture.Run(context.Background(), p, func(ctx context.Context, paths []string) error {
				read = true
				if strings.Join(paths, " ") != "/a /b" {
					t.Errorf("read paths %q", paths)
				}
				appendFile(t, trail, "read\n")
				return tt.readErr
			})
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run: %v, want %v", err, tt.wantErr)
			}
			if read != tt.wantRead {
				t.Errorf("read called %v, want %v", read, tt.wantRead)
			}
			b, _ := os.ReadFile(trail)
			if got := strings.Join(strings.Fields(string(b)), " "); got != tt.wantTrail {
				t.Errorf("trail %q, want %q", got, tt.wantTrail)
			}
			if tt.pre != "" && len(lines) == 0 {
				t.Errorf("no log lines")
			}
		})
	}
}

var errReadFailed = errors.New("read failed")

func appendFile(t *testing.T, name, s string) {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Close()
}

// A hook past its timeout dies with the children it started, and the post
// hook still runs.
func TestHookTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	postMark := filepath.Join(dir, "post")
	p := capture.Plan{VG: "web", Hooks: &volume.Hooks{
		Pre:     "sleep 300 & echo $! >" + pidFile + "; wait",
		Post:    "touch " + postMark,
		Timeout: volume.Duration(500 * time.Millisecond),
	}}
	err := capture.Run(context.Background(), p, func(context.Context, []string) error {
		t.Error("read ran after a failed pre hook")
		return nil
	})
	var he *capture.HookError
	if !errors.As(err, &he) || !he.TimedOut || he.Phase != capture.PhasePre {
		t.Fatalf("Run: %v, want a timed-out pre HookError", err)
	}
	if _, err := os.Stat(postMark); err != nil {
		t.Errorf("post hook did not run: %v", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// The killed child may linger as a zombie of init for a moment.
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		t.Errorf("hook child %d survived the timeout", pid)
	}
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}

func TestHookOutputBounded(t *testing.T) {
	out, err := capture.RunHook(context.Background(), capture.PhasePre, "head -c 1000000 /dev/zero | tr '\\0' x; echo; echo fail >&2; exit 1", 10*time.Second, capture.HookEnv{})
	if err == nil {
		t.Fatal("RunHook: no error for exit 1")
	}
	if len(out) > capture.MaxHookOutput+200 {
		t.Errorf("kept %d bytes of output, bound %d", len(out), capture.MaxHookOutput)
	}
	if !strings.Contains(out, "dropped") {
		t.Errorf("output does not say bytes were dropped")
	}
}

func TestCanceledRunStillThaws(t *testing.T) {
	postMark := filepath.Join(t.TempDir(), "post")
	ctx, cancel := context.WithCancel(context.Background())
	p := capture.Plan{VG: "web", Hooks: &volume.Hooks{Pre: "true", Post: "touch " + postMark}}
	err := capture.Run(ctx, p, func(ctx context.Context, _ []string) error {
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want canceled", err)
	}
	if _, err := os.Stat(postMark); err != nil {
		t.Errorf("post hook did not run after cancel: %v", err)
	}
}
