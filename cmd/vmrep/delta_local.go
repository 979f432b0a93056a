package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/internal/apiconv"
)

// The target side of a delta needs no store: show, apply and verify of a
// replica run in this process, with the engine's own code and checks,
// when asked (--local), when no daemon answers on the socket, and always
// for a stream (`delta apply -`). doc/design.md, "Daemonless target side".

// inProcess says whether a target-side command runs here: --local, or no
// daemon answering on the socket (none there, or one a dead daemon left).
func (a *app) inProcess(local bool) bool {
	if local {
		return true
	}
	if _, err := os.Stat(a.socket); err != nil {
		return true
	}
	c, err := net.DialTimeout("unix", a.socket, 2*time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// localVerify maps --verify for an in-process apply, which has no store
// to check a whole replica against.
func localVerify(v string) (replica.Verify, error) {
	switch v {
	case "", api.VerifyNone:
		return replica.VerifyNone, nil
	case api.VerifyExtents:
		return replica.VerifyExtents, nil
	}
	return 0, usagef("--verify %s needs the store's chunks, which only vmrepd has; use --verify extents here, and vmrep replica verify", v)
}

// applyLocal applies a delta file, or the stream on stdin ("-"), to the
// replica in dir in this process.
func (a *app) applyLocal(ctx context.Context, stdin io.Reader, src, dir, vol, verify string) error {
	ver, err := localVerify(verify)
	if err != nil {
		return err
	}
	opts := replica.ApplyOptions{Volume: vol, Verify: ver}
	var sum delta.Summary
	if src == "-" {
		if f, ok := stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				return usagef("delta apply - reads a delta stream from stdin, which is a terminal; pipe vmrep delta export ... -o - into it")
			}
		}
		sum, err = replica.Receive(ctx, stdin, dir, replica.ReceiveOptions{Apply: opts})
		var ie *replica.InterruptedError
		if errors.As(err, &ie) {
			return resumeHint(ie, dir)
		}
		src = "stdin"
	} else {
		var rd *delta.Reader
		if rd, err = delta.Open(ctx, src); err == nil {
			sum, err = replica.Apply(ctx, rd, dir, opts)
		}
	}
	if err != nil {
		return err
	}
	st, err := replica.ReadState(ctx, dir)
	if err != nil {
		return err
	}
	r := api.DeltaApplyResult{Delta: src, Summary: apiconv.Summary(sum), Replica: apiconv.Replica(dir, st)}
	if a.json {
		return a.emit(r)
	}
	fmt.Fprintf(a.stdout, "applied %s to %s: %d volumes, %d records written, %d already at the target\n",
		r.Delta, r.Replica.Dir, r.Summary.Volumes, r.Summary.Written, r.Summary.Skipped)
	if ver != replica.VerifyNone {
		fmt.Fprintf(a.stdout, "verified %d volumes (%s)\n", r.Summary.Verified, verify)
	}
	return a.printReplica(r.Replica)
}

// resumeHint turns a cut stream into the one line that says how to send
// the rest.
func resumeHint(ie *replica.InterruptedError, dir string) error {
	h := ie.Header
	why := ie.Err.Error()
	if errors.Is(ie.Err, delta.ErrTruncated) {
		why = "it ended before its trailer"
	}
	return fmt.Errorf("delta stream interrupted at byte %d (%s); the replica is unchanged and the bytes received are kept; resume with: vmrep delta export %s@%d %s@%d --resume %s -o - | vmrep delta apply - --replica %s",
		ie.Token.Offset, why, h.VGName, h.Base.Seq, h.VGName, h.Target.Seq, ie.Token, quoteArg(dir))
}

func quoteArg(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-@+=:,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// showLocal opens a delta here (every checksum checked) and sums up its
// records per volume, as the daemon's show does.
func showLocal(ctx context.Context, path string) (api.DeltaInfo, error) {
	rd, err := delta.Open(ctx, path)
	if err != nil {
		return api.DeltaInfo{}, err
	}
	return apiconv.DeltaInfo(ctx, rd, path)
}

// verifyLocal verifies the replica in dir in this process, by chunking
// every volume again (replica.Rechunk, as vmrepd does for a snapshot its
// store no longer has).
func (a *app) verifyLocal(ctx context.Context, dir string) error {
	st, checks, err := replica.VerifyReplica(ctx, dir, replica.VerifyReplicaOptions{Rechunk: replica.Rechunk})
	if err != nil {
		return err
	}
	res, bad := apiconv.Verify(dir, st, checks)
	if a.json {
		err = a.emit(res)
	} else {
		err = a.printReplicaChecks(res)
	}
	if err == nil && len(bad) > 0 {
		err = fmt.Errorf("replica %s: %d of %d volumes differ from what %s names; first: volume %q: %s",
			dir, len(bad), len(checks), replica.StateName, bad[0].Name, bad[0].Problem)
	}
	return err
}
