package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Phase says which hook runs.
type Phase string

const (
	PhasePre  Phase = "pre"
	PhasePost Phase = "post"
)

// MaxHookOutput bounds how much of a hook's output is kept; the rest is
// counted and dropped, so a chatty hook cannot grow the daemon's memory.
const MaxHookOutput = 16 << 10

// HookEnv is what a hook learns of the capture through its environment.
type HookEnv struct {
	VG      string   // VMREP_VG
	VGID    string   // VMREP_VG_ID
	Volumes []string // VMREP_VOLUMES, space separated source paths
}

// HookError is returned when a hook fails, times out or cannot start.
type HookError struct {
	Phase    Phase
	Command  string
	TimedOut bool
	Timeout  time.Duration
	Output   string // the kept head of its output
	Err      error
}

func (e *HookError) Error() string {
	what := fmt.Sprintf("%s-snapshot hook %q", e.Phase, e.Command)
	if e.TimedOut {
		return fmt.Sprintf("%s: killed after its timeout of %v", what, e.Timeout)
	}
	out := strings.TrimSpace(e.Output)
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if out != "" {
		return fmt.Sprintf("%s: %v: %s", what, e.Err, out)
	}
	return fmt.Sprintf("%s: %v", what, e.Err)
}

func (e *HookError) Unwrap() error { return e.Err }

// RunHook runs command with sh -c, its environment describing the capture,
// and returns its bounded combined output. On timeout or cancellation its
// whole process group is killed, so children it started die with it.
func RunHook(ctx context.Context, phase Phase, command string, timeout time.Duration, env HookEnv) (string, error) {
	if timeout <= 0 {
		return "", fmt.Errorf("%s-snapshot hook %q: timeout %v", phase, command, timeout)
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, "sh", "-c", command)
	cmd.Env = append(os.Environ(),
		"VMREP_VG="+env.VG,
		"VMREP_VG_ID="+env.VGID,
		"VMREP_SNAPSHOT_PHASE="+string(phase),
		"VMREP_VOLUMES="+strings.Join(env.Volumes, " "),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The negative pid names the group the hook leads.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A grandchild that keeps the output pipe open must not hold Wait
	// forever once the group has been killed.
	cmd.WaitDelay = 2 * time.Second
	out := &boundedBuffer{limit: MaxHookOutput}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	if err == nil {
		return out.String(), nil
	}
	he := &HookError{Phase: phase, Command: command, Output: out.String(), Err: err, Timeout: timeout}
	if errors.Is(hctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		he.TimedOut = true
	} else if ctx.Err() != nil {
		he.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return he.Output, he
}

// boundedBuffer keeps the first limit bytes written to it and counts the rest.
type boundedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	limit   int
	dropped int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.limit - b.buf.Len()
	if room >= len(p) {
		return b.buf.Write(p)
	}
	if room > 0 {
		b.buf.Write(p[:room])
	}
	b.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("%s\n[%d more bytes of output dropped]\n", b.buf.String(), b.dropped)
	}
	return b.buf.String()
}
