package launch

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// CheckResult is one command run in the guest through its agent.
type CheckResult struct {
	Command  string `json:"command"`
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr,omitempty"`
}

// ErrNoAgent is returned when the guest agent does not answer in time.
var ErrNoAgent = errors.New("launch: the guest agent did not answer (is qemu-guest-agent installed and running in the guest?)")

// agent is a connection to qemu-guest-agent through the VM's
// virtio-serial port.
type agent struct{ *jsonConn }

// dialAgent connects and syncs with the agent, retrying until ctx ends:
// QEMU accepts the connection long before the agent in the guest reads.
func dialAgent(ctx context.Context, path string) (*agent, error) {
	for {
		j, err := dialJSON(ctx, path)
		if err == nil {
			id := rand.Int64N(1 << 40)
			var got int64
			err = j.call(time.Now().Add(3*time.Second), "guest-sync", map[string]any{"id": id}, &got)
			if err == nil && got == id {
				return &agent{j}, nil
			}
			j.Close()
		}
		select {
		case <-ctx.Done():
			return nil, ErrNoAgent
		case <-time.After(time.Second):
		}
	}
}

// exec runs sh -c cmd in the guest and waits for it to exit.
func (a *agent) exec(ctx context.Context, cmd string) (CheckResult, error) {
	res := CheckResult{Command: cmd}
	var started struct {
		PID int `json:"pid"`
	}
	args := map[string]any{"path": "/bin/sh", "arg": []string{"-c", cmd}, "capture-output": true}
	if err := a.call(time.Now().Add(10*time.Second), "guest-exec", args, &started); err != nil {
		return res, err
	}
	for {
		var st struct {
			Exited   bool   `json:"exited"`
			ExitCode int    `json:"exitcode"`
			Signal   int    `json:"signal"`
			OutData  string `json:"out-data"`
			ErrData  string `json:"err-data"`
		}
		if err := a.call(time.Now().Add(10*time.Second), "guest-exec-status", map[string]any{"pid": started.PID}, &st); err != nil {
			return res, err
		}
		if st.Exited {
			out, err1 := base64.StdEncoding.DecodeString(st.OutData)
			errOut, err2 := base64.StdEncoding.DecodeString(st.ErrData)
			if err := errors.Join(err1, err2); err != nil {
				return res, fmt.Errorf("guest-exec-status: output: %w", err)
			}
			res.ExitCode, res.Stdout, res.Stderr = st.ExitCode, string(out), string(errOut)
			if st.Signal != 0 {
				res.ExitCode = 128 + st.Signal
			}
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
